"""Every label a training corpus holds for one task, for `[initialize.components.*.labels]`.

With `[training] max_epochs = -1` (the setting that draws a fresh sample of a
multi-task corpus every epoch, and that a streamed corpus needs) spaCy
initializes the components from the first 100 training examples only, so a
label that first occurs later is unknown to its head and training stops when
it meets it. This reader goes through every document of the training data
instead, one DocBin file at a time, so memory does not grow with the corpus:

    [initialize.components.ner.labels]
    @readers = "spacy_mtl.task_labels.v1"
    task = "ents"
    sources = ${corpora.train.sources}    # a multi-task corpus
    # or: path = ${paths.train}           # a spacy.Corpus.v1

For "cats" it also counts each label over those documents, so that
`mtl_textcat`'s `class_weights = "balanced"` weighs the labels by their
frequency in the whole corpus rather than in the 100-example sample.

It reads the sources' settings, not a corpus object, so that a pipeline
initialized by hand (`nlp.initialize(get_examples)`) with its paths unset
still works: with no path at all it returns None and the head collects its
labels from the examples, as without this reader. It reads the documents as
the corpora do (sources.read_docbins), so a source's `limit` takes the same ones.
"""

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from spacy.util import registry
from spacy.vocab import Vocab

from ..annotation import (
    SOURCE_KEY,
    TASK_CATS,
    TASK_ENTS,
    TASKS,
    describe_doc,
    has_cats,
    has_ents,
)
from .sources import parse_limit, parse_tasks, read_docbins


class TaskLabels(Sequence):
    """The sorted labels of a task, and what the reader found wrong on the way.

    Not a list on purpose: spaCy's validation of [initialize] settings turns a
    list into a plain list, and the findings would be lost on the way to the head.

    labels (Iterable[str]): The labels.
    not_one_hot (List[str]): For "cats": one line for each document whose number
        of positive categories is not one (index among the task's documents, a
        preview and the source). An exclusive classifier refuses to train on
        them (`mtl_textcat.initialize`), before step 0.
    counts (Optional[Dict[str, float]]): For "cats": each label's summed value
        over the documents with categories (its number of positive documents
        for 0/1 categories), for "balanced" class weights; None for "ents".
    n_docs (int): The number of documents annotated for the task.
    """

    def __init__(
        self,
        labels: Iterable[str],
        not_one_hot: Optional[List[str]] = None,
        counts: Optional[Dict[str, float]] = None,
        n_docs: int = 0,
    ):
        self.labels = list(labels)
        self.not_one_hot = list(not_one_hot or [])
        self.counts = None if counts is None else dict(counts)
        self.n_docs = n_docs

    def __getitem__(self, index):
        return self.labels[index]

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"TaskLabels({self.labels!r})"


@registry.readers("spacy_mtl.task_labels.v1")
def create_task_labels(
    task: str,
    sources: Optional[Dict[str, Dict[str, Any]]] = None,
    path: Optional[Union[str, Path]] = None,
) -> Optional[TaskLabels]:
    """Read the labels of one task from every document of the training data.

    Reading every document anyway, it also notes the documents with categories
    that do not have exactly one positive one, for an exclusive classifier to
    refuse before training rather than when it meets them, and counts each
    category, for balanced class weights.

    task (str): "cats" (the category names of documents with categories) or
        "ents" (the entity types of documents with entity annotation).
    sources (Optional[Dict[str, Dict[str, Any]]]): The sources of a multi-task
        corpus (`${corpora.train.sources}`): each one's `path` and `limit`; a
        source whose `tasks` leave out `task` is skipped.
    path (Optional[Union[str, Path]]): A .spacy file or folder, as read by
        spacy.Corpus.v1 (`${paths.train}`).
    RETURNS (Optional[TaskLabels]): The labels, sorted, with the non-one-hot
        documents and the category counts; None if no path is set at all (the
        head then takes its labels and counts from the examples).
    """
    if task not in TASKS:
        raise ValueError(
            f"spacy_mtl.task_labels.v1: unknown task {task!r}, expected one of "
            f"{', '.join(repr(t) for t in TASKS)}."
        )
    sources = sources or {}
    if path is None and all(source.get("path") is None for source in sources.values()):
        return None
    files = _task_files(task, sources, path)
    labels = set()
    not_one_hot = []
    counts: Dict[str, float] = {}
    vocab = Vocab()
    annotated = has_cats if task == TASK_CATS else has_ents
    i = 0
    for name, loc, limit in files:
        for doc in read_docbins(loc, vocab, limit=limit):
            if not annotated(doc):
                continue
            if name is not None:
                doc.user_data[SOURCE_KEY] = name
            if task == TASK_CATS:
                labels.update(doc.cats)
                for label, value in doc.cats.items():
                    counts[label] = counts.get(label, 0.0) + float(value)
                positives = [label for label, value in doc.cats.items() if value >= 0.5]
                if len(positives) != 1:
                    not_one_hot.append(
                        f"document {i} ({describe_doc(doc)}): {len(positives)} positive "
                        f"categories {positives}"
                    )
            else:
                labels.update(ent.label_ for ent in doc.ents)
            i += 1
    return TaskLabels(
        sorted(labels), not_one_hot, counts=counts if task == TASK_CATS else None, n_docs=i
    )


def _task_files(task: str, sources: Dict[str, Dict[str, Any]], path: Any) -> List[tuple]:
    """(source name or None, path, limit) of what to read for `task`; unset paths left out."""
    files = []
    for name, source in sources.items():
        if source.get("path") is None:
            continue
        declared = parse_tasks(name, source.get("tasks"))
        if declared is not None and task not in declared:
            continue
        files.append((name, source["path"], parse_limit(name, source.get("limit", 0))))
    if path is not None:
        files.append((None, path, 0))
    return files


__all__ = [
    "TASK_CATS",
    "TASK_ENTS",
    "TaskLabels",
    "create_task_labels",
    "read_docbins",
]
