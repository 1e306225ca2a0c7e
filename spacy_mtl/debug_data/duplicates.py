"""Duplicates: the same text annotated differently (a conflict), and texts in both the
training and the dev corpus. Texts are compared with their whitespace collapsed."""

from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

from spacy.training import Example

from ..annotation import TASK_CATS, TASK_ENTS, has_cats, has_ents
from .corpora import SourceData
from .findings import ERROR, WARNING, DocRef, Finding
from .labels import TASK_TITLES
from .spans import gold_ents


def text_key(text: str) -> str:
    return " ".join(text.split())


def annotation_of(eg: Example, task: str):
    """What a document says for a task, comparable between documents; None when missing."""
    ref = eg.reference
    if task == TASK_CATS:
        return tuple(sorted(ref.cats.items())) if has_cats(ref) else None
    if not has_ents(ref):
        return None
    return tuple((e.label_, e.start, e.end) for e in gold_ents(ref))


def conflict_findings(sources: Sequence[SourceData]) -> List[Finding]:
    """Per corpus and task: texts that occur with different annotations."""
    found = []
    for corpus in ("train", "dev"):
        for task in (TASK_CATS, TASK_ENTS):
            groups: Dict[str, List[Tuple[SourceData, int, Example]]] = defaultdict(list)
            for s in sources:
                if s.corpus != corpus:
                    continue
                for i, eg in enumerate(s.examples):
                    if annotation_of(eg, task) is not None:
                        groups[text_key(eg.reference.text)].append((s, i, eg))
            docs = [
                DocRef(corpus, s.name, i, eg.reference.text, _describe(eg, task))
                for members in groups.values()
                if len({annotation_of(eg, task) for _, _, eg in members}) > 1
                for s, i, eg in members
            ]
            if docs:
                n_texts = len({text_key(d.text) for d in docs})
                found.append(
                    Finding(
                        "conflicts",
                        ERROR,
                        f"{n_texts} texts of the {corpus} corpus occur with different "
                        f"{TASK_TITLES[task]} ({len(docs)} documents): the model is taught "
                        "both answers. Decide which is right.",
                        task,
                        docs,
                    )
                )
    return found


def _describe(eg: Example, task: str) -> str:
    ref = eg.reference
    if task == TASK_CATS:
        return "intent " + ", ".join(k for k, v in ref.cats.items() if v >= 0.5)
    return "slots " + ", ".join(f"{e.text}={e.label_}" for e in gold_ents(ref))


def overlap_findings(sources: Sequence[SourceData]) -> List[Finding]:
    """Dev texts that also occur in training: their dev scores flatter the model."""
    train = {
        text_key(eg.reference.text) for s in sources if s.corpus == "train" for eg in s.examples
    }
    docs = [
        DocRef("dev", s.name, i, eg.reference.text)
        for s in sources
        if s.corpus == "dev"
        for i, eg in enumerate(s.examples)
        if text_key(eg.reference.text) in train
    ]
    if not docs:
        return []
    n_dev = sum(len(s.examples) for s in sources if s.corpus == "dev")
    return [
        Finding(
            "train_dev_overlap",
            WARNING,
            f"{len(docs)} of {n_dev} dev documents have a text that is also in training: the "
            "dev scores on them measure memory, not generalisation.",
            docs=docs,
            data={"n_docs": len(docs), "n_dev": n_dev},
        )
    ]
