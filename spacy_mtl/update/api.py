"""update_pipeline(): continue training a trained pipeline on new documents, without forgetting.

The steps: check OUT and every corpus against the pipeline; store the old
pipeline's predictions on the new and replayed documents as soft targets
(targets.py); grow the heads for the new labels (growth.py); train with
spaCy's own loop on the pipeline's own config (loop.py); write OUT atomically.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ..pipeline.ner import MultiTaskEntityRecognizer
from ..pipeline.textcat import MultiTaskTextCategorizer
from .corpus import UpdateError, annotated_tasks, corpus_labels, read_corpus, replay_sample
from .growth import check_label_case, grow_ner, grow_textcat
from .loop import evaluate, train_update
from .output import check_output_folder, write_pipeline
from .prior import adjust_prior, prior_shift
from .targets import add_update_targets, count_targets

# Defaults chosen on ATIS cut by intents (benchmarks/bench_update.py).
DEFAULT_STEPS = 400
DEFAULT_REPLAY_SHARE = 0.5
DEFAULT_DISTILL_WEIGHT = 0.5


@dataclass
class UpdateSettings:
    """How `update` trains.

    steps (int): Training steps.
    replay_share (float): The replayed old documents' share of the update's
        training documents, in [0, 1) (used with a replay corpus).
    distill_weight (float): The share of each head's loss taken from the old
        pipeline's predictions, in [0, 1]; 0 is plain fine-tuning.
    learn_rate (Optional[float]): The learning rate; None: loop.DEFAULT_LEARN_RATE_SCALE
        times the pipeline's own (a schedule stays as it is).
    seed (int): Seeds the replay sample and spaCy's training loop.
    prior_correction (bool): Afterwards, move an exclusive classifier's prior from the
        update's sampling to the old and new data's (prior.py; needs a replay corpus).
    """

    steps: int = DEFAULT_STEPS
    replay_share: float = DEFAULT_REPLAY_SHARE
    distill_weight: float = DEFAULT_DISTILL_WEIGHT
    learn_rate: Optional[float] = None
    seed: int = 0
    prior_correction: bool = True

    def check(self) -> None:
        if self.steps < 1:
            raise UpdateError(f"--steps must be at least 1, not {self.steps}.")
        if not 0.0 <= self.replay_share < 1.0:
            raise UpdateError(f"--replay-share must lie in [0, 1), not {self.replay_share}.")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise UpdateError(f"--distill-weight must lie in [0, 1], not {self.distill_weight}.")
        if self.learn_rate is not None and not self.learn_rate > 0:
            raise UpdateError(f"--learn-rate must be positive, not {self.learn_rate}.")


@dataclass
class UpdateSummary:
    """What an update did: documents, labels added per head, scores, time."""

    n_new: int
    n_replay: int
    added: Dict[str, List[str]]
    targets: Dict[str, int]
    scores_before: Optional[Dict[str, float]] = None
    scores_after: Optional[Dict[str, float]] = None
    seconds: float = 0.0
    output: str = ""
    prior_shift: Dict[str, float] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)


def load_heads(pipeline: str) -> Language:
    """Load the pipeline; refuse one without spacy-mtl's heads."""
    try:
        nlp = spacy.load(pipeline)
    except (OSError, ValueError) as err:
        raise UpdateError(
            f"Cannot load the pipeline {pipeline!r}: give the folder of a trained pipeline or an "
            f"installed package name. ({err})"
        ) from None
    if not heads_of(nlp):
        raise UpdateError(
            f"{pipeline}: has no mtl_textcat or mtl_ner component (its components: "
            f"{nlp.pipe_names}); update continues the training of spacy-mtl pipelines only."
        )
    return nlp


def heads_of(nlp: Language) -> Dict[str, object]:
    """The pipeline's classifier and recogniser, under "cats" and "ents"; one of each at most."""
    heads: Dict[str, object] = {}
    for _name, pipe in nlp.pipeline:
        task = "cats" if isinstance(pipe, MultiTaskTextCategorizer) else None
        task = "ents" if isinstance(pipe, MultiTaskEntityRecognizer) else task
        if task is None:
            continue
        if task in heads:
            raise UpdateError(
                f"The pipeline has two {'mtl_textcat' if task == 'cats' else 'mtl_ner'} "
                f"components; update grows one of each."
            )
        heads[task] = pipe
    return heads


def plan_labels(nlp: Language, docs: List[Doc], where: str) -> Dict[str, List[str]]:
    """Each head's grown labels, old ones first; refuse a task the pipeline has no head for."""
    heads = heads_of(nlp)
    found = corpus_labels(docs)
    missing = sorted(annotated_tasks(docs) - set(heads))
    if missing:
        noun = {"cats": "categories (mtl_textcat)", "ents": "entities (mtl_ner)"}
        raise UpdateError(
            f"{where}: annotates {', '.join(noun[t] for t in missing)}, which the pipeline has "
            f"no component for (its components: {nlp.pipe_names})."
        )
    grown = {}
    for task, head in heads.items():
        old = list(head.labels)
        new = [label for label in found[task] if label not in old]
        check_label_case(old, new, head.name, where)
        grown[task] = old + new
    if "cats" in heads and heads["cats"].cfg["exclusive_classes"] and len(grown["cats"]) < 2:
        raise UpdateError(f"{where}: an exclusive classifier needs two labels.")
    return grown


def update_pipeline(
    pipeline: Union[str, Path],
    new_path: Union[str, Path],
    output: Union[str, Path],
    *,
    dev_path: Optional[Union[str, Path]] = None,
    replay_path: Optional[Union[str, Path]] = None,
    settings: Optional[UpdateSettings] = None,
    log=None,
) -> UpdateSummary:
    """Continue training PIPELINE on NEW, growing its heads for new labels; write OUT.

    pipeline (Union[str, Path]): A trained pipeline's folder or package name.
    new_path (Union[str, Path]): The new documents, a .spacy corpus.
    output (Union[str, Path]): The folder to write the updated pipeline to.
    dev_path (Optional[Union[str, Path]]): A .spacy corpus to score before and after.
    replay_path (Optional[Union[str, Path]]): Old training documents to replay.
    settings (Optional[UpdateSettings]): Steps, replay share, distillation, seed.
    log (Optional[IO]): Where spaCy's training table goes; None for nowhere.
    RETURNS (UpdateSummary): What was done.
    """
    start = time.process_time()
    settings = settings or UpdateSettings()
    settings.check()
    output = Path(output)
    check_output_folder(output, str(pipeline))
    nlp = load_heads(str(pipeline))
    new_docs = read_corpus(Path(new_path), nlp, "NEW")
    old_docs = read_corpus(Path(replay_path), nlp, "--replay") if replay_path else []
    dev_docs = read_corpus(Path(dev_path), nlp, "--dev") if dev_path else []
    replayed = replay_sample(old_docs, len(new_docs), settings.replay_share, settings.seed)
    train_docs = new_docs + replayed
    grown = plan_labels(nlp, train_docs, str(new_path))
    distilled = _distilled_labels(nlp, grown, settings.distill_weight)
    add_update_targets(nlp, train_docs, distilled.get("cats"), distilled.get("ents"))
    summary = UpdateSummary(len(new_docs), len(replayed), {}, count_targets(train_docs))
    summary.scores_before = evaluate(nlp, dev_docs) if dev_docs else None
    summary.added = grow_heads(nlp, grown)
    train_update(nlp, train_docs, dev_docs or new_docs[:100], settings, log=log)
    cats = heads_of(nlp).get("cats")
    if settings.prior_correction and old_docs and cats and cats.cfg["exclusive_classes"]:
        summary.prior_shift = prior_shift(list(cats.labels), train_docs, old_docs + new_docs)
        adjust_prior(cats, summary.prior_shift)
    summary.scores_after = evaluate(nlp, dev_docs) if dev_docs else None
    write_pipeline(nlp, output)
    summary.output = str(output)
    summary.seconds = time.process_time() - start
    return summary


def _distilled_labels(nlp: Language, grown: Dict[str, List[str]], weight: float) -> Dict:
    """The grown labels of the heads that learn from the old pipeline's predictions."""
    if not weight:
        return {}
    heads = heads_of(nlp)
    distilled = dict(grown)
    if "cats" in heads and not heads["cats"].cfg["exclusive_classes"]:
        distilled.pop("cats")  # the classifier distills exclusive classes only
    return distilled


def grow_heads(nlp: Language, grown: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """Grow each head to its planned labels. RETURNS: the labels added, by component."""
    heads = heads_of(nlp)
    added = {}
    context = None
    if "cats" in heads:
        added[heads["cats"].name] = grow_textcat(heads["cats"], grown["cats"])
        context = list(heads["cats"].labels)
    if "ents" in heads:
        ner = heads["ents"]
        if ner.model.attrs.get("context") and "cats" not in heads:
            context = None
        added[ner.name] = grow_ner(ner, grown["ents"], context)
    return added
