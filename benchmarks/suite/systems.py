"""The systems of the benchmark, its metrics, and the targets and published numbers they face.

Apart from the code that runs them, so that a new system or target is one edit in one place and
the runner, the worker and the report all read the same table.
"""

import argparse
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

CATS = "cats"
ENTS = "ents"
# The language of each dataset that is not English: every system trains a pipeline of that
# language, with the tokenizer spaCy's default config gives it (benchmarks/prepare_chinese.py
# writes the Chinese sets one character per token, the tokens of spaCy's character segmenter).
DATASET_LANGS = {"smp2019": "zh", "cais": "zh"}
JOINT = "joint"
FULL = "full"
SEPARATE = "separate"
SETTINGS = (FULL, SEPARATE)
SPLIT_TRAIN, SPLIT_DEV, SPLIT_TEST = "train", "valid", "test"
# The task of spacy_mtl's heads, for their [initialize.components] labels.

# The metrics of the tables, as (key, title); values are percentages.
METRICS = (
    ("intent_acc", "intent acc"),
    ("slot_f1", "slot F1"),
    ("sentence_acc", "sentence acc"),
)
# Dev-score keys for the curves, first found wins: spacy_mtl's scorers report cats_acc;
# stock spaCy's exclusive textcat (threshold 0) reports cats_micro_f, which equals the
# accuracy over the documents whose gold label the model knows.
CURVE_KEYS = {
    "intent": ("cats_acc", "cats_micro_f"),
    "slot F1": ("ents_f",),
    "sentence": ("joint_sentence_acc",),
}


def balancer(name: str, **settings: Any) -> Dict[str, Any]:
    """The config patch that gives spacy_mtl's shared encoder another balancer.

    name (str): The registered balancer, e.g. "spacy_mtl.pcgrad.v1".
    settings: Its arguments; config variables such as "${system.seed}" are allowed.
    RETURNS (Dict[str, Any]): {dotted config path: value}.
    """
    return {"components.tok2vec.balancer": {"@misc": name, **settings}}


@dataclass(frozen=True)
class System:
    """One system of the benchmark.

    name (str): Short identifier, used in folder names and on the command line.
    title (str): Its name in the tables and charts.
    family (str): "stock" (stock spaCy components) or "mtl" (spacy_mtl).
    configs (Dict[str, str]): The config of each pipeline to train, relative to the
        repository: {JOINT: path} for one pipeline with both heads, or
        {CATS: path, ENTS: path} for two single-task pipelines run one after the other.
        Paths under configs/ come from the code snapshot, under benchmarks/ from here.
    patches (Dict[str, Any]): Config values to set in every config of the system,
        by dotted path (a dict replaces a whole section).
    transformer (bool): Trains with --transformer-steps and needs the MiniLM weights.
    teacher (Optional[str]): The system whose seed-0 model annotates the training split
        (`python -m spacy_mtl distill-targets`) before this one trains on it; full
        annotation only.
    """

    name: str
    title: str
    family: str
    configs: Dict[str, str]
    patches: Dict[str, Any] = field(default_factory=dict)
    transformer: bool = False
    teacher: Optional[str] = None

    @property
    def is_joint(self) -> bool:
        return JOINT in self.configs


# The systems, in table order. A new task-balancing strategy is one more line here.
# The encoder of configs/bilstm.cfg (spaCy's own BiLSTM, on CPU; chosen on ATIS's valid split,
# where it lifted slot F from 94.5 to 97.4 at 2000 steps), given to stock spaCy as well.
BILSTM_ENCODER = {
    "components.tok2vec.model.encode": {
        "@architectures": "spacy.TorchBiLSTMEncoder.v1",
        "width": 128,
        "depth": 2,
        "dropout": 0.1,
    }
}
# Warm-up and linear decay for the BiLSTM, ending at step 4000: run it with --steps 4000.
LR_SCHEDULE = {
    "training.optimizer.learn_rate": {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": 300,
        "total_steps": 4000,
        "initial_rate": 0.002,
    }
}
# Distillation settings of both heads; the targets come from the system's teacher.
DISTILL = {
    f"components.{head}.{setting}": value
    for head in ("textcat", "ner")
    for setting, value in (("distill_weight", 0.5), ("distill_temperature", 2.0))
}
SYSTEMS = [
    System(
        "stock_joint", "stock spaCy joint", "stock", {JOINT: "benchmarks/configs/stock_joint.cfg"}
    ),
    System(
        "stock_single",
        "stock spaCy single-task x2",
        "stock",
        {CATS: "benchmarks/configs/stock_textcat.cfg", ENTS: "benchmarks/configs/stock_ner.cfg"},
    ),
    System("mtl_joint", "spacy_mtl joint (sum)", "mtl", {JOINT: "configs/cnn.cfg"}),
    System(
        "mtl_single",
        "spacy_mtl single-task x2",
        "mtl",
        {CATS: "configs/single_textcat.cfg", ENTS: "configs/single_ner.cfg"},
    ),
    System(
        "mtl_pcgrad",
        "spacy_mtl joint (PCGrad)",
        "mtl",
        {JOINT: "configs/cnn.cfg"},
        balancer("spacy_mtl.pcgrad.v1", seed="${system.seed}"),
    ),
    System(
        "mtl_uncertainty",
        "spacy_mtl joint (uncertainty)",
        "mtl",
        {JOINT: "configs/cnn.cfg"},
        balancer("spacy_mtl.uncertainty_weights.v1"),
    ),
    System(
        "stock_bilstm",
        "stock spaCy joint, BiLSTM",
        "stock",
        {JOINT: "benchmarks/configs/stock_joint.cfg"},
        BILSTM_ENCODER,
    ),
    System("mtl_bilstm", "spacy_mtl joint, BiLSTM", "mtl", {JOINT: "configs/bilstm.cfg"}),
    # spaCy's loop settings: the encoder must take one step per training step.
    System(
        "mtl_accum2",
        "spacy_mtl joint, accumulate_gradient 2",
        "mtl",
        {JOINT: "configs/cnn.cfg"},
        {"training.accumulate_gradient": 2},
    ),
    # Information passing: the slots conditioned on the predicted intent distribution.
    System(
        "mtl_context",
        "spacy_mtl joint, intent context",
        "mtl",
        {JOINT: "configs/cnn.cfg"},
        {
            "components.ner.model.context": "textcat",
            "training.annotating_components": ["textcat"],
        },
    ),
    # A learning-rate schedule for the BiLSTM (LR_SCHEDULE): chosen on the valid splits (seed 0)
    # over the plain 2000 steps at 0.001, character features, intent context and label smoothing
    # (see benchmarks/README.md, "Accuracy levers").
    System(
        "mtl_bilstm_lr",
        "spacy_mtl joint, BiLSTM, warmup + linear decay",
        "mtl",
        {JOINT: "configs/bilstm.cfg"},
        LR_SCHEDULE,
    ),
    # The same with Adam's parameter averages (spaCy evaluates and saves the averaged weights):
    # a lever tried for SNIPS intents and not kept (3 seeds on valid: within the spread of the
    # schedule alone; benchmarks/README.md, "Accuracy levers").
    System(
        "mtl_bilstm_lr_avg",
        "spacy_mtl joint, BiLSTM, warmup + linear decay, averaged weights",
        "mtl",
        {JOINT: "configs/bilstm.cfg"},
        {**LR_SCHEDULE, "training.optimizer.use_averages": True},
    ),
    # The schedule, distilled from the MiniLM system's seed-0 model (DISTILL): its intent
    # probabilities and CRF marginals on the training split, at temperature 2, half of each
    # head's loss. Chosen on SNIPS's valid split (benchmarks/README.md, "Accuracy levers").
    System(
        "mtl_bilstm_lr_kd",
        "spacy_mtl joint, BiLSTM, warmup + linear decay, distilled from MiniLM",
        "mtl",
        {JOINT: "configs/bilstm.cfg"},
        {**LR_SCHEDULE, **DISTILL},
        teacher="mtl_transformer",
    ),
    System(
        "mtl_transformer",
        "spacy_mtl joint, MiniLM-L6",
        "mtl",
        {JOINT: "configs/transformer.cfg"},
        transformer=True,
    ),
]
SYSTEMS_BY_NAME = {system.name: system for system in SYSTEMS}
# The speed comparison: the shared pipeline, the same heads as two pipelines, stock joint.
SPEED_SHARED, SPEED_PAIR, SPEED_STOCK = "mtl_joint", "mtl_single", "stock_joint"
# The shared pipeline with its heads disabled: what the heads cost on top of the encoder.
SPEED_ENCODER = "mtl_joint_encoder"
SPEED_ENCODER_TITLE = "spacy_mtl shared CNN, encoder alone"

# Targets of the issue, as (dataset, setting, system, {metric: minimum}, source).
JOINTBERT = {
    "atis": {"intent_acc": 97.5, "slot_f1": 96.1, "sentence_acc": 88.2},
    "snips": {"intent_acc": 98.6, "slot_f1": 97.0, "sentence_acc": 92.8},
}
# The CPU targets were set for the CNN; the BiLSTM encoder is held to the same.
CPU_TARGETS = {
    "atis": {"intent_acc": 97.0, "slot_f1": 95.0, "sentence_acc": 86.0},
    "snips": {"intent_acc": 98.0, "slot_f1": 93.0, "sentence_acc": 85.0},
}
TARGETS = [
    *(
        (dataset, FULL, system, CPU_TARGETS[dataset], "CPU target")
        for system in ("mtl_joint", "mtl_bilstm")
        for dataset in CPU_TARGETS
    ),
    *(
        (dataset, FULL, "mtl_transformer", JOINTBERT[dataset], "JointBERT (BERT-base)")
        for dataset in JOINTBERT
    ),
]
SEPARATE_TOLERANCE = 1.5
# Minimum words/s of the shared pipeline over each other, and its maximum cost over its encoder.
SPEED_RATIO_TARGETS = {SPEED_PAIR: 1.8, SPEED_STOCK: 2.0, SPEED_ENCODER: 0.8}
ANCHORS = [
    ("stock spaCy 3.8 shared CNN, 2000 steps (24 min here)", "atis", 93.84, 93.59, 78.61),
    ("JointBERT (BERT-base)", "atis", 97.5, 96.1, 88.2),
    ("JointBERT (BERT-base)", "snips", 98.6, 97.0, 92.8),
    ("Slot-Gated", "atis", 94.1, 95.2, 82.6),
]


def steps_of(args: argparse.Namespace, system: System) -> int:
    return args.transformer_steps if system.transformer else args.steps
