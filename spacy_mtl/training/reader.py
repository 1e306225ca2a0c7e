"""What the two multi-task readers share: settings, shares, epoch size, seeds, report.

`MultiTaskCorpus` (corpus.py) holds its sources in memory and
`StreamingMultiTaskCorpus` (streaming.py) streams them; both take the same
settings and draw each epoch from the sources by the same shares. A subclass
reads its sources (`_load`) and yields an epoch (`_epoch`); the rest is here.
"""

import random
import warnings
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Type

from spacy.training import Example
from wasabi import msg

from .sampling import SAMPLING_NONE, SAMPLINGS, STRATEGY_PROPORTIONAL, source_shares
from .sources import MultiTaskCorpusError, MultiTaskCorpusWarning, Source

if TYPE_CHECKING:
    from spacy.language import Language


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


class MultiTaskReader:
    """A reader of several sources, each annotated for its own tasks; one epoch per call.

    sources (Dict[str, Dict[str, Any]]): The sources' sections, by name.
    sampling (str): "proportional", "uniform", "temperature" or "none".
    temperature (float): The temperature of "temperature" sampling.
    epoch_size (Optional[int]): Examples per call; default: all documents.
    shuffle (bool): Whether to shuffle documents.
    gold_preproc (bool): As in spaCy's Corpus.
    max_length (int): As in spaCy's Corpus.
    seed (Optional[int]): Seed of the sampling; default: Python's `random`.
    """

    # Set by each reader: its name in messages, what seeds its generators, its sources' class.
    title: str
    seed_key: str
    source_type: Type[Source]

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
        check_reader_settings(sources, sampling, epoch_size, self.title)
        self.sources = {name: self.source_type(name, cfg) for name, cfg in sources.items()}
        self.sampling = sampling
        self.temperature = temperature
        self.epoch_size = epoch_size
        self.shuffle = shuffle
        self.gold_preproc = gold_preproc
        self.max_length = max_length
        self.seed = seed
        self._check_weights()
        self._shares: Dict[str, float] = {}
        self._calls = 0
        self._reported = False

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        """Yield the examples of one epoch.

        nlp (Language): The current nlp object.
        YIELDS (Example): The examples.
        """
        self._load(nlp)
        if not self._reported:
            self._report()
            self._reported = True
        epoch = self._calls
        self._calls += 1
        return self._epoch(nlp, epoch)

    def stats(self, nlp: "Language") -> Dict[str, Dict[str, Any]]:
        """Describe each source, reading the sources first if needed.

        nlp (Language): The nlp object whose vocab reads the documents.
        RETURNS (Dict[str, Dict[str, Any]]): By source name: "path", "docs",
            "tasks", "weight", what the reader adds ("annotated", "shards"),
            "share" (of an epoch) and "per_epoch" (expected examples per epoch).
        """
        self._load(nlp)
        size = self._epoch_size()
        return {
            name: {
                **source.stats(),
                "share": self._shares[name],
                "per_epoch": self._shares[name] * size,
            }
            for name, source in self.sources.items()
        }

    def _load(self, nlp: "Language") -> None:
        """Read or count the sources if not done yet, then `_set_shares`."""
        raise NotImplementedError

    def _epoch(self, nlp: "Language", epoch: int) -> Iterator[Example]:
        """The examples of call number `epoch`."""
        raise NotImplementedError

    def _check_weights(self) -> None:
        if self.sampling == SAMPLING_NONE:
            ignored = [name for name, source in self.sources.items() if source.weight != 1.0]
            if ignored:
                warnings.warn(
                    f'sampling = "none" yields every document once: the weight of '
                    f"source(s) {', '.join(repr(name) for name in ignored)} is ignored.",
                    MultiTaskCorpusWarning,
                    stacklevel=3,
                )
            return
        weights = [source.weight for source in self.sources.values()]
        try:
            # Settings errors surface when the config is resolved, not after reading.
            source_shares([1] * len(weights), self.sampling, self.temperature, weights)
        except ValueError as err:
            raise MultiTaskCorpusError(
                f"{err} Sources: {', '.join(f'{n!r}' for n in self.sources)}."
            ) from err

    def _set_shares(self) -> None:
        sizes = [source.n_docs() for source in self.sources.values()]
        if self.sampling == SAMPLING_NONE:
            shares = [size / sum(sizes) for size in sizes]
        else:
            weights = [source.weight for source in self.sources.values()]
            shares = source_shares(sizes, self.sampling, self.temperature, weights)
        self._shares = dict(zip(self.sources, shares))

    def _epoch_size(self) -> int:
        if self.epoch_size is not None:
            return self.epoch_size
        return sum(source.n_docs() for source in self.sources.values())

    def _rng(self, epoch: int) -> random.Random:
        if self.seed is None:
            # Follows [training] seed: spacy train seeds Python's random with it.
            return random.Random(random.getrandbits(64))
        # A string seed is hashed deterministically (unlike a tuple's hash).
        return random.Random(f"{self.seed_key}:{self.seed}:{epoch}")

    def _report(self) -> None:
        size = self._epoch_size()
        mode = (
            "every document once"
            if self.sampling == SAMPLING_NONE
            else f"{self.sampling} sampling, {size} examples per epoch"
        )
        msg.info(f"{self.title.capitalize()}: {len(self.sources)} source(s), {mode}")
        for name, source in self.sources.items():
            msg.text(
                f"  source {name!r}: {source.describe()}, tasks {', '.join(source.tasks)}, "
                f"share {self._shares[name]:.3f} (~{self._shares[name] * size:.0f} per epoch)"
            )


__all__ = ["MultiTaskReader", "check_reader_settings"]
