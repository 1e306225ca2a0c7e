"""Convert character-column corpora, the common form of Chinese intent and slot data.

Two formats, listed in ``spacy_mtl.convert.FORMATS``:

- ``columns``: a slots file with one ``TOKEN TAG`` line per token (usually one
  character) and a blank line after each sentence, as in CAIS or SMP-ECDT
  exports. Entities; with an intents file (``intents=``, ``--intents``) also
  categories. The token and its tag are separated by spaces or a tab; the tag is
  the last field, the token everything before it, so a space character is a
  token too (the line ``"  O"`` holds the token ``" "``). Tags may be BIO, BIOES
  or BILOU, read as ``spacy_mtl.convert.tags`` reads them.
- ``intents``: one ``TEXT<TAB>INTENT`` line per sentence. Categories only; the
  text goes through the language's tokenizer (for Chinese, spaCy's character
  segmenter), the same tokens a trained pipeline sees.

The intents file of a ``columns`` corpus has one line per sentence of the slots
file, in the same order: either ``INTENT`` alone, or ``TEXT<TAB>INTENT``, whose
text is then checked against the sentence (whitespace aside), which catches a
shifted line at once.

Tokens are joined without spaces (``Doc(spaces=False)``), since Chinese has
none; a space token becomes the whitespace after the token before it, as
spaCy's Chinese tokenizer treats a space, so ``播放Let It Be`` has the tokens of
``nlp("播放Let It Be")`` and an entity that spans the spaces (an English song
title) keeps its characters and its alignment. An entity's leading or trailing
spaces are not part of it.

Every problem raises a ``ConversionError`` that names the file and line: a
different number of sentences in the two files, a line without a tag, a
broken or unknown tag, an empty sentence, a text that is not its sentence.
"""

import re
from pathlib import Path
from typing import Iterable, List, NamedTuple, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import get_words_and_spaces

from ..annotation import TASK_CATS, TASK_ENTS
from .common import (
    ConversionError,
    PathLike,
    check_tasks,
    make_tokenizer,
    make_vocab,
    mark_tasks_missing,
    read_lines,
    set_cats,
    write_docbin,
)
from .tags import first_end_tag_line, spans_from_tags, warn_repairs

FORMAT_COLUMNS = "columns"
# Categories only with an intents file.
COLUMNS_TASKS = (TASK_CATS, TASK_ENTS)
FORMAT_INTENTS = "intents"
INTENTS_TASKS = (TASK_CATS,)

# The tag is the last blank-free field; the token is what comes before the
# blanks that precede it, possibly nothing (a line of blanks and a tag holds a
# space token).
_COLUMN_LINE = re.compile(r"^(.*?)[ \t]+(\S+)$")
_INTENT_SEPARATOR = "\t"


class Sentence(NamedTuple):
    """One sentence of a slots file: its tokens, tags and the line of each."""

    tokens: List[str]
    tags: List[str]
    lines: List[int]


class Intent(NamedTuple):
    """One line of an intents file: its line, its text (if given) and its intent."""

    line: int
    text: Optional[str]
    label: str


def read_columns(
    slots_path: PathLike,
    *,
    intents_path: Optional[PathLike] = None,
    lang: str = "zh",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
) -> List[Doc]:
    """Read a character-column slots file, and optionally its intents file, into Docs.

    slots_path (Union[str, Path]): The slots file, one "TOKEN TAG" line per
        token, a blank line after each sentence.
    intents_path (Optional[Union[str, Path]]): The intents file, one line per
        sentence of the slots file: "INTENT" or "TEXT<TAB>INTENT".
    lang (str): Language code, for the vocabulary.
    tasks (Optional[Iterable[str]]): The tasks to keep, from "cats" and
        "ents"; None keeps what the files annotate. A task left out stays
        missing on every document.
    strict (bool): Raise on a tag that is otherwise repaired with a warning
        (tags.py): a continuation tag that begins an entity, an entity without
        its end tag in a file with BIOES/BILUO end tags.
    RETURNS (List[Doc]): One document per sentence, with the given tokens.
    """
    slots_path = Path(slots_path)
    offered = (TASK_CATS, TASK_ENTS) if intents_path is not None else (TASK_ENTS,)
    keep = check_tasks(FORMAT_COLUMNS, offered if tasks is None else tasks, COLUMNS_TASKS)
    if TASK_CATS in keep and intents_path is None:
        raise ConversionError(
            "categories were asked for but no intents file was given. Pass the intents "
            "file (--intents FILE, one intent per sentence), or keep only 'ents'.",
            path=slots_path,
        )
    sentences = _read_sentences(slots_path)
    vocab = make_vocab(lang)
    repairs: List[Tuple[int, str]] = []
    end_tags_line = first_end_tag_line((s.tags, s.lines) for s in sentences)
    docs = [
        _doc_from_sentence(vocab, s, slots_path, strict, repairs, end_tags_line) for s in sentences
    ]
    warn_repairs(slots_path, repairs)
    if intents_path is not None and TASK_CATS in keep:
        intents_path = Path(intents_path)
        intents = _read_intents(intents_path, need_text=False)
        _check_alignment(slots_path, sentences, docs, intents_path, intents)
        set_cats(docs, [{intent.label} for intent in intents], intents_path)
    mark_tasks_missing(docs, keep)
    return docs


def read_intents(input_path: PathLike, *, lang: str = "zh") -> List[Doc]:
    """Read an intents file of "TEXT<TAB>INTENT" lines into Docs (categories only).

    input_path (Union[str, Path]): The intents file.
    lang (str): Language code of the tokenizer that segments the texts.
    RETURNS (List[Doc]): One document per line; entities stay missing.
    """
    input_path = Path(input_path)
    intents = _read_intents(input_path, need_text=True)
    make_doc = make_tokenizer(lang)
    docs = [make_doc(intent.text) for intent in intents]
    set_cats(docs, [{intent.label} for intent in intents], input_path)
    mark_tasks_missing(docs, INTENTS_TASKS)
    return docs


def convert_columns(
    slots_path: PathLike,
    output_path: PathLike,
    *,
    intents_path: Optional[PathLike] = None,
    lang: str = "zh",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
) -> int:
    """Convert a character-column slots file (and its intents) to a .spacy file.

    slots_path (Union[str, Path]): The slots file.
    output_path (Union[str, Path]): The .spacy file to write, atomically.
    intents_path (Optional[Union[str, Path]]): The intents file, if any.
    lang (str): Language code.
    tasks (Optional[Iterable[str]]): The tasks to keep; None keeps all.
    strict (bool): Raise on a tag that is otherwise repaired (tags.py).
    RETURNS (int): The number of documents written.
    """
    docs = read_columns(
        slots_path, intents_path=intents_path, lang=lang, tasks=tasks, strict=strict
    )
    return write_docbin(docs, output_path)


def convert_intents(input_path: PathLike, output_path: PathLike, *, lang: str = "zh") -> int:
    """Convert an intents file of "TEXT<TAB>INTENT" lines to a .spacy file.

    input_path (Union[str, Path]): The intents file.
    output_path (Union[str, Path]): The .spacy file to write, atomically.
    lang (str): Language code of the tokenizer.
    RETURNS (int): The number of documents written.
    """
    return write_docbin(read_intents(input_path, lang=lang), output_path)


def _read_sentences(path: Path) -> List[Sentence]:
    """Split a slots file into sentences at blank lines; check each line has a tag."""
    sentences = []
    current = Sentence([], [], [])
    for line, text in read_lines(path):
        text = text.rstrip(" \t")
        if not text:
            if current.tokens:
                sentences.append(current)
                current = Sentence([], [], [])
            continue
        match = _COLUMN_LINE.match(text)
        if match is None:
            raise ConversionError(
                f"one column ({text.strip()!r}) where a token and its tag are expected. "
                "Write the token, a space or tab, then its tag (e.g. '上 B-city'), and a "
                "blank line after each sentence.",
                path=path,
                line=line,
            )
        token, tag = match.groups()
        # A line of blanks before the tag is a space token (how CAIS writes one).
        current.tokens.append(token or " ")
        current.tags.append(tag)
        current.lines.append(line)
    if current.tokens:
        sentences.append(current)
    if not sentences:
        raise ConversionError("no documents: the file holds no token lines.", path=path)
    return sentences


def _doc_from_sentence(
    vocab,
    sentence: Sentence,
    path: Path,
    strict: bool,
    repairs: List[Tuple[int, str]],
    end_tags_line: Optional[int],
) -> Doc:
    """The Doc of one sentence: tokens joined without spaces, entities from the tags."""
    text = "".join(sentence.tokens)
    if not text.strip():
        raise ConversionError(
            "empty sentence: its tokens are all whitespace. Delete it (and its line in "
            "the intents file), or give it its characters.",
            path=path,
            line=sentence.lines[0],
        )
    # spaCy's own rule for words in a text: a space after a word is its
    # whitespace, any further space a token of its own.
    words = [part for token in sentence.tokens for part in token.split()]
    words, spaces = get_words_and_spaces(words, text)
    doc = Doc(vocab, words=words, spaces=spaces)
    starts = [0]
    for token in sentence.tokens:
        starts.append(starts[-1] + len(token))
    spans = spans_from_tags(
        sentence.tags, path, sentence.lines, strict, repairs, end_tags_line=end_tags_line
    )
    entities = []
    for start, end, label in spans:
        start_char, end_char = starts[start], starts[end]
        mention = text[start_char:end_char]
        if not mention.strip():
            raise ConversionError(
                f"the {label} entity holds only whitespace. Tag the space O, or extend the "
                "entity to its characters.",
                path=path,
                line=sentence.lines[start],
            )
        start_char += len(mention) - len(mention.lstrip())
        end_char -= len(mention) - len(mention.rstrip())
        span = doc.char_span(start_char, end_char, label=label)
        if span is None:  # cannot happen: every token boundary is a word boundary
            raise ConversionError(
                f"the {label} entity {text[start_char:end_char]!r} does not align with the tokens.",
                path=path,
                line=sentence.lines[start],
            )
        entities.append(span)
    doc.set_ents(entities, default="outside")
    return doc


def _read_intents(path: Path, *, need_text: bool) -> List[Intent]:
    """Read an intents file: one "INTENT" or "TEXT<TAB>INTENT" line per sentence."""
    lines = list(read_lines(path))
    # A trailing newline too many shifts no line.
    while lines and not lines[-1][1].strip():
        lines.pop()
    # An empty intents file beside a slots file is reported as the sentences it lacks.
    if not lines and need_text:
        raise ConversionError("no documents: the file is empty.", path=path)
    intents = []
    for line, text in lines:
        if not text.strip():
            raise ConversionError(
                "empty line: every line is one sentence's intent, so an empty one breaks "
                "the alignment. Fill it in, or delete it and its sentence.",
                path=path,
                line=line,
            )
        intents.append(_parse_intent(text, path, line, need_text=need_text))
    return intents


def _parse_intent(text: str, path: Path, line: int, *, need_text: bool) -> Intent:
    """One line of an intents file: "INTENT" or "TEXT<TAB>INTENT", nothing more."""
    fields = text.split(_INTENT_SEPARATOR)
    if len(fields) > 2:
        shown = " | ".join(repr(field) for field in fields)
        raise ConversionError(
            f"{len(fields)} tab-separated fields ({shown}) where TEXT<TAB>INTENT is "
            "expected: a text holds no tab, and a line has one intent. Remove the extra "
            "tab(s), or merge the fields.",
            path=path,
            line=line,
        )
    label = fields[-1].strip()
    sentence = fields[0] if len(fields) == 2 else None
    if need_text and sentence is None:
        raise ConversionError(
            f"no tab: expected TEXT<TAB>INTENT, but the line {text.strip()!r} holds none. "
            "Write the sentence, a tab, then its intent ('明天天气怎么样<TAB>weather').",
            path=path,
            line=line,
        )
    if sentence is not None and not sentence.strip():
        raise ConversionError(
            "no text before the tab. Write the sentence, a tab, then its intent, "
            "or the intent alone (columns intents files).",
            path=path,
            line=line,
        )
    if not label:
        raise ConversionError(
            "no intent after the tab. Write the sentence, a tab, then its intent.",
            path=path,
            line=line,
        )
    return Intent(line, sentence, label)


def _check_alignment(
    slots_path: Path,
    sentences: List[Sentence],
    docs: List[Doc],
    intents_path: Path,
    intents: List[Intent],
) -> None:
    """The intents file has one line per sentence, and its texts are the sentences."""
    if len(intents) != len(sentences):
        if len(intents) > len(sentences):
            path, line = intents_path, intents[len(sentences)].line
            extra = f"its line {line} has no sentence"
        else:
            path, line = slots_path, sentences[len(intents)].lines[0]
            extra = f"sentence {len(intents) + 1} (line {line}) has no intent"
        raise ConversionError(
            f"{slots_path} has {len(sentences)} sentences but {intents_path} has "
            f"{len(intents)} intent lines; {extra}. The intents file needs one line per "
            "sentence, in order: find the missing or extra one.",
            path=path,
            line=line,
        )
    for i, intent in enumerate(intents):
        if intent.text is None:
            continue
        if "".join(intent.text.split()) != "".join(docs[i].text.split()):
            raise ConversionError(
                f"the text {intent.text!r} is not sentence {i + 1} of {slots_path} "
                f"({docs[i].text!r}, line {sentences[i].lines[0]}). The files are out of "
                "step: find the missing or extra sentence.",
                path=intents_path,
                line=intent.line,
            )
