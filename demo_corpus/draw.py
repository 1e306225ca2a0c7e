"""Corpora of any size from the English demo generator (english.py), for the benchmarks.

The demo generator writes a few hundred distinct sentences; the benchmarks need
10k to 200k documents. This draws them from the same templates and slot
fillers with a fixed seed, repeats allowed, so the sentences look like the demo
corpus and the vocabulary stays bounded however many are drawn.

    python -m demo_corpus draw jsonl 100000 corpus.jsonl
    python -m demo_corpus draw shards 200000 corpus/   # cats/ and ents/ .spacy shards
    python -m demo_corpus draw dev 2000 dev.spacy      # jointly annotated
"""

# json, not srsly: the corpus keeps the bytes the benchmarks were measured on.
import json
import random
from pathlib import Path
from typing import Iterator, List, Tuple

from . import english as demo

SHARD_SIZE = 5000


def sentences(n: int, seed: int = 0) -> Iterator[Tuple[List[str], List[str], str]]:
    """Draw n sentences: (tokens, BIO tags, intent), intents in turn, templates at random."""
    rng = random.Random(seed)
    pools = demo.Pools(rng, held_out=True)
    intents = list(demo.TEMPLATES)
    for i in range(n):
        intent = intents[i % len(intents)]
        tokens, tags = demo.fill(rng.choice(demo.TEMPLATES[intent]), pools, rng)
        tokens, tags = demo.decorate(tokens, tags, intent, rng)
        yield tokens, tags, intent


def write_jsonl(n: int, path: Path, seed: int = 0) -> int:
    """Write n documents as {"id", "text"} lines; return the number of words."""
    words = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for i, (tokens, _, _) in enumerate(sentences(n, seed)):
            words += len(tokens)
            handle.write(json.dumps({"id": i, "text": " ".join(tokens)}) + "\n")
    return words


def write_shards(n: int, folder: Path, seed: int = 0) -> None:
    """Write n documents as two sources: cats/ (every even draw) and ents/ (every odd one).

    Shards hold SHARD_SIZE documents each; the draws are already in random
    order, as a streamed reader wants them.
    """
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    intents = list(demo.TEMPLATES)
    bins = {"cats": [], "ents": []}
    counts = {"cats": 0, "ents": 0}

    def flush(task: str) -> None:
        out = folder / task / f"shard-{counts[task] // SHARD_SIZE - 1:04d}.spacy"
        out.parent.mkdir(parents=True, exist_ok=True)
        DocBin(docs=bins[task], store_user_data=True).to_disk(out)
        bins[task] = []

    for i, (tokens, tags, intent) in enumerate(sentences(n, seed)):
        if i % 2 == 0:
            doc = Doc(vocab, words=tokens)
            doc.cats = {label: float(label == intent) for label in intents}
            task = "cats"
        else:
            doc = Doc(vocab, words=tokens, ents=tags)
            task = "ents"
        bins[task].append(doc)
        counts[task] += 1
        if counts[task] % SHARD_SIZE == 0:
            flush(task)
    for task in bins:
        if bins[task]:
            counts[task] += SHARD_SIZE - len(bins[task])  # name the last shard like the others
            flush(task)


def write_joint_docbin(n: int, path: Path, seed: int) -> None:
    """Write n jointly annotated documents (a dev set) to one .spacy file."""
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    intents = list(demo.TEMPLATES)
    docs = []
    for tokens, tags, intent in sentences(n, seed):
        doc = Doc(vocab, words=tokens, ents=tags)
        doc.cats = {label: float(label == intent) for label in intents}
        docs.append(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs).to_disk(path)
