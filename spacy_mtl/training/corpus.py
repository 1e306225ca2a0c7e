"""The multi-task corpus reader: several DocBin sources, each annotated for some tasks.

Each source is read with spaCy's own `Corpus`. The tasks a source is not declared
for are marked missing on its reference documents (spacy_mtl.annotation), so a
categories-only corpus never teaches the entity recognizer that its documents
have no entities. Each call of the reader is one epoch, drawn from the sources
by their shares (spacy_mtl.training.sampling).
"""

import math
import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional

from spacy import util
from spacy.training import Corpus, Example
from spacy.vocab import Vocab
from wasabi import msg

from ..annotation import (
    SOURCE_KEY,
    TASK_CATS,
    TASK_ENTS,
    TASKS,
    annotated_tasks,
    mark_missing,
)
from .sampling import STRATEGIES, STRATEGY_PROPORTIONAL, sample_epoch, source_shares

if TYPE_CHECKING:
    from spacy.language import Language

SAMPLING_NONE = "none"
SAMPLINGS = STRATEGIES + (SAMPLING_NONE,)
SOURCE_KEYS = ("path", "tasks", "weight", "limit")
TASK_NOUNS = {TASK_CATS: "categories", TASK_ENTS: "entities"}
TASK_ANNOTATION = {TASK_CATS: "category annotation", TASK_ENTS: "entity annotation"}


class MultiTaskCorpusError(ValueError):
    """A multi-task corpus is configured wrongly or its data does not fit the configuration."""


class MultiTaskCorpusWarning(UserWarning):
    """Data that a multi-task corpus reads but ignores."""


@util.registry.readers("spacy_mtl.MultiTaskCorpus.v1")
def create_multitask_corpus(
    sources: Dict[str, Dict[str, Any]],
    sampling: str = STRATEGY_PROPORTIONAL,
    temperature: float = 2.0,
    epoch_size: Optional[int] = None,
    shuffle: bool = True,
    gold_preproc: bool = False,
    max_length: int = 0,
    seed: Optional[int] = None,
) -> Callable[["Language"], Iterable[Example]]:
    """Create a reader of several DocBin sources, each annotated for its own tasks.

    sources (Dict[str, Dict[str, Any]]): One entry per source, by name, with
        `path` (a .spacy file or a directory of them), `tasks` (a list of "cats"
        and "ents"; default: the tasks any of its documents is annotated for),
        `weight` (a factor on its share, default 1.0) and `limit` (read at most
        this many documents, default 0: all).
    sampling (str): "proportional", "uniform" or "temperature" to draw each
        epoch from the sources by their shares, or "none" to yield every
        document once, source after source (the setting for a dev corpus).
    temperature (float): The temperature of "temperature" sampling: a source's
        share grows with size ** (1 / temperature).
    epoch_size (Optional[int]): The number of examples per call; default: the
        number of documents of all sources, so an epoch is as long as one pass.
    shuffle (bool): Whether to shuffle documents. With sampling "none" and
        shuffle False every document comes once, in file order.
    gold_preproc (bool): Passed on to spaCy's Corpus.
    max_length (int): Passed on to spaCy's Corpus: longer documents are split
        into sentences if they have sentence boundaries, and dropped otherwise.
    seed (Optional[int]): Seed of the sampling: call k is drawn with a generator
        seeded from (seed, k). Default: drawn from Python's `random`, which
        `spacy train` seeds with [training] seed.
    RETURNS (MultiTaskCorpus): The reader.
    """
    return MultiTaskCorpus(
        sources,
        sampling=sampling,
        temperature=temperature,
        epoch_size=epoch_size,
        shuffle=shuffle,
        gold_preproc=gold_preproc,
        max_length=max_length,
        seed=seed,
    )


class _Source:
    """One source of a multi-task corpus: its settings and, once read, its examples."""

    def __init__(self, name: str, cfg: Any) -> None:
        if not isinstance(cfg, dict):
            raise MultiTaskCorpusError(
                f"Source {name!r} must be a section with at least a `path`, got {cfg!r}."
            )
        unknown = sorted(set(cfg) - set(SOURCE_KEYS))
        if unknown:
            raise MultiTaskCorpusError(
                f"Source {name!r} has unknown setting(s) {', '.join(unknown)}: expected "
                f"{', '.join(SOURCE_KEYS)}."
            )
        self.name = name
        path = cfg.get("path")
        if path is None:
            raise MultiTaskCorpusError(
                f"Source {name!r} has no path: set `path` in its section (a .spacy file "
                f"or a directory of them)."
            )
        self.path: Path = util.ensure_path(path)
        if not self.path.exists():
            raise MultiTaskCorpusError(
                f"Source {name!r}: the path {str(self.path)!r} does not exist."
            )
        self.declared = self._parse_tasks(cfg.get("tasks"))
        self.weight = cfg.get("weight", 1.0)
        if (
            isinstance(self.weight, bool)
            or not isinstance(self.weight, (int, float))
            or not math.isfinite(self.weight)
            or self.weight < 0
        ):
            raise MultiTaskCorpusError(
                f"Source {name!r} has weight {self.weight!r}: a weight must be a number >= 0."
            )
        self.weight = float(self.weight)
        self.limit = cfg.get("limit", 0)
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise MultiTaskCorpusError(
                f"Source {name!r} has limit {self.limit!r}: a limit must be an integer >= 0 "
                f"(0 reads all documents)."
            )
        self.tasks: List[str] = list(self.declared) if self.declared is not None else []
        self.examples: List[Example] = []
        self.annotated: Dict[str, int] = {}

    def _parse_tasks(self, tasks: Any) -> Optional[List[str]]:
        if tasks is None:
            return None
        if isinstance(tasks, str):
            tasks = [tasks]
        if not isinstance(tasks, (list, tuple)) or not tasks:
            raise MultiTaskCorpusError(
                f"Source {self.name!r} has tasks {tasks!r}: expected a non-empty list of "
                f"{', '.join(repr(t) for t in TASKS)}, or no `tasks` to detect them from "
                f"the documents."
            )
        for task in tasks:
            if task not in TASKS:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} declares the unknown task {task!r}: expected "
                    f"one of {', '.join(repr(t) for t in TASKS)}."
                )
        return [task for task in TASKS if task in tasks]

    def read(self, nlp: "Language", *, gold_preproc: bool, max_length: int) -> None:
        """Read the source, check its annotation against its tasks, mark the rest missing."""
        corpus = Corpus(
            self.path,
            limit=self.limit,
            gold_preproc=gold_preproc,
            max_length=max_length,
            shuffle=False,
        )
        examples = list(corpus(nlp))
        n_docs = len(examples)
        if n_docs == 0:
            hint = (
                f", or max_length={max_length}, which drops longer documents that have "
                f"no sentence boundaries"
                if max_length
                else ""
            )
            raise MultiTaskCorpusError(
                f"Source {self.name!r} has no documents: 0 non-empty documents read from "
                f"{str(self.path)!r}. Check the path (a .spacy file or a directory of "
                f"them){hint}."
            )
        per_doc = [annotated_tasks(eg.reference) for eg in examples]
        self.annotated = {task: sum(task in tasks for tasks in per_doc) for task in TASKS}
        if self.declared is None:
            self.tasks = [task for task in TASKS if self.annotated[task]]
            if not self.tasks:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} has no annotation: none of its {n_docs} documents "
                    f"has category or entity annotation. Declare its `tasks` only if that "
                    f"is what it should teach, or check the file."
                )
        else:
            for task in self.tasks:
                if not self.annotated[task]:
                    raise MultiTaskCorpusError(
                        f"Source {self.name!r} is declared for {task!r} but none of its "
                        f"{n_docs} documents has {TASK_ANNOTATION[task]}."
                    )
        for task in TASKS:
            if task in self.tasks or not self.annotated[task]:
                continue
            warnings.warn(
                f"{self.annotated[task]} of {n_docs} documents of source {self.name!r} carry "
                f"{TASK_NOUNS[task]} although the source is declared for "
                f"{', '.join(self.tasks)} only; they are ignored (marked missing).",
                MultiTaskCorpusWarning,
                stacklevel=2,
            )
            for eg, tasks in zip(examples, per_doc):
                if task in tasks:
                    mark_missing(eg.reference, task)
        for eg in examples:
            eg.reference.user_data[SOURCE_KEY] = self.name
        self.examples = examples


def check_reader_settings(
    sources: Any, sampling: str, epoch_size: Optional[int], reader: str
) -> None:
    """Raise MultiTaskCorpusError for settings a multi-task reader cannot use.

    sources (Any): The sources section.
    sampling (str): The sampling strategy.
    epoch_size (Optional[int]): Examples per call, or None.
    reader (str): What the reader is called in the message ("multi-task corpus").
    """
    if not isinstance(sources, dict) or not sources:
        raise MultiTaskCorpusError(
            f"The {reader} has no sources: add at least one section "
            "[corpora.<name>.sources.<source>] with a `path`."
        )
    if sampling not in SAMPLINGS:
        raise MultiTaskCorpusError(
            f"Unknown sampling {sampling!r}: expected one of "
            f"{', '.join(repr(s) for s in SAMPLINGS)}."
        )
    if epoch_size is not None and (
        isinstance(epoch_size, bool) or not isinstance(epoch_size, int) or epoch_size < 1
    ):
        raise MultiTaskCorpusError(
            f"epoch_size must be a positive integer or null (all documents), got {epoch_size!r}."
        )
    if sampling == SAMPLING_NONE and epoch_size is not None:
        raise MultiTaskCorpusError(
            f'sampling = "none" yields every document once, so epoch_size must be null, '
            f"got {epoch_size!r}."
        )


class MultiTaskCorpus:
    """Iterate Example objects from several DocBin sources, each annotated for its own tasks.

    The sources are read once, on the first call, and kept in memory (again if the
    reader is called with another vocab), which suits corpora of up to some
    hundred thousand documents. Each call is one epoch: `epoch_size` examples,
    whose sources are drawn by their shares and whose documents come from a
    reshuffled cycle over each source. With sampling "none" each call yields
    every document once instead.

    Note that `spacy train` with [training] max_epochs >= 0 calls the train
    corpus once and reshuffles that one sample every epoch; set max_epochs = -1
    (and stop with max_steps or patience) to draw a fresh sample each epoch.

    sources (Dict[str, Dict[str, Any]]): The sources, see create_multitask_corpus.
    sampling (str): "proportional", "uniform", "temperature" or "none".
    temperature (float): The temperature of "temperature" sampling.
    epoch_size (Optional[int]): Examples per call; default: all documents.
    shuffle (bool): Whether to shuffle documents.
    gold_preproc (bool): Passed on to spaCy's Corpus.
    max_length (int): Passed on to spaCy's Corpus.
    seed (Optional[int]): Seed of the sampling; default: Python's `random`.
    """

    def __init__(
        self,
        sources: Dict[str, Dict[str, Any]],
        *,
        sampling: str = STRATEGY_PROPORTIONAL,
        temperature: float = 2.0,
        epoch_size: Optional[int] = None,
        shuffle: bool = True,
        gold_preproc: bool = False,
        max_length: int = 0,
        seed: Optional[int] = None,
    ) -> None:
        check_reader_settings(sources, sampling, epoch_size, "multi-task corpus")
        self.sources = {name: _Source(name, cfg) for name, cfg in sources.items()}
        self.sampling = sampling
        self.temperature = temperature
        self.epoch_size = epoch_size
        self.shuffle = shuffle
        self.gold_preproc = gold_preproc
        self.max_length = max_length
        self.seed = seed
        weights = [source.weight for source in self.sources.values()]
        if sampling == SAMPLING_NONE:
            ignored = [name for name, source in self.sources.items() if source.weight != 1.0]
            if ignored:
                warnings.warn(
                    f'sampling = "none" yields every document once: the weight of '
                    f"source(s) {', '.join(repr(name) for name in ignored)} is ignored.",
                    MultiTaskCorpusWarning,
                    stacklevel=2,
                )
        else:
            try:
                # Settings errors surface when the config is resolved, not after reading.
                source_shares([1] * len(weights), sampling, temperature, weights)
            except ValueError as err:
                raise MultiTaskCorpusError(
                    f"{err} Sources: {', '.join(f'{n!r}' for n in self.sources)}."
                ) from err
        self._vocab: Optional[Vocab] = None
        self._shares: Dict[str, float] = {}
        self._calls = 0
        self._reported = False

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        """Yield the examples of one epoch.

        nlp (Language): The current nlp object.
        YIELDS (Example): The examples; a new Example with a copy of the
            predicted doc each time, sharing the cached reference doc.
        """
        self._load(nlp)
        if not self._reported:
            self._report()
            self._reported = True
        epoch = self._calls
        self._calls += 1
        if self.sampling == SAMPLING_NONE:
            draws = [(name, eg) for name, source in self.sources.items() for eg in source.examples]
            if self.shuffle:
                self._rng(epoch).shuffle(draws)
        else:
            pools = {name: source.examples for name, source in self.sources.items()}
            draws = sample_epoch(
                pools, self._shares, self._epoch_size(), self._rng(epoch), shuffle=self.shuffle
            )
        return (Example(eg.predicted.copy(), eg.reference) for _, eg in draws)

    def stats(self, nlp: "Language") -> Dict[str, Dict[str, Any]]:
        """Describe each source, reading the sources first if needed.

        nlp (Language): The nlp object whose vocab reads the documents.
        RETURNS (Dict[str, Dict[str, Any]]): By source name: "path", "docs" (after
            limit and max_length), "tasks", "annotated" (documents annotated for
            each task, before masking), "weight", "share" (of an epoch) and
            "per_epoch" (expected examples per epoch).
        """
        self._load(nlp)
        size = self._epoch_size()
        return {
            name: {
                "path": str(source.path),
                "docs": len(source.examples),
                "tasks": list(source.tasks),
                "annotated": dict(source.annotated),
                "weight": source.weight,
                "share": self._shares[name],
                "per_epoch": self._shares[name] * size,
            }
            for name, source in self.sources.items()
        }

    def _load(self, nlp: "Language") -> None:
        if self._vocab is nlp.vocab:
            return
        for source in self.sources.values():
            source.read(nlp, gold_preproc=self.gold_preproc, max_length=self.max_length)
        sizes = [len(source.examples) for source in self.sources.values()]
        if self.sampling == SAMPLING_NONE:
            shares = [size / sum(sizes) for size in sizes]
        else:
            weights = [source.weight for source in self.sources.values()]
            shares = source_shares(sizes, self.sampling, self.temperature, weights)
        self._shares = dict(zip(self.sources, shares))
        self._vocab = nlp.vocab

    def _epoch_size(self) -> int:
        if self.epoch_size is not None:
            return self.epoch_size
        return sum(len(source.examples) for source in self.sources.values())

    def _rng(self, epoch: int) -> random.Random:
        if self.seed is None:
            # Follows [training] seed: spacy train seeds Python's random with it.
            return random.Random(random.getrandbits(64))
        # A string seed is hashed deterministically (unlike a tuple's hash).
        return random.Random(f"spacy_mtl.MultiTaskCorpus:{self.seed}:{epoch}")

    def _report(self) -> None:
        size = self._epoch_size()
        mode = (
            "every document once"
            if self.sampling == SAMPLING_NONE
            else f"{self.sampling} sampling, {size} examples per epoch"
        )
        msg.info(f"Multi-task corpus: {len(self.sources)} source(s), {mode}")
        for name, source in self.sources.items():
            msg.text(
                f"  source {name!r}: {len(source.examples)} docs, tasks "
                f"{', '.join(source.tasks)}, share {self._shares[name]:.3f} "
                f"(~{self._shares[name] * size:.0f} per epoch)"
            )


__all__ = [
    "MultiTaskCorpus",
    "MultiTaskCorpusError",
    "MultiTaskCorpusWarning",
    "SAMPLINGS",
    "create_multitask_corpus",
]
