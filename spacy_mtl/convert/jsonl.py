"""The JSONL format: one object a line, a text and its categories.

``{"text": ..., "label": "x"}`` or ``{"text": ..., "labels": ["x", "y"]}``, with optional
``"tokens"`` (kept as given); a text without tokens goes through the language's tokenizer.
Tokens given with a text must spell it, whitespace aside (else an error names the line), and
the Doc keeps the text's whitespace; tokens alone are joined by single spaces.
Categories only. A file that gives one class a document (``"label"``), or one converted with
``exclusive=True``, is checked for exactly one category a document.
"""

# Parsed with the standard json module, not srsly: srsly's ujson has no object_pairs_hook
# (a key given twice would silently lose a value, a lone surrogate escape would pass) and
# its errors name no column.
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from spacy.tokens import Doc
from spacy.util import get_words_and_spaces
from spacy.vocab import Vocab

from ..annotation import TASK_CATS
from .common import (
    ConversionError,
    PathLike,
    check_exclusive,
    doc_from_words,
    make_tokenizer,
    make_vocab,
    mark_tasks_missing,
    read_lines,
    set_cats,
)

FORMAT_JSONL = "jsonl"
JSONL_TASKS = (TASK_CATS,)


def read_jsonl(
    input_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read a JSONL file of texts and their categories into Docs.

    Each non-blank line is an object with "text" and/or "tokens" (a list of
    strings, which are kept as given, and must spell "text" whitespace aside
    when both are given) and either "label" (one class) or "labels" (a list
    of classes, maybe empty). Entities stay missing.

    input_path (Union[str, Path]): The JSONL file.
    lang (str): Language code of the tokenizer for texts without "tokens".
    strict (bool): Raise, rather than warn, on documents without exactly one
        category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive.
        None: exclusive if any record gives a "label" (one class).
    RETURNS (List[Doc]): One document per line.
    """
    input_path = Path(input_path)
    vocab = make_vocab(lang)
    make_doc: Optional[Callable[[str], Doc]] = None
    docs = []
    doc_labels = []
    doc_lines = []
    one_class = False
    for line, text in read_lines(input_path):
        if not text.strip():
            continue
        record = _parse_record(text, input_path, line)
        if "tokens" not in record and make_doc is None:
            make_doc = make_tokenizer(lang, input_path, line)
        docs.append(_doc_from_record(record, make_doc, input_path, line, vocab=vocab))
        doc_labels.append(_labels_from_record(record, input_path, line))
        doc_lines.append(line)
        one_class = one_class or "label" in record
    if not docs:
        raise ConversionError("no documents: the file holds no JSON lines.", path=input_path)
    if exclusive if exclusive is not None else one_class:
        why = (
            '(the file gives one class a document with "label")'
            if exclusive is None
            else "(converted as exclusive)"
        )
        check_exclusive(doc_labels, doc_lines, input_path, why, strict)
    set_cats(docs, doc_labels, input_path)
    mark_tasks_missing(docs, JSONL_TASKS)
    return docs


def _parse_record(text: str, path: Path, line: int) -> Dict[str, Any]:
    """The JSON object of a line, or an error that says what the file looks like instead."""
    try:
        record = json.loads(text, object_pairs_hook=_json_object)
    except _JSONValueError as err:
        raise ConversionError(str(err), path=path, line=line) from None
    except json.JSONDecodeError as err:
        raise ConversionError(
            f"invalid JSON ({err.msg}, column {err.colno}). {_jsonl_hint(text, line)}",
            path=path,
            line=line,
        ) from None
    if not isinstance(record, dict):
        hint = _jsonl_hint(text, line)
        raise ConversionError(
            f"a JSON {type(record).__name__} where an object is expected. {hint}",
            path=path,
            line=line,
        )
    return record


def _doc_from_record(
    record: Dict,
    make_doc: Optional[Callable[[str], Doc]],
    path: Path,
    line: int,
    *,
    vocab: Optional[Vocab] = None,
) -> Doc:
    """The Doc of a JSONL record: its "tokens" as given, else its tokenized "text"."""
    if "tokens" in record:
        tokens = record["tokens"]
        if (
            not isinstance(tokens, list)
            or not tokens
            or not all(isinstance(token, str) and token.strip() for token in tokens)
        ):
            raise ConversionError(
                '"tokens" must be a non-empty list of non-empty strings, e.g. '
                '["new", "york"]. Fix it, or leave it out to tokenize "text".',
                path=path,
                line=line,
            )
        vocab = vocab if vocab is not None else make_doc.vocab
        if "text" in record:
            return _doc_from_tokens_and_text(
                vocab, tokens, _text_of(record, path, line), path, line
            )
        return doc_from_words(vocab, tokens)
    return _tokenize(record, make_doc, path, line, vocab)


def _tokenize(
    record: Dict, make_doc: Optional[Callable[[str], Doc]], path: Path, line: int, vocab
) -> Doc:
    """The Doc of a record's "text" through the language's tokenizer."""
    text = _text_of(record, path, line)
    if make_doc is None:
        make_doc = make_tokenizer(vocab.lang if vocab is not None else "xx", path, line)
    return make_doc(text)


def _text_of(record: Dict, path: Path, line: int) -> str:
    """A record's "text", checked to be a non-empty string."""
    if "text" not in record:
        raise ConversionError(
            'the object has no "text". Give each object its text: {"text": "...", "label": "..."}.',
            path=path,
            line=line,
        )
    text = record["text"]
    if not isinstance(text, str) or not text.strip():
        raise ConversionError(
            f'"text" must be a non-empty string, not {text!r}. Fix the text, or delete the line.',
            path=path,
            line=line,
        )
    return text


def _doc_from_tokens_and_text(
    vocab: Vocab, tokens: List[str], text: str, path: Path, line: int
) -> Doc:
    """The given tokens with the text's whitespace; an error if they do not spell the text."""
    try:
        words, spaces = get_words_and_spaces(tokens, text)
    except ValueError:
        raise ConversionError(
            f'the "tokens" do not spell "text" (whitespace aside): '
            f"{_spelling_difference(tokens, text)}. Fix the tokens or the text, or give "
            'only one of them ("tokens" alone are joined by single spaces).',
            path=path,
            line=line,
        ) from None
    return Doc(vocab, words=words, spaces=spaces)


def _spelling_difference(tokens: List[str], text: str) -> str:
    """Where the tokens first part from the text, for an error."""
    spelled, written = "".join("".join(tokens).split()), "".join(text.split())
    at = next(
        (i for i, (a, b) in enumerate(zip(spelled, written)) if a != b),
        min(len(spelled), len(written)),
    )
    if at < min(len(spelled), len(written)):
        return (
            f"at non-blank character {at + 1} the tokens have {spelled[at]!r} where the "
            f"text {text[:60]!r} has {written[at]!r}"
        )
    if len(spelled) < len(written):
        return (
            f"the tokens end after {' '.join(tokens)[-60:]!r}, where the text goes on "
            f"with {written[at:][:60]!r}"
        )
    if len(spelled) > len(written):
        return f"the text ends where the tokens go on with {spelled[at:][:60]!r}"
    # The same characters: a token holds whitespace the text writes otherwise.
    odd = next((t for t in tokens if t.strip() != t or len(t.split()) > 1), tokens[0])
    return f"the token {odd!r} is not in the text {text[:60]!r} as written"


def _labels_from_record(record: Dict, path: Path, line: int) -> Set[str]:
    """The categories of a JSONL record, from "label" or "labels"."""
    if "label" in record and "labels" in record:
        raise ConversionError(
            'the object has both "label" and "labels". Keep "label" for one class '
            'or "labels" for a list of classes.',
            path=path,
            line=line,
        )
    if "label" in record:
        label = record["label"]
        if not isinstance(label, str) or not label.strip():
            raise ConversionError(
                f'"label" must be a non-empty string, not {label!r}. For several '
                'classes use "labels": ["x", "y"].',
                path=path,
                line=line,
            )
        return {label.strip()}
    if "labels" in record:
        labels = record["labels"]
        if not isinstance(labels, list) or not all(
            isinstance(label, str) and label.strip() for label in labels
        ):
            raise ConversionError(
                f'"labels" must be a list of non-empty strings, not {labels!r}. '
                "Use [] for a text that has none of the classes.",
                path=path,
                line=line,
            )
        return {label.strip() for label in labels}
    raise ConversionError(
        'the object has no "label" or "labels". Add "label": "x" for one class, '
        'or "labels": ["x", "y"] for several.',
        path=path,
        line=line,
    )


class _JSONValueError(ValueError):
    """A JSON object that parses but means nothing sure: a key twice, a lone surrogate."""


def _json_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """Build a JSON object, refusing repeated keys and strings that are not Unicode text."""
    record: Dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise _JSONValueError(
                f"the key {key!r} appears twice in one object, so one of its values would be "
                "lost. Keep one."
            )
        for string in [key, value] + (value if isinstance(value, list) else []):
            if isinstance(string, str) and not _is_text(string):
                raise _JSONValueError(
                    f"the value of {key!r} holds a lone surrogate escape (such as \\ud800), "
                    "which is not a character and cannot be stored. Fix the escape."
                )
        record[key] = value
    return record


def _is_text(string: str) -> bool:
    try:
        string.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _jsonl_hint(text: str, line: int) -> str:
    """How to fix a JSONL line that is not one object, guessing what the file is instead."""
    start = text.lstrip()
    if start.startswith("[") and line == 1:
        return (
            "The file looks like one JSON array, but JSONL is expected: one object per "
            "line, no brackets. Convert it with `jq -c '.[]' FILE.json > FILE.jsonl`."
        )
    if start in ("{", "[") or start.startswith('"'):
        return (
            "The file looks like JSON spread over several lines, but JSONL is expected: "
            "each object on one line. Convert it with `jq -c '.[]' FILE.json > FILE.jsonl` "
            "(an array) or `jq -c . FILE.json > FILE.jsonl` (objects)."
        )
    return 'Write one complete JSON object per line, e.g. {"text": "...", "label": "..."}.'
