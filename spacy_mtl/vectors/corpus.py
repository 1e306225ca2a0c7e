"""The training corpora's words and how often each occurs: the table's first keys."""

from collections import Counter
from pathlib import Path
from typing import Iterable

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .errors import VectorsError


def count_corpus_words(paths: Iterable[Path], vocab: Vocab) -> Counter:
    """Count the token texts of .spacy corpora, whitespace tokens left out.

    paths (Iterable[Path]): The .spacy files.
    vocab (Vocab): The vocab to read into.
    RETURNS (Counter): Each word's count over every corpus.
    """
    counts: Counter = Counter()
    for path in paths:
        for doc in _read(Path(path), vocab):
            counts.update(token.text for token in doc if not token.is_space)
    return counts


def _read(path: Path, vocab: Vocab):
    if path.is_dir():
        raise VectorsError(f"{path}: is a folder, where a .spacy corpus is expected (--corpus).")
    if not path.is_file():
        raise VectorsError(f"{path}: no such file (--corpus takes .spacy files).")
    try:
        doc_bin = DocBin().from_disk(path)
        docs = list(doc_bin.get_docs(vocab))
    except Exception as err:  # msgpack, zlib and spaCy raise their own types
        raise VectorsError(f"{path}: not a .spacy file (DocBin): {err}") from None
    if not docs:
        raise VectorsError(f"{path}: holds no documents; give a training corpus.")
    return docs
