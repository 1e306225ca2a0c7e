"""Checks of the training settings against the data: each source's share of an epoch under
the sampling settings, and the teacher targets that distill_weight > 0 needs."""

from typing import List, Sequence

from spacy.language import Language

from ..annotation import TASK_CATS, TASK_ENTS, has_cats, has_ents
from ..pipeline.teacher_targets import teacher_cats, teacher_tags
from .corpora import SourceData
from .findings import ERROR, INFO, WARNING, Finding

HEAD_TASKS = {"mtl_textcat": TASK_CATS, "mtl_ner": TASK_ENTS}


def head_names(nlp: Language) -> dict:
    """The pipeline's heads by task."""
    found = {}
    for name in nlp.pipe_names:
        task = HEAD_TASKS.get(nlp.get_pipe_meta(name).factory)
        if task is not None:
            found.setdefault(task, name)
    return found


def share_findings(train: Sequence[SourceData]) -> List[Finding]:
    """What share of each epoch each training source gets, beside its share of the documents."""
    total = sum(len(s.examples) for s in train) or 1
    parts = [
        f"{s.name}: {len(s.examples)} docs ({len(s.examples) / total:.1%} of the documents), "
        f"{s.share:.1%} of an epoch (~{s.per_epoch:.0f} examples)"
        for s in train
        if s.share is not None
    ]
    data = {
        s.name: {"docs": len(s.examples), "share": s.share, "per_epoch": s.per_epoch} for s in train
    }
    return [
        Finding(
            "epoch_shares", INFO, "Training sources per epoch: " + "; ".join(parts) + ".", data=data
        )
    ]


def teacher_findings(nlp: Language, train: Sequence[SourceData]) -> List[Finding]:
    """With distill_weight > 0 on a head, the training documents annotated for its task must
    carry the teacher's targets (python -m spacy_mtl distill-targets)."""
    found = []
    for task, name in head_names(nlp).items():
        weight = nlp.get_pipe(name).cfg.get("distill_weight", 0.0) or 0.0
        if weight <= 0:
            continue
        is_annotated = has_cats if task == TASK_CATS else has_ents
        has_target = teacher_cats if task == TASK_CATS else teacher_tags
        docs = [eg.reference for s in train for eg in s.examples if is_annotated(eg.reference)]
        with_targets = sum(has_target(doc) is not None for doc in docs)
        level = ERROR if with_targets == 0 else WARNING if with_targets < len(docs) else INFO
        found.append(
            Finding(
                "teacher_targets",
                level,
                f"{name} has distill_weight = {weight}: {with_targets} of its {len(docs)} "
                "training documents carry teacher targets"
                + (
                    ""
                    if level == INFO
                    else "; run python -m spacy_mtl distill-targets on the corpus"
                )
                + ".",
                task,
                data={"with_targets": with_targets, "docs": len(docs)},
            )
        )
    return found
