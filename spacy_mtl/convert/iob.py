"""The CoNLL-style column format: one token per line, its entity tag in the last column.

A blank line ends a sentence and ``-DOCSTART-`` lines are skipped. Entities only; the given
tokens are kept exactly.
"""

from pathlib import Path
from typing import List, Tuple

from spacy.tokens import Doc

from ..annotation import TASK_ENTS
from .common import (
    ConversionError,
    PathLike,
    doc_from_words,
    make_vocab,
    mark_tasks_missing,
    read_lines,
    split_blanks,
)
from .tags import set_entities, spans_from_tags, warn_repairs

FORMAT_IOB = "iob"
IOB_TASKS = (TASK_ENTS,)
DOCSTART = "-DOCSTART-"


def read_iob(input_path: PathLike, *, lang: str = "en", strict: bool = False) -> List[Doc]:
    """Read a CoNLL-style column file with IOB tags into Docs, one per sentence.

    Columns are separated by tabs or spaces; the first is the token and the
    last its tag, any between are ignored. A blank line ends a sentence and
    "-DOCSTART-" lines are skipped. Categories stay missing.

    input_path (Union[str, Path]): The column file.
    lang (str): Language code, for the vocabulary.
    strict (bool): Raise on a continuation tag that begins an entity, instead
        of repairing it with a warning.
    RETURNS (List[Doc]): One document per sentence, with the given tokens.
    """
    input_path = Path(input_path)
    vocab = make_vocab(lang)
    docs = []
    repairs: List[Tuple[int, str]] = []
    words: List[str] = []
    tags: List[str] = []
    lines: List[int] = []

    def end_sentence() -> None:
        if words:
            doc = doc_from_words(vocab, words)
            set_entities(doc, spans_from_tags(tags, input_path, lines, strict, repairs))
            docs.append(doc)
        words.clear()
        tags.clear()
        lines.clear()

    for line, text in read_lines(input_path):
        fields = split_blanks(text)
        if not fields or fields[0] == DOCSTART:
            end_sentence()
            continue
        if len(fields) < 2:
            raise ConversionError(
                f"one column ({fields[0]!r}) where a token and its tag are expected. "
                "Put the token first and its IOB tag last, separated by a tab or "
                "spaces, and a blank line after each sentence.",
                path=input_path,
                line=line,
            )
        words.append(fields[0])
        tags.append(fields[-1])
        lines.append(line)
    end_sentence()
    warn_repairs(input_path, repairs)
    if not docs:
        raise ConversionError("no documents: the file holds no token lines.", path=input_path)
    mark_tasks_missing(docs, IOB_TASKS)
    return docs
