"""Which words get a row, in the order that stands for their frequency (for SIF weights)."""

from collections import Counter
from typing import Iterable, Iterator, List, Tuple


def build_vocabulary(
    corpus_counts: Counter, transformer_words: Iterable[str], *, lowercase: bool
) -> List[str]:
    """The table's keys: the corpus's words, most frequent first, then the transformer's.

    corpus_counts (Counter): Word counts over the training corpora.
    transformer_words (Iterable[str]): The transformer's whole-word pieces, in id order
        (roughly frequency order for WordPiece and BPE vocabularies).
    lowercase (bool): Key by lowercase form (an uncased transformer gives each case one vector).
    RETURNS (List[str]): Distinct keys; their position is their rank for Zipf's law.
    """
    counts: Counter = Counter()
    for word, count in corpus_counts.items():
        counts[word.lower() if lowercase else word] += count
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    seen = set(ranked)
    for word in transformer_words:
        key = word.lower() if lowercase else word
        if key not in seen:
            seen.add(key)
            ranked.append(key)
    return ranked


def row_keys(
    rows: List[str], corpus_counts: Counter, *, lowercase: bool
) -> Iterator[Tuple[str, int]]:
    """Every key of each row: for an uncased transformer, the case forms that share it.

    spaCy saves a default-mode table keyed by ORTH only (Vectors' `attr` is kept for
    floret tables alone), so "Boston", "BOSTON" and "boston" are each a key of
    the one row; the corpus's own forms ("iPhone") are keys too.

    rows (List[str]): The words that have a row, in row order.
    corpus_counts (Counter): The corpus's words in their own case.
    lowercase (bool): Whether rows are lowercase forms.
    YIELDS (Tuple[str, int]): A key and its row.
    """
    if not lowercase:
        yield from ((word, row) for row, word in enumerate(rows))
        return
    forms: dict = {}
    for word in sorted(corpus_counts):
        forms.setdefault(word.lower(), set()).add(word)
    for row, word in enumerate(rows):
        keys = {word, word.title(), word.upper(), word.capitalize()} | forms.get(word, set())
        yield from ((key, row) for key in sorted(keys))
