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
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from spacy import util
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.corpus import walk_corpus
from spacy.vocab import Vocab

from ..annotation import TASKS
from .reader import MultiTaskReader
from .sampling import SAMPLING_NONE, STRATEGY_PROPORTIONAL, allocate_slots
from .sources import (
    TASK_NOUNS,
    MultiTaskCorpusError,
    MultiTaskCorpusWarning,
    Source,
    count_annotated,
    make_examples,
    read_docbin,
)

if TYPE_CHECKING:
    from spacy.language import Language

# A shard is one DocBin file, read as every reader here reads one (sources.py).
read_shard = read_docbin


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


class StreamedSource(Source):
    """One streamed source: its settings, its shards and, once counted, their sizes."""

    KEYS = Source.KEYS + ("size",)

    def __init__(self, name: str, cfg: Any) -> None:
        super().__init__(name, cfg)
        size = cfg.get("size")
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
        """Whether the source must be read before training: its size, tasks or limit ask for it."""
        return self.size is None or self.declared is None or self.limit > 0

    def n_docs(self) -> int:
        """The source's size for its share: counted, or declared."""
        if self.counts is not None:
            return sum(self.counts)
        assert self.size is not None
        return self.size

    def describe(self) -> str:
        origin = "counted" if self.counts is not None else "declared"
        return f"{self.n_docs()} docs ({origin}) in {len(self.shards)} shard(s)"

    def stats(self) -> Dict[str, Any]:
        return {**super().stats(), "shards": len(self.shards)}

    def count(self, vocab: Vocab) -> None:
        """Read the source once, shard by shard: sizes and annotation, then the checks."""
        counts: List[int] = []
        annotated = dict.fromkeys(TASKS, 0)
        for shard in self.shards:
            left = self.limit - sum(counts) if self.limit else None
            docs = list(islice(read_shard(shard, vocab), left)) if left != 0 else []
            counts.append(len(docs))
            for task, n in count_annotated(docs).items():
                annotated[task] += n
        if not sum(counts):
            raise self.no_documents()
        self._warned = bool(self.settle_tasks(annotated, sum(counts)))
        self.counts = counts

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
        for i in order:
            if self.counts is not None and self.counts[i] == 0:
                continue
            docs = read_shard(self.shards[i], vocab)
            if self.counts is not None:
                docs = islice(docs, self.counts[i])
            if rng is not None:
                docs = list(docs)
                rng.shuffle(docs)
            for doc in docs:
                self._mask(doc)
                yield doc

    def _mask(self, doc: Doc) -> None:
        masked = self.mask(doc)
        # Uncounted, the source learns what it ignores only as it streams: warn then, once.
        if masked and not self._warned:
            self._warned = True
            warnings.warn(
                f"Documents of source {self.name!r} carry {TASK_NOUNS[masked[0]]} although the "
                f"source is declared for {', '.join(self.tasks)} only; they are ignored "
                f"(marked missing).",
                MultiTaskCorpusWarning,
                stacklevel=4,
            )


class StreamingMultiTaskCorpus(MultiTaskReader):
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

    title = "streamed multi-task corpus"
    seed_key = "spacy_mtl.StreamingMultiTaskCorpus"
    source_type = StreamedSource
    sources: Dict[str, StreamedSource]
    _counted = False

    def _load(self, nlp: "Language") -> None:
        if self._counted:
            return
        for source in self.sources.values():
            if source.needs_count and source.counts is None:
                source.count(nlp.vocab)
        self._set_shares()
        self._counted = True

    def _epoch(self, nlp: "Language", epoch: int) -> Iterator[Example]:
        # The generator is drawn now, so the epoch does not depend on when it is read.
        return self._stream(nlp, self._rng(epoch))

    def _stream(self, nlp: "Language", rng: random.Random) -> Iterator[Example]:
        names = list(self.sources)
        if self.sampling == SAMPLING_NONE:
            counts = [self.sources[name].n_docs() for name in names]
            streams = [self._examples(nlp, self.sources[name], rng, cycle=False) for name in names]
            if not self.shuffle:
                for stream in streams:
                    yield from stream
                return
        else:
            shares = [self._shares[name] for name in names]
            counts = allocate_slots(shares, self._epoch_size(), rng)
            streams = [self._examples(nlp, self.sources[name], rng, cycle=True) for name in names]
        yield from _interleave(streams, counts, rng, drain=self.sampling == SAMPLING_NONE)

    def _examples(
        self, nlp: "Language", source: StreamedSource, rng: random.Random, *, cycle: bool
    ) -> Iterator[Example]:
        own = random.Random(rng.getrandbits(64)) if self.shuffle else None
        while True:
            produced = 0
            docs = source.docs(nlp.vocab, own)
            examples = make_examples(
                nlp, docs, gold_preproc=self.gold_preproc, max_length=self.max_length
            )
            for eg in examples:
                produced += 1
                yield eg
            if not cycle:
                return
            if produced == 0:
                raise MultiTaskCorpusError(
                    f"Source {source.name!r} gave no examples in a whole pass over "
                    f"{str(source.path)!r}: check max_length ({self.max_length})."
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
