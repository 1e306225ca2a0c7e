"""Every label a training corpus holds for one task, for `[initialize.components.*.labels]`.

With `[training] max_epochs = -1` (the setting that draws a fresh sample of a
multi-task corpus every epoch) spaCy initializes the components from the first
100 training examples only, so a label that first occurs later is unknown to
its head and training stops when it meets it. This reader goes through every
document of every source of the training corpus instead, reading the DocBin
files one at a time, so memory does not grow with the corpus:

    [initialize.components.ner.labels]
    @readers = "spacy_mtl.task_labels.v1"
    corpus = ${corpora.train}
    task = "ents"
"""

from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence

from spacy.tokens import Doc, DocBin
from spacy.training import Corpus
from spacy.training.corpus import walk_corpus
from spacy.util import registry
from spacy.vocab import Vocab

from ..annotation import TASK_CATS, TASK_ENTS, TASKS, describe_doc, has_cats, has_ents


class TaskLabels(Sequence):
    """The sorted labels of a task, and what the reader found wrong on the way.

    Not a list on purpose: spaCy's validation of [initialize] settings turns a
    list into a plain list, and the findings would be lost on the way to the head.

    labels (Iterable[str]): The labels.
    not_one_hot (List[str]): For "cats": one line for each document whose number
        of positive categories is not one (index among the task's documents, a
        preview and the source). An exclusive classifier refuses to train on
        them (`mtl_textcat.initialize`), before step 0.
    """

    def __init__(self, labels: Iterable[str], not_one_hot: Optional[List[str]] = None):
        self.labels = list(labels)
        self.not_one_hot = list(not_one_hot or [])

    def __getitem__(self, index):
        return self.labels[index]

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"TaskLabels({self.labels!r})"


@registry.readers("spacy_mtl.task_labels.v1")
def create_task_labels(corpus: Callable, task: str) -> TaskLabels:
    """Read the labels of one task from every document of a training corpus.

    Reading every document anyway, it also notes the documents with categories
    that do not have exactly one positive one, for an exclusive classifier to
    refuse before training rather than when it meets them.

    corpus (Callable): The training corpus, usually `${corpora.train}`: a
        `spacy_mtl.MultiTaskCorpus.v1`, a streamed multi-task corpus or a
        `spacy.Corpus.v1`.
    task (str): "cats" (the category names of documents with categories) or
        "ents" (the entity types of documents with entity annotation).
    RETURNS (TaskLabels): The labels, sorted.
    """
    if task not in TASKS:
        raise ValueError(
            f"spacy_mtl.task_labels.v1: unknown task {task!r}, expected one of "
            f"{', '.join(repr(t) for t in TASKS)}."
        )
    labels = set()
    not_one_hot = []
    for i, doc in enumerate(task_documents(corpus, task)):
        if task == TASK_CATS:
            labels.update(doc.cats)
            positives = [label for label, value in doc.cats.items() if value >= 0.5]
            if len(positives) != 1:
                not_one_hot.append(
                    f"document {i} ({describe_doc(doc)}): {len(positives)} positive "
                    f"categories {positives}"
                )
        else:
            labels.update(ent.label_ for ent in doc.ents)
    return TaskLabels(sorted(labels), not_one_hot)


def task_documents(corpus: Any, task: str) -> Iterator[Doc]:
    """The reference documents of a corpus that are annotated for `task`.

    corpus (Any): A reader with a `task_documents(task, vocab)` method (the
        multi-task readers), or spaCy's `Corpus`.
    task (str): "cats" or "ents".
    YIELDS (Doc): The documents, read lazily.
    """
    vocab = Vocab()
    if hasattr(corpus, "task_documents"):
        docs = corpus.task_documents(task, vocab)
    elif isinstance(corpus, Corpus):
        docs = read_docbins(corpus.path, vocab, limit=corpus.limit)
    else:
        raise ValueError(
            f"spacy_mtl.task_labels.v1 cannot read the labels of a {type(corpus).__name__}: "
            "it reads spacy.Corpus.v1 and the spacy_mtl multi-task readers. List the labels "
            "in [initialize.components.<name>.labels] instead (spacy init labels writes them)."
        )
    annotated = has_cats if task == TASK_CATS else has_ents
    return (doc for doc in docs if annotated(doc))


def read_docbins(path: Any, vocab: Vocab, limit: int = 0) -> Iterator[Doc]:
    """The documents of a .spacy file or of a folder of them, one file in memory at a time.

    path (Union[str, Path]): A .spacy file or a folder (searched recursively).
    vocab (Vocab): The vocab to read into.
    limit (int): Stop after this many documents; 0 for all.
    YIELDS (Doc): The documents, in file order.
    """
    if path is None:
        raise ValueError(
            "spacy_mtl.task_labels.v1: the training corpus has no path; set it (e.g. "
            "--paths.train) before training."
        )
    n = 0
    for loc in walk_corpus(path, ".spacy"):
        for doc in DocBin().from_disk(loc).get_docs(vocab):
            yield doc
            n += 1
            if limit and n >= limit:
                return


__all__ = [
    "TASK_CATS",
    "TASK_ENTS",
    "TaskLabels",
    "create_task_labels",
    "read_docbins",
    "task_documents",
]
