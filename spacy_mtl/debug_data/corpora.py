"""Read the training and dev corpora exactly as `spacy train` does, source by source.

The config is loaded and its [corpora] resolved with spaCy's registry, as
`spacy train` and `spacy debug data` do. A multi-task reader's sources are read
one by one (once each, in file order, the undeclared tasks marked missing as in
training); any other reader (spacy.Corpus.v1) is one source.
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy import util
from spacy.language import Language
from spacy.schemas import ConfigSchemaTraining
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.corpus import walk_corpus
from thinc.api import ConfigValidationError

from ..atomic import OutputError, check_output
from ..training.corpus import InMemorySource
from ..training.reader import MultiTaskReader
from ..training.sources import make_examples
from ..training.streaming import StreamedSource


class DebugDataError(ValueError):
    """The config or its corpora cannot be read; the message says why."""


@dataclass
class SourceData:
    """The examples of one source of the train or dev corpus, and its sampling share."""

    corpus: str
    name: str
    path: str
    examples: List[Example]
    tasks: List[str] = field(default_factory=list)
    weight: float = 1.0
    share: Optional[float] = None
    per_epoch: Optional[float] = None


@dataclass
class Corpora:
    nlp: Language
    config: Any
    sources: List[SourceData]
    warnings: List[str]

    def of(self, corpus: str) -> List[SourceData]:
        return [s for s in self.sources if s.corpus == corpus]


def load(config_path: Path, overrides: Dict[str, Any]) -> Tuple[Language, Any, Any, Any]:
    """The pipeline of the config, the config, and its train and dev readers."""
    if not config_path.is_file():
        raise DebugDataError(f"{config_path}: no such config file.")
    try:
        cfg = util.load_config(config_path, overrides=overrides, interpolate=False)
    except (ConfigValidationError, ValueError) as err:  # no [section], a stray line, bytes
        reason = " ".join(str(err).split())
        raise DebugDataError(f"{config_path}: not a readable spaCy config ({reason}).") from err
    try:
        nlp = util.load_model_from_config(cfg, auto_fill=True)
        config = nlp.config.interpolate()
        training = util.registry.resolve(config["training"], schema=ConfigSchemaTraining)
        names = [training["train_corpus"], training["dev_corpus"]]
        train, dev = util.resolve_dot_names(config, names)
    except ConfigValidationError as err:
        raise DebugDataError(f"{config_path}: the config is not valid:\n{err}") from err
    except (ValueError, OSError) as err:
        raise DebugDataError(f"{config_path}: {' '.join(str(err).split())}") from err
    return nlp, config, train, dev


def read_corpora(
    config_path: Path, overrides: Dict[str, Any], *, output: Optional[Path] = None
) -> Corpora:
    """Every source of the training and dev corpora, read as training reads them.

    config_path (Path): The training config.
    overrides (Dict[str, Any]): Config overrides, as `spacy train` takes them.
    output (Optional[Path]): Where the report will be written: refused before any corpus is
        read if it is the config or one of the corpus files (atomic.check_output).
    RETURNS (Corpora): The pipeline, the config, the sources and the readers' warnings.
    """
    nlp, config, train, dev = load(config_path, overrides)
    files = corpus_files([train, dev])
    if output is not None:
        try:
            check_output(output, [config_path, *files])
        except OutputError as err:
            raise DebugDataError(f"--output {err}") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sources = read_reader("train", train, nlp) + read_reader("dev", dev, nlp)
        except Exception as err:  # msgpack, zlib and spaCy raise their own types
            unreadable = first_unreadable(files)
            if unreadable is not None:
                raise DebugDataError(unreadable) from None
            if not isinstance(err, (ValueError, OSError)):
                raise
            raise DebugDataError(f"{config_path}: cannot read the corpora: {err}") from err
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return Corpora(nlp=nlp, config=config, sources=sources, warnings=messages)


def corpus_files(readers: Iterable[Any]) -> List[Path]:
    """Every path the readers read: each source's path and, for a folder, its .spacy files."""
    paths: List[Path] = []
    for reader in readers:
        if isinstance(reader, MultiTaskReader):
            found = [source.path for source in reader.sources.values()]
        else:
            found = [Path(reader.path)] if getattr(reader, "path", None) is not None else []
        for path in found:
            paths.append(Path(path))
            if Path(path).is_dir():
                paths.extend(walk_corpus(path, ".spacy"))
    return paths


def first_unreadable(files: Iterable[Path]) -> Optional[str]:
    """A message naming the first corpus file that is not a readable DocBin, if any."""
    for path in files:
        if not path.is_file():
            continue
        try:
            DocBin().from_disk(path)
        except Exception as err:  # msgpack, zlib and spaCy raise their own types
            reason = " ".join(str(err).split())
            return (
                f"{path}: not a readable DocBin (.spacy) file, truncated or not written by "
                f"spaCy ({reason}). Recreate it (spacy_mtl convert), or point the config at "
                "another corpus."
            )
    return None


def read_reader(corpus: str, reader: Any, nlp: Language) -> List[SourceData]:
    """The sources of one reader: a multi-task reader's, or the reader as one source."""
    if not isinstance(reader, MultiTaskReader):
        examples = list(reader(nlp))
        path = str(getattr(reader, "path", corpus))
        return [SourceData(corpus, corpus, path, examples, share=1.0, per_epoch=len(examples))]
    stats = reader.stats(nlp)
    found = []
    for name, source in reader.sources.items():
        if isinstance(source, InMemorySource):
            examples = list(source.examples)
        elif isinstance(source, StreamedSource):
            docs = source.docs(nlp.vocab, None)
            examples = list(
                make_examples(
                    nlp, docs, gold_preproc=reader.gold_preproc, max_length=reader.max_length
                )
            )
        else:  # pragma: no cover - the two readers' source types are the only ones
            raise DebugDataError(f"Unknown source type {type(source).__name__} of {name!r}.")
        info = stats[name]
        found.append(
            SourceData(
                corpus,
                name,
                info["path"],
                examples,
                tasks=list(info["tasks"]),
                weight=info["weight"],
                share=info["share"],
                per_epoch=info["per_epoch"],
            )
        )
    return found
