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
from .tags import first_end_tag_line, set_entities, spans_from_tags, warn_repairs

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
    strict (bool): Raise on a tag that is otherwise repaired with a warning
        (tags.py): a continuation tag that begins an entity, an entity without
        its end tag in a file with BIOES/BILUO end tags.
    RETURNS (List[Doc]): One document per sentence, with the given tokens.
    """
    input_path = Path(input_path)
    vocab = make_vocab(lang)
    # (words, tags, lines) of each sentence: the tags are decoded once the whole file has
    # shown whether it marks where entities end.
    sentences: List[Tuple[List[str], List[str], List[int]]] = [([], [], [])]
    for line, text in read_lines(input_path):
        fields = split_blanks(text)
        if not fields or fields[0] == DOCSTART:
            if sentences[-1][0]:
                sentences.append(([], [], []))
            continue
        if len(fields) < 2:
            raise ConversionError(
                f"one column ({fields[0]!r}) where a token and its tag are expected. "
                "Put the token first and its IOB tag last, separated by a tab or "
                "spaces, and a blank line after each sentence.",
                path=input_path,
                line=line,
            )
        words, tags, lines = sentences[-1]
        words.append(fields[0])
        tags.append(fields[-1])
        lines.append(line)
    sentences = [sentence for sentence in sentences if sentence[0]]
    end_tags_line = first_end_tag_line((tags, lines) for _, tags, lines in sentences)
    docs = []
    repairs: List[Tuple[int, str]] = []
    for words, tags, lines in sentences:
        doc = doc_from_words(vocab, words)
        spans = spans_from_tags(
            tags, input_path, lines, strict, repairs, end_tags_line=end_tags_line
        )
        set_entities(doc, spans)
        docs.append(doc)
    warn_repairs(input_path, repairs)
    if not docs:
        raise ConversionError("no documents: the file holds no token lines.", path=input_path)
    mark_tasks_missing(docs, IOB_TASKS)
    return docs
