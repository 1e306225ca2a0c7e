"""Which words get a row, in the order that stands for their frequency (for SIF weights)."""

from collections import Counter
from typing import Iterable, List


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
