"""The multi-task corpus reader: several DocBin sources, each annotated for some tasks.

Each source is read once and kept in memory. The tasks a source is not declared
for are marked missing on its reference documents (spacy_mtl.annotation), so a
categories-only corpus never teaches the entity recognizer that its documents
have no entities. Each call of the reader is one epoch, drawn from the sources
by their shares (spacy_mtl.training.sampling); settings, shares, seeds and the
report are the streamed reader's too (spacy_mtl.training.reader).
"""

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional

from spacy import util
from spacy.training import Example
from spacy.vocab import Vocab

from ..annotation import SOURCE_KEY
from .reader import MultiTaskReader
from .reader import check_reader_settings as check_reader_settings
from .sampling import SAMPLING_NONE, SAMPLINGS, STRATEGY_PROPORTIONAL, sample_epoch
from .sources import SOURCE_KEYS as SOURCE_KEYS
from .sources import TASK_ANNOTATION as TASK_ANNOTATION
from .sources import TASK_NOUNS as TASK_NOUNS
from .sources import (
    MultiTaskCorpusError,
    MultiTaskCorpusWarning,
    Source,
    count_annotated,
    make_examples,
    read_docbins,
)

if TYPE_CHECKING:
    from spacy.language import Language


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


class InMemorySource(Source):
    """A source read once into memory: its examples, the undeclared tasks marked missing."""

    def __init__(self, name: str, cfg: Any) -> None:
        super().__init__(name, cfg)
        self.examples: List[Example] = []

    def n_docs(self) -> int:
        return len(self.examples)

    def stats(self) -> Dict[str, Any]:
        return {**super().stats(), "annotated": dict(self.annotated)}

    def read(self, nlp: "Language", *, gold_preproc: bool, max_length: int) -> None:
        """Read the source, check its annotation against its tasks, mark the rest missing."""
        docs = read_docbins(self.path, nlp.vocab, limit=self.limit)
        examples = list(make_examples(nlp, docs, gold_preproc=gold_preproc, max_length=max_length))
        if not examples:
            hint = (
                f", or max_length={max_length}, which drops longer documents that have "
                f"no sentence boundaries"
                if max_length
                else ""
            )
            raise self.no_documents(hint)
        self.settle_tasks(count_annotated(eg.reference for eg in examples), len(examples))
        for eg in examples:
            self.mask(eg.reference)
            eg.reference.user_data[SOURCE_KEY] = self.name
        self.examples = examples


class MultiTaskCorpus(MultiTaskReader):
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

    title = "multi-task corpus"
    seed_key = "spacy_mtl.MultiTaskCorpus"
    source_type = InMemorySource
    sources: Dict[str, InMemorySource]
    _vocab: Optional[Vocab] = None

    def _load(self, nlp: "Language") -> None:
        # Read again for another vocab: the examples' docs belong to the one they were read with.
        if self._vocab is nlp.vocab:
            return
        for source in self.sources.values():
            source.read(nlp, gold_preproc=self.gold_preproc, max_length=self.max_length)
        self._set_shares()
        self._vocab = nlp.vocab

    def _epoch(self, nlp: "Language", epoch: int) -> Iterator[Example]:
        """Fresh Examples: a copy of the predicted doc each time, the cached reference doc."""
        if self.sampling == SAMPLING_NONE:
            draws = [(name, eg) for name, source in self.sources.items() for eg in source.examples]
            if self.shuffle:
                # Only here: a dev corpus in file order leaves Python's random alone.
                self._rng(epoch).shuffle(draws)
        else:
            pools = {name: source.examples for name, source in self.sources.items()}
            draws = sample_epoch(
                pools, self._shares, self._epoch_size(), self._rng(epoch), shuffle=self.shuffle
            )
        return (Example(eg.predicted.copy(), eg.reference) for _, eg in draws)


__all__ = [
    "MultiTaskCorpus",
    "MultiTaskCorpusError",
    "MultiTaskCorpusWarning",
    "SAMPLINGS",
    "create_multitask_corpus",
]
