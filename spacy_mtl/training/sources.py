"""The sources of a multi-task corpus: their settings, their checks, and how they are read.

Both readers (corpus.py holds its sources in memory, streaming.py streams them)
and the labels reader (labels.py) take the same source settings and read
DocBins the same way, here: `read_docbins` skips empty documents as spaCy's
own Corpus does, so a source's `limit` takes the same documents in all three.
"""

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional

from spacy import util
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example
from spacy.training.corpus import walk_corpus
from spacy.vocab import Vocab

from ..annotation import TASK_CATS, TASK_ENTS, TASKS, annotated_tasks, mark_missing

if TYPE_CHECKING:
    from spacy.language import Language

SOURCE_KEYS = ("path", "tasks", "weight", "limit")
TASK_NOUNS = {TASK_CATS: "categories", TASK_ENTS: "entities"}
TASK_ANNOTATION = {TASK_CATS: "category annotation", TASK_ENTS: "entity annotation"}


class MultiTaskCorpusError(ValueError):
    """A multi-task corpus is configured wrongly or its data does not fit the configuration."""


class MultiTaskCorpusWarning(UserWarning):
    """Data that a multi-task corpus reads but ignores."""


class Source:
    """One source of a multi-task corpus: its settings, checked, and the tasks it teaches.

    A reader's subclass adds what it keeps of the documents and says how many
    there are (`n_docs`).

    name (str): The source's name, its key in the sources section.
    cfg (Any): Its section: `path`, `tasks`, `weight`, `limit` (see KEYS).
    """

    KEYS = SOURCE_KEYS

    def __init__(self, name: str, cfg: Any) -> None:
        if not isinstance(cfg, dict):
            raise MultiTaskCorpusError(
                f"Source {name!r} must be a section with at least a `path`, got {cfg!r}."
            )
        unknown = sorted(set(cfg) - set(self.KEYS))
        if unknown:
            raise MultiTaskCorpusError(
                f"Source {name!r} has unknown setting(s) {', '.join(unknown)}: expected "
                f"{', '.join(self.KEYS)}."
            )
        self.name = name
        self.path = parse_path(name, cfg.get("path"))
        self.declared = parse_tasks(name, cfg.get("tasks"))
        self.weight = parse_weight(name, cfg.get("weight", 1.0))
        self.limit = parse_limit(name, cfg.get("limit", 0))
        # Declared, or detected from the documents once they are read.
        self.tasks: List[str] = list(self.declared) if self.declared is not None else []
        self.annotated: Dict[str, int] = {}

    def n_docs(self) -> int:
        """The number of documents that the source's share is computed from."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the reader's report says of the source's documents."""
        return f"{self.n_docs()} docs"

    def stats(self) -> Dict[str, Any]:
        """The source's part of the reader's `stats`."""
        return {
            "path": str(self.path),
            "docs": self.n_docs(),
            "tasks": list(self.tasks),
            "weight": self.weight,
        }

    def settle_tasks(self, annotated: Dict[str, int], n_docs: int) -> List[str]:
        """Detect or check the tasks from the annotation counted on the documents.

        annotated (Dict[str, int]): The number of documents annotated for each task.
        n_docs (int): The number of documents counted.
        RETURNS (List[str]): The tasks the documents carry but the source is not
            declared for, each warned of once: their annotation is to be marked missing.
        """
        self.annotated = dict(annotated)
        if self.declared is None:
            self.tasks = [task for task in TASKS if annotated[task]]
            if not self.tasks:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} has no annotation: none of its {n_docs} documents "
                    f"has category or entity annotation. Declare its `tasks` only if that "
                    f"is what it should teach, or check the file."
                )
        for task in self.tasks:
            if not annotated[task]:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} is declared for {task!r} but none of its "
                    f"{n_docs} documents has {TASK_ANNOTATION[task]}."
                )
        ignored = [task for task in TASKS if task not in self.tasks and annotated[task]]
        for task in ignored:
            warnings.warn(
                f"{annotated[task]} of {n_docs} documents of source {self.name!r} carry "
                f"{TASK_NOUNS[task]} although the source is declared for "
                f"{', '.join(self.tasks)} only; they are ignored (marked missing).",
                MultiTaskCorpusWarning,
                stacklevel=3,
            )
        return ignored

    def mask(self, doc: Doc) -> List[str]:
        """Mark missing the annotation of the tasks the source does not teach.

        RETURNS (List[str]): The tasks marked missing on this document.
        """
        masked = [task for task in annotated_tasks(doc) if task not in self.tasks]
        for task in masked:
            mark_missing(doc, task)
        return masked

    def no_documents(self, hint: str = "") -> MultiTaskCorpusError:
        """The error for a source that has no document to read."""
        return MultiTaskCorpusError(
            f"Source {self.name!r} has no documents: 0 non-empty documents read from "
            f"{str(self.path)!r}. Check the path (a .spacy file or a directory of them){hint}."
        )


def parse_path(name: str, path: Any) -> Path:
    """A source's `path`, which must exist."""
    if path is None:
        raise MultiTaskCorpusError(
            f"Source {name!r} has no path: set `path` in its section (a .spacy file "
            f"or a directory of them)."
        )
    path = util.ensure_path(path)
    if not path.exists():
        raise MultiTaskCorpusError(f"Source {name!r}: the path {str(path)!r} does not exist.")
    return path


def parse_tasks(name: str, tasks: Any) -> Optional[List[str]]:
    """A source's declared `tasks` in TASKS order, or None to detect them from its documents."""
    if tasks is None:
        return None
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, (list, tuple)) or not tasks:
        raise MultiTaskCorpusError(
            f"Source {name!r} has tasks {tasks!r}: expected a non-empty list of "
            f"{', '.join(repr(t) for t in TASKS)}, or no `tasks` to detect them from "
            f"the documents."
        )
    for task in tasks:
        if task not in TASKS:
            raise MultiTaskCorpusError(
                f"Source {name!r} declares the unknown task {task!r}: expected "
                f"one of {', '.join(repr(t) for t in TASKS)}."
            )
    return [task for task in TASKS if task in tasks]


def parse_weight(name: str, weight: Any) -> float:
    """A source's `weight`, a factor on its share."""
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not math.isfinite(weight)
        or weight < 0
    ):
        raise MultiTaskCorpusError(
            f"Source {name!r} has weight {weight!r}: a weight must be a number >= 0."
        )
    return float(weight)


def parse_limit(name: str, limit: Any) -> int:
    """A source's `limit`: the number of (non-empty) documents to read, 0 for all."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise MultiTaskCorpusError(
            f"Source {name!r} has limit {limit!r}: a limit must be an integer >= 0 "
            f"(0 reads all documents)."
        )
    return limit


def count_annotated(docs: Iterable[Doc]) -> Dict[str, int]:
    """The number of documents annotated for each task."""
    counts = {task: 0 for task in TASKS}
    for doc in docs:
        for task in annotated_tasks(doc):
            counts[task] += 1
    return counts


def read_docbin(path: Path, vocab: Vocab) -> Iterator[Doc]:
    """The non-empty documents of one .spacy file.

    spaCy's Corpus skips empty documents (they make no example), so every reader
    here skips them before it counts a `limit`.
    """
    for doc in DocBin().from_disk(path).get_docs(vocab):
        if len(doc):
            yield doc


def read_docbins(path: Any, vocab: Vocab, limit: int = 0) -> Iterator[Doc]:
    """The non-empty documents of a .spacy file or a folder of them, one file in memory at a time.

    path (Union[str, Path]): A .spacy file or a folder (searched recursively, files
        in name order).
    vocab (Vocab): The vocab to read into.
    limit (int): Stop after this many documents; 0 for all.
    YIELDS (Doc): The documents, in file order.
    """
    n = 0
    for loc in walk_corpus(path, ".spacy"):
        for doc in read_docbin(loc, vocab):
            yield doc
            n += 1
            if limit and n >= limit:
                return


def make_examples(
    nlp: "Language", docs: Iterable[Doc], *, gold_preproc: bool, max_length: int
) -> Iterator[Example]:
    """Examples of reference documents, made as spaCy's Corpus makes them.

    max_length splits a longer document at its sentences, or drops it without
    them; gold_preproc builds the predicted docs from the reference tokens.
    """
    # Only these two methods of Corpus are used; they do not read its path.
    maker = Corpus(Path(), gold_preproc=gold_preproc, max_length=max_length, shuffle=False)
    if gold_preproc:
        return maker.make_examples_gold_preproc(nlp, docs)
    return maker.make_examples(nlp, docs)


__all__ = [
    "MultiTaskCorpusError",
    "MultiTaskCorpusWarning",
    "SOURCE_KEYS",
    "Source",
    "count_annotated",
    "make_examples",
    "read_docbin",
    "read_docbins",
]
