"""The streamed multi-task corpus reader: sources too big to hold in memory.

`spacy_mtl.StreamingMultiTaskCorpus.v1` takes the same sources and sampling
settings as `spacy_mtl.MultiTaskCorpus.v1` (spacy_mtl/training/corpus.py), but
reads each source's shards (a directory of .spacy files) lazily: at any time it
holds one shard per source, so memory does not grow with the corpus. Each epoch
gives every source its number of slots by its share (sampling.allocate_slots,
the in-memory reader's rule) and interleaves the sources in a uniformly random
order. A source fills its slots from a cycle over its documents: the shards in
a fresh random order each time round, the documents of a shard shuffled. This
is the in-memory reader's cycle with the permutation restricted to shard
order and within-shard order, which is what streaming permits; keep shards
small and mixed (the generator of a corpus should not write them sorted).
"""

import random
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from spacy import util
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example
from spacy.training.corpus import walk_corpus
from spacy.vocab import Vocab
from wasabi import msg

from ..annotation import TASKS, annotated_tasks, mark_missing
from .corpus import (
    SAMPLING_NONE,
    TASK_ANNOTATION,
    TASK_NOUNS,
    MultiTaskCorpusError,
    MultiTaskCorpusWarning,
    _Source,
    check_reader_settings,
)
from .sampling import STRATEGY_PROPORTIONAL, allocate_slots, source_shares

if TYPE_CHECKING:
    from spacy.language import Language


@util.registry.readers("spacy_mtl.StreamingMultiTaskCorpus.v1")
def create_streaming_multitask_corpus(
    sources: Dict[str, Dict[str, Any]],
    sampling: str = STRATEGY_PROPORTIONAL,
    temperature: float = 2.0,
    epoch_size: Optional[int] = None,
    shuffle: bool = True,
    gold_preproc: bool = False,
    max_length: int = 0,
    seed: Optional[int] = None,
) -> "StreamingMultiTaskCorpus":
    """Create a reader that streams several sharded DocBin sources, each for its own tasks.

    sources (Dict[str, Dict[str, Any]]): One entry per source, by name, with
        `path` (a .spacy file or a directory of them, read in name order),
        `tasks` ("cats", "ents"; default: those its documents are annotated
        for), `weight` (a factor on its share, default 1.0), `limit` (read at
        most this many documents, default 0: all) and `size` (its number of
        documents; default: counted). A source that declares `tasks` and `size`
        and has no `limit` is never read in full before training starts; the
        others are counted once, one shard at a time.
    sampling (str): "proportional", "uniform" or "temperature", or "none" to
        yield every document once (the setting for a dev corpus).
    temperature (float): The temperature of "temperature" sampling.
    epoch_size (Optional[int]): Examples per call; default: all documents.
    shuffle (bool): Whether to shuffle shards and the documents of a shard.
    gold_preproc (bool): As in spaCy's Corpus.
    max_length (int): As in spaCy's Corpus. Sizes count documents before
        max_length splits or drops them.
    seed (Optional[int]): Seed of the sampling: call k is drawn from (seed, k);
        default: Python's `random`, which `spacy train` seeds.
    RETURNS (StreamingMultiTaskCorpus): The reader.
    """
    return StreamingMultiTaskCorpus(
        sources,
        sampling=sampling,
        temperature=temperature,
        epoch_size=epoch_size,
        shuffle=shuffle,
        gold_preproc=gold_preproc,
        max_length=max_length,
        seed=seed,
    )


class _StreamSource(_Source):
    """One streamed source: its settings, its shards and, once counted, their sizes."""

    def __init__(self, name: str, cfg: Any) -> None:
        size = None
        if isinstance(cfg, dict):
            cfg = dict(cfg)
            size = cfg.pop("size", None)
        super().__init__(name, cfg)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise MultiTaskCorpusError(
                f"Source {name!r} has size {size!r}: a size must be a positive integer (the "
                f"number of documents), or null to count them."
            )
        self.shards: List[Path] = walk_corpus(self.path, ".spacy")
        if not self.shards:
            raise MultiTaskCorpusError(
                f"Source {name!r} has no documents: no .spacy file in {str(self.path)!r}."
            )
        self.size: Optional[int] = size
        # Documents to read from each shard (after limit); None until counted.
        self.counts: Optional[List[int]] = None
        self._warned = False

    @property
    def needs_count(self) -> bool:
        return self.size is None or self.declared is None or self.limit > 0

    def n_docs(self) -> int:
        """The source's size for its share: counted, or declared (capped by limit)."""
        if self.counts is not None:
            return sum(self.counts)
        assert self.size is not None
        return self.size

    def count(self, vocab: Vocab) -> None:
        """Read the source once, shard by shard: sizes and annotation, then the checks."""
        counts = []
        annotated = {task: 0 for task in TASKS}
        total = 0
        for shard in self.shards:
            n = 0
            for doc in read_shard(shard, vocab):
                if self.limit and total >= self.limit:
                    break
                n += 1
                total += 1
                for task in annotated_tasks(doc):
                    annotated[task] += 1
            counts.append(n)
        if total == 0:
            raise MultiTaskCorpusError(
                f"Source {self.name!r} has no documents: 0 non-empty documents read from "
                f"{str(self.path)!r}."
            )
        self.counts = counts
        self.annotated = annotated
        if self.declared is None:
            self.tasks = [task for task in TASKS if annotated[task]]
            if not self.tasks:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} has no annotation: none of its {total} documents "
                    f"has category or entity annotation. Declare its `tasks` only if that "
                    f"is what it should teach, or check the file."
                )
        for task in self.tasks:
            if not annotated[task]:
                raise MultiTaskCorpusError(
                    f"Source {self.name!r} is declared for {task!r} but none of its "
                    f"{total} documents has {TASK_ANNOTATION[task]}."
                )
        for task in TASKS:
            if task not in self.tasks and annotated[task]:
                self._warned = True
                warnings.warn(
                    f"{annotated[task]} of {total} documents of source {self.name!r} carry "
                    f"{TASK_NOUNS[task]} although the source is declared for "
                    f"{', '.join(self.tasks)} only; they are ignored (marked missing).",
                    MultiTaskCorpusWarning,
                    stacklevel=3,
                )

    def docs(self, vocab: Vocab, rng: Optional[random.Random]) -> Iterator[Doc]:
        """One pass over the source's reference docs, the other tasks marked missing.

        vocab (Vocab): The vocab to read with.
        rng (Optional[random.Random]): Shuffles the shards and each shard's docs;
            None keeps file order.
        YIELDS (Doc): The documents.
        """
        order = list(range(len(self.shards)))
        if rng is not None:
            rng.shuffle(order)
        # Uncounted, the limit cuts the stream in file order (no shuffle then: see needs_count).
        left = self.limit if self.counts is None and self.limit else -1
        for i in order:
            if left == 0:
                return
            if self.counts is not None and self.counts[i] == 0:
                continue
            docs = read_shard(self.shards[i], vocab)
            if self.counts is not None:
                docs = (doc for doc, _ in zip(docs, range(self.counts[i])))
            if rng is not None:
                docs = list(docs)
                rng.shuffle(docs)
            for doc in docs:
                if left == 0:
                    return
                left -= 1
                self._mask(doc)
                yield doc

    def _mask(self, doc: Doc) -> None:
        for task in annotated_tasks(doc):
            if task in self.tasks:
                continue
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"Documents of source {self.name!r} carry {TASK_NOUNS[task]} although the "
                    f"source is declared for {', '.join(self.tasks)} only; they are ignored "
                    f"(marked missing).",
                    MultiTaskCorpusWarning,
                    stacklevel=4,
                )
            mark_missing(doc, task)


def read_shard(path: Path, vocab: Vocab) -> Iterator[Doc]:
    """The non-empty documents of one .spacy file, as spaCy's Corpus reads them."""
    for doc in DocBin().from_disk(path).get_docs(vocab):
        if len(doc):
            yield doc


class StreamingMultiTaskCorpus:
    """Stream Example objects from several sharded DocBin sources, each for its own tasks.

    Memory holds one shard per source, whatever the size of the corpus. Sizes
    come from each source's `size` or are counted on the first call (or the
    first `stats`), one shard at a time. Each call is one
    epoch; `spacy train` calls the reader again for each epoch only with
    [training] max_epochs = -1, and with max_epochs >= 0 it holds the first
    epoch in memory, so use -1 (and max_steps) with this reader.

    sources (Dict[str, Dict[str, Any]]): See create_streaming_multitask_corpus.
    sampling (str): "proportional", "uniform", "temperature" or "none".
    temperature (float): The temperature of "temperature" sampling.
    epoch_size (Optional[int]): Examples per call; default: all documents.
    shuffle (bool): Whether to shuffle shards and documents.
    gold_preproc (bool): As in spaCy's Corpus.
    max_length (int): As in spaCy's Corpus.
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
        check_reader_settings(sources, sampling, epoch_size, "streamed multi-task corpus")
        self.sources = {name: _StreamSource(name, cfg) for name, cfg in sources.items()}
        self.sampling = sampling
        self.temperature = temperature
        self.epoch_size = epoch_size
        self.shuffle = shuffle
        self.seed = seed
        # spaCy's own Corpus turns reference docs into examples (max_length, gold_preproc).
        self._maker = Corpus(
            next(iter(self.sources.values())).path,
            gold_preproc=gold_preproc,
            max_length=max_length,
            shuffle=False,
        )
        self.gold_preproc = gold_preproc
        if sampling != SAMPLING_NONE:
            weights = [source.weight for source in self.sources.values()]
            try:
                source_shares([1] * len(weights), sampling, temperature, weights)
            except ValueError as err:
                raise MultiTaskCorpusError(
                    f"{err} Sources: {', '.join(f'{n!r}' for n in self.sources)}."
                ) from err
        self._shares: Optional[Dict[str, float]] = None
        self._calls = 0
        self._reported = False

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        """Yield the examples of one epoch, lazily.

        nlp (Language): The current nlp object.
        YIELDS (Example): The examples.
        """
        self._prepare(nlp.vocab)
        if not self._reported:
            self._report()
            self._reported = True
        epoch = self._calls
        self._calls += 1
        return self._epoch(nlp, self._rng(epoch))

    def stats(self, nlp: "Language") -> Dict[str, Dict[str, Any]]:
        """Describe each source, counting the sources first if needed.

        nlp (Language): The nlp object whose vocab reads the documents.
        RETURNS (Dict[str, Dict[str, Any]]): By source name: "path", "shards",
            "docs" (counted or declared), "tasks", "weight", "share" and
            "per_epoch" (expected examples per epoch).
        """
        self._prepare(nlp.vocab)
        assert self._shares is not None
        size = self._epoch_size()
        return {
            name: {
                "path": str(source.path),
                "shards": len(source.shards),
                "docs": source.n_docs(),
                "tasks": list(source.tasks),
                "weight": source.weight,
                "share": self._shares[name],
                "per_epoch": self._shares[name] * size,
            }
            for name, source in self.sources.items()
        }

    def _prepare(self, vocab: Vocab) -> None:
        if self._shares is not None:
            return
        for source in self.sources.values():
            if source.needs_count and source.counts is None:
                source.count(vocab)
        sizes = [source.n_docs() for source in self.sources.values()]
        if self.sampling == SAMPLING_NONE:
            shares = [size / sum(sizes) for size in sizes]
        else:
            weights = [source.weight for source in self.sources.values()]
            shares = source_shares(sizes, self.sampling, self.temperature, weights)
        self._shares = dict(zip(self.sources, shares))

    def _epoch(self, nlp: "Language", rng: random.Random) -> Iterator[Example]:
        names = list(self.sources)
        if self.sampling == SAMPLING_NONE:
            counts = [self.sources[name].n_docs() for name in names]
            streams = [self._examples(nlp, self.sources[name], rng, cycle=False) for name in names]
            if not self.shuffle:
                for stream in streams:
                    yield from stream
                return
        else:
            assert self._shares is not None
            shares = [self._shares[name] for name in names]
            counts = allocate_slots(shares, self._epoch_size(), rng)
            streams = [self._examples(nlp, self.sources[name], rng, cycle=True) for name in names]
        yield from _interleave(streams, counts, rng, drain=self.sampling == SAMPLING_NONE)

    def _examples(
        self, nlp: "Language", source: _StreamSource, rng: random.Random, *, cycle: bool
    ) -> Iterator[Example]:
        own = random.Random(rng.getrandbits(64)) if self.shuffle else None
        while True:
            produced = 0
            docs = source.docs(nlp.vocab, own)
            if self.gold_preproc:
                examples = self._maker.make_examples_gold_preproc(nlp, docs)
            else:
                examples = self._maker.make_examples(nlp, docs)
            for eg in examples:
                produced += 1
                yield eg
            if not cycle:
                return
            if produced == 0:
                raise MultiTaskCorpusError(
                    f"Source {source.name!r} gave no examples in a whole pass over "
                    f"{str(source.path)!r}: check max_length ({self._maker.max_length})."
                )

    def _epoch_size(self) -> int:
        if self.epoch_size is not None:
            return self.epoch_size
        return sum(source.n_docs() for source in self.sources.values())

    def _rng(self, epoch: int) -> random.Random:
        if self.seed is None:
            return random.Random(random.getrandbits(64))
        return random.Random(f"spacy_mtl.StreamingMultiTaskCorpus:{self.seed}:{epoch}")

    def _report(self) -> None:
        assert self._shares is not None
        size = self._epoch_size()
        mode = (
            "every document once"
            if self.sampling == SAMPLING_NONE
            else f"{self.sampling} sampling, {size} examples per epoch"
        )
        msg.info(f"Streamed multi-task corpus: {len(self.sources)} source(s), {mode}")
        for name, source in self.sources.items():
            origin = "counted" if source.counts is not None else "declared"
            msg.text(
                f"  source {name!r}: {source.n_docs()} docs ({origin}) in {len(source.shards)} "
                f"shard(s), tasks {', '.join(source.tasks)}, share {self._shares[name]:.3f} "
                f"(~{self._shares[name] * size:.0f} per epoch)"
            )


def _interleave(
    streams: List[Iterator[Example]], counts: List[int], rng: random.Random, drain: bool = False
) -> Iterator[Example]:
    """Take counts[i] items from streams[i], in a uniformly random order of the slots.

    Drawing the next source with probability remaining_i / remaining gives every
    order of the slots the same probability, as shuffling a list of them would,
    without the list. A stream that ends early (a declared size too large, with
    sampling "none") gives up its remaining slots; with `drain`, streams that
    outlast their slots (max_length splits documents) are emptied at the end.
    """
    remaining = list(counts)
    live = [True] * len(streams)
    while True:
        total = sum(r for r, ok in zip(remaining, live) if ok)
        if total <= 0:
            if drain:
                for stream, ok in zip(streams, live):
                    if ok:
                        yield from stream
            return
        pick = rng.random() * total
        chosen = 0
        for i, (r, ok) in enumerate(zip(remaining, live)):
            if not ok or r == 0:
                continue
            chosen = i
            if pick < r:
                break
            pick -= r
        try:
            item = next(streams[chosen])
        except StopIteration:
            live[chosen] = False
            continue
        remaining[chosen] -= 1
        yield item


__all__ = [
    "StreamingMultiTaskCorpus",
    "create_streaming_multitask_corpus",
]
