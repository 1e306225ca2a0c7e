"""Corpus files the converter tests write, and how they read the results."""

import subprocess
import sys
from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab

# Made-up sentences. Tokens such as "o'clock", "6:30pm" and "u.s." would be
# split by spaCy's English tokenizer, so they show that given tokens are kept.
JOINT_TOKENS = [
    "book a table at 6:30pm in new york",
    "what is the fare to u.s. cities",
    "hello there",
    "wake me at 7 o'clock",
]
JOINT_TAGS = [
    "O O O O B-time O B-city I-city",
    "O O O O O B-country O",
    "O O",
    "O O O B-time I-time",
]
JOINT_LABELS = ["book_table", "fare#flight", "greet", "alarm"]


def write_lines(path: Path, lines, ending: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + ending for line in lines), encoding="utf8")
    return path


def write_joint(folder: Path, tokens=JOINT_TOKENS, tags=JOINT_TAGS, labels=JOINT_LABELS) -> Path:
    write_lines(folder / "seq.in", tokens)
    write_lines(folder / "seq.out", tags)
    write_lines(folder / "label", labels)
    return folder


def ents_of(doc):
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


def load(path: Path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "spacy_mtl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_error(exc_info, path: Path, line: int) -> None:
    """The ConversionError names the file and the line."""
    message = str(exc_info.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert exc_info.value.line == line


# One small corpus a format, for what every format shares.
JSONL_LINES = ['{"text": "fly to oslo", "label": "flight"}', '{"text": "a room", "label": "hotel"}']
CSV_LINES = ["text,label", "fly to oslo,flight", '"a ""room""",hotel']
IOB_LINES = ["fly O", "to O", "oslo B-city", "", "new B-city", "york I-city"]


def write_corpus(tmp: Path, fmt: str, ending: str) -> Path:
    """A small valid corpus of a format, with the given line ending."""
    if fmt == "joint":
        folder = tmp / "joint"
        write_lines(folder / "seq.in", JOINT_TOKENS, ending)
        write_lines(folder / "seq.out", JOINT_TAGS, ending)
        write_lines(folder / "label", JOINT_LABELS, ending)
        return folder
    lines = {"iob": IOB_LINES, "jsonl": JSONL_LINES, "csv": CSV_LINES}[fmt]
    return write_lines(tmp / f"a.{fmt}", lines, ending)


def summary(docs):
    """What a conversion must keep: tokens, categories, entities."""
    return [([t.text for t in doc], doc.cats, ents_of(doc)) for doc in docs]
