"""update_pipeline(): continue training a trained pipeline on new documents, without forgetting.

The steps: check OUT and every corpus against the pipeline; store the old
pipeline's predictions on the new and replayed documents as soft targets
(targets.py); grow the heads for the new labels (growth.py); train with
spaCy's own loop on the pipeline's own config (loop.py); write OUT whole or
not at all (atomic.replace_folder), holding OUT's lock for the whole run.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Union

import spacy
import spacy.util
from spacy.language import Language
from spacy.tokens import Doc

from ..atomic import check_output_folder, is_pipeline_folder, output_lock, replace_folder
from ..pipeline.ner import MultiTaskEntityRecognizer
from ..pipeline.textcat import MultiTaskTextCategorizer
from .corpus import UpdateError, check_gold, corpus_labels, read_corpus, replay_sample
from .growth import check_label_case, grow_ner, grow_textcat
from .loop import evaluate, scratch_folder, train_update
from .prior import adjust_prior, prior_shift
from .settings import UpdateSettings
from .targets import add_update_targets, count_targets


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
    """Each head's grown labels, old ones first (the corpora were checked by check_gold)."""
    heads = heads_of(nlp)
    found = corpus_labels(docs)
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

    Every setting, OUT and the corpora are checked before training; OUT is
    written whole or not at all, and only after training succeeded. OUT's lock
    (OUT.lock) is held for the whole run, so a second run on OUT is refused.

    pipeline (Union[str, Path]): A trained pipeline's folder or package name.
    new_path (Union[str, Path]): The new documents, a .spacy corpus.
    output (Union[str, Path]): The folder to write the updated pipeline to: absent, empty,
        or a pipeline folder (replaced); never PIPELINE, inside it, or holding an input.
    dev_path (Optional[Union[str, Path]]): A .spacy corpus to score before and after.
    replay_path (Optional[Union[str, Path]]): Old training documents to replay.
    settings (Optional[UpdateSettings]): Steps, replay share, distillation, seed.
    log (Optional[IO]): Where spaCy's training table goes; None for nowhere.
    RETURNS (UpdateSummary): What was done.
    RAISES (UpdateError): A setting, the pipeline or a corpus is refused, or training diverged.
    RAISES (atomic.OutputError): OUT may not be written, or another run is writing it.
    """
    start = time.process_time()
    settings = settings or UpdateSettings()
    settings.check(replay=replay_path is not None)
    output = Path(output)
    source = pipeline_folder(str(pipeline))
    inputs = [path for path in (source, new_path, replay_path, dev_path) if path is not None]
    check_output_folder(
        output,
        inputs,
        replace=is_pipeline_folder(output),
        refusal="It does not hold a spaCy pipeline (config.cfg and meta.json), so it is not "
        "replaced: choose another --output, or remove it.",
    )
    paths = {"new": Path(new_path), "replay": replay_path, "dev": dev_path}
    with output_lock(output, "update"), scratch_folder(output) as scratch:
        summary = _update(str(pipeline), paths, output, scratch, settings, log)
    summary.seconds = time.process_time() - start
    return summary


def pipeline_folder(pipeline: str) -> Optional[Path]:
    """The folder a pipeline is loaded from: the path given, or an installed package's."""
    path = Path(pipeline)
    if path.exists():
        return path.resolve()
    if spacy.util.is_package(pipeline):
        return spacy.util.get_package_path(pipeline).resolve()
    return None


def _update(
    pipeline: str, paths: Dict, output: Path, scratch: Path, settings: UpdateSettings, log
) -> UpdateSummary:
    """The update itself, once the settings and OUT were checked and OUT is locked."""
    nlp = load_heads(pipeline)
    new_docs = _checked_corpus(nlp, paths["new"], "NEW")
    old_docs = _checked_corpus(nlp, paths["replay"], "--replay")
    dev_docs = _checked_corpus(nlp, paths["dev"], "--dev")
    replayed = replay_sample(old_docs, len(new_docs), settings.share, settings.seed)
    train_docs = new_docs + replayed
    grown = plan_labels(nlp, train_docs, str(paths["new"]))
    distilled = _distilled_labels(nlp, grown, settings.distill_weight)
    add_update_targets(nlp, train_docs, distilled.get("cats"), distilled.get("ents"))
    summary = UpdateSummary(len(new_docs), len(replayed), {}, count_targets(train_docs))
    summary.scores_before = evaluate(nlp, dev_docs) if dev_docs else None
    summary.added = grow_heads(nlp, grown)
    train_update(nlp, train_docs, dev_docs or new_docs[:100], settings, scratch, log=log)
    cats = heads_of(nlp).get("cats")
    if settings.prior_correction and old_docs and cats and cats.cfg["exclusive_classes"]:
        summary.prior_shift = prior_shift(list(cats.labels), train_docs, old_docs + new_docs)
        adjust_prior(cats, summary.prior_shift)
    summary.scores_after = evaluate(nlp, dev_docs) if dev_docs else None
    replace_folder(output, nlp.to_disk)
    summary.output = str(output)
    return summary


def _checked_corpus(nlp: Language, path: Optional[Union[str, Path]], what: str) -> List[Doc]:
    """A corpus read and its gold checked against the heads; [] for a corpus not given."""
    if path is None:
        return []
    docs = read_corpus(Path(path), nlp, what)
    check_gold(nlp, heads_of(nlp), docs, Path(path), what, train=what != "--dev")
    return docs


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
