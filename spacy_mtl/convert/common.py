"""What every converter shares: its errors, how it reads lines and makes Docs, and how it writes.

Input files must be UTF-8 (a leading byte-order mark is ignored); a line that is not names
the encoding it most likely is in (encoding.py) and the ``iconv`` command that re-saves the
file. Lines end with ``\\n``, ``\\r\\n`` or ``\\r``, which are all read alike. Every problem
in the input raises a ``ConversionError`` that names the file and the 1-based line and says
how to fix it.

A task the input does not annotate stays *missing* on every document, as
``spacy_mtl.annotation`` defines it: ``doc.cats == {}``, ``ent_iob == 0``. An annotated
document lists every category label seen in its input file (1.0 for its own, 0.0 for the
others). The output is written atomically (``spacy_mtl.atomic``): a failed or killed
conversion leaves an existing output file as it was, and an output that is an input, a link, a
device or a FIFO is refused before anything is read.
"""

import codecs
import functools
import re
import shlex
import warnings
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import spacy
from spacy.tokens import Doc, DocBin
from spacy.util import get_lang_class
from spacy.vocab import Vocab, create_vocab

from ..annotation import TASKS, mark_missing
from ..atomic import OutputError, check_output, write_bytes_atomic

PathLike = Union[str, Path]

# How many lines a warning lists before it only counts them.
MAX_LINES_SHOWN = 5
# Only ASCII blanks separate tokens and columns: a no-break space inside a
# token is part of the token.
_BLANKS = re.compile(r"[ \t]+")
# The packages a language's tokenizer needs, when spaCy does not bundle them.
_TOKENIZER_PACKAGES = {
    "ja": "sudachipy and sudachidict_core (pip install 'spacy[ja]')",
    "ko": "natto-py and the mecab-ko library with mecab-ko-dic (pip install 'spacy[ko]')",
    "th": "pythainlp (pip install 'spacy[th]')",
    "vi": "pyvi (pip install pyvi)",
}


class ConversionError(ValueError):
    """Input (or an option) that cannot be converted, with where to fix it.

    message (str): What is wrong and how to fix it.
    path (Optional[Union[str, Path]]): The file at fault, if any.
    line (Optional[int]): The 1-based line of `path` at fault, if any.
    """

    def __init__(
        self, message: str, *, path: Optional[PathLike] = None, line: Optional[int] = None
    ):
        self.path = str(path) if path is not None else None
        self.line = line
        where = self.path or ""
        if line is not None:
            where = f"{where}, line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)


class ConversionWarning(UserWarning):
    """Input that was converted after a repair the user should check."""


def read_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Yield (1-based line number, text without its line ending) of a UTF-8 file.

    "\\n", "\\r\\n" and a lone "\\r" (old Mac files) all end a line.
    """
    try:
        file_ = open(path, "rb")
    except FileNotFoundError:
        raise ConversionError("no such file. Check the path.", path=path) from None
    except IsADirectoryError:
        raise ConversionError("is a folder, where a file is expected.", path=path) from None
    except OSError as err:
        raise ConversionError(f"cannot be read ({err.strerror}).", path=path) from None
    # Decoded a line at a time so that a bad byte is reported with its line.
    with file_:
        for line, raw in enumerate(_raw_lines(file_, path), start=1):
            if line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            yield line, _decode_line(raw, path, line)


def _decode_line(raw: bytes, path: Path, line: int) -> str:
    nul = raw.find(b"\0")
    if nul >= 0:
        raise ConversionError(
            f"a NUL byte at byte {nul + 1} of the line: this is not a "
            "UTF-8 text file (UTF-16 text has NUL bytes). Re-save the file as UTF-8, "
            "e.g. with `iconv -f utf-16 -t utf-8`.",
            path=path,
            line=line,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConversionError(
            f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} "
            f"of the line). {_encoding_advice(raw, err.start, path)}",
            path=path,
            line=line,
        ) from None


def _encoding_advice(raw: bytes, start: int, path: Path) -> str:
    """How to re-save a file whose line `raw` is not UTF-8."""
    piece = raw[start : start + 3]
    if len(piece) == 3 and piece[0] == 0xED and 0xA0 <= piece[1] <= 0xBF and piece[2] >= 0x80:
        # Half of a UTF-16 surrogate pair in UTF-8 form: no encoding explains it.
        surrogate = ord(piece.decode("utf-8", "surrogatepass"))
        return (
            f"Its bytes encode U+{surrogate:04X}, half of a UTF-16 surrogate pair, which is not "
            "a character: the text was cut inside a character, or written as CESU-8 (Java's "
            "modified UTF-8). Fix or delete that character."
        )
    quoted = shlex.quote(str(path))
    return (
        "Re-save the file as UTF-8 from the encoding it was written in, e.g. `iconv -f "
        f"GB18030 -t UTF-8 {quoted} > {shlex.quote(str(path) + '.utf8')}` for Chinese text "
        "(CP1252 for Western, SHIFT_JIS for Japanese; `file -i` may tell)."
    )


def _raw_lines(file_: IO[bytes], path: Path) -> Iterator[bytes]:
    """Split a binary file at "\\n", "\\r\\n" and "\\r", without the line endings."""
    try:
        for raw in file_:
            newline = raw.endswith(b"\n")
            body = raw[:-1] if newline else raw
            if newline and body.endswith(b"\r"):
                body = body[:-1]
            if b"\r" not in body:
                yield body
                continue
            pieces = body.split(b"\r")
            # A file that ends with a lone "\r" has no line after it.
            if not newline and pieces[-1] == b"":
                pieces.pop()
            yield from pieces
    except OSError as err:
        raise ConversionError(f"cannot be read ({err.strerror}).", path=path) from None


def split_blanks(text: str) -> List[str]:
    """The fields of a line, separated by spaces and tabs."""
    return [part for part in _BLANKS.split(text.strip(" \t")) if part]


def lines_shown(lines: Sequence[int]) -> str:
    """'line 3' or 'lines 3, 5, ... and 2 more', for a warning."""
    shown = ", ".join(str(line) for line in lines[:MAX_LINES_SHOWN])
    more = len(lines) - MAX_LINES_SHOWN
    noun = "line" if len(lines) == 1 else "lines"
    return f"{noun} {shown}" + (f" and {more} more" if more > 0 else "")


def make_vocab(lang: str) -> Vocab:
    """The vocabulary of a language, for Docs built from given tokens."""
    return create_vocab(lang, _lang_class(lang).Defaults)


def _lang_class(lang: str):
    try:
        return get_lang_class(lang)
    except ImportError:
        raise ConversionError(
            f"unknown language code {lang!r}. Use a code spaCy supports, e.g. 'en', "
            "or 'xx' for several languages."
        ) from None


def make_tokenizer(
    lang: str, path: Optional[PathLike] = None, line: Optional[int] = None
) -> Callable[[str], Doc]:
    """The language's own tokenizer (with its vocab), for texts given without tokens.

    lang (str): Language code.
    path (Optional[Union[str, Path]]): The file whose text needs it, for errors.
    line (Optional[int]): The first line whose text needs it, for errors.
    RETURNS (Callable[[str], Doc]): The tokenizer.
    """
    _lang_class(lang)
    try:
        return load_tokenizer(lang)
    except ImportError as err:
        package = _TOKENIZER_PACKAGES.get(lang, f"what it names ({err})")
        raise ConversionError(
            f"the {lang!r} tokenizer needs a package that is not installed: install "
            f'{package}, or give each document its "tokens" (jsonl).',
            path=path,
            line=line,
        ) from None


@functools.lru_cache(maxsize=None)
def load_tokenizer(lang: str) -> Callable[[str], Doc]:
    """A blank pipeline's tokenizer, built once a language: building one is slow."""
    return spacy.blank(lang).tokenizer


def doc_from_words(vocab: Vocab, words: Sequence[str]) -> Doc:
    """A Doc of given tokens, one space between them: doc.text is the line."""
    spaces = [True] * (len(words) - 1) + [False]
    return Doc(vocab, words=list(words), spaces=spaces)


def check_tasks(format: str, tasks: Iterable[str], offered: Sequence[str]) -> Tuple[str, ...]:
    """Validate the tasks asked of a format; a string may list them with commas.

    format (str): The format's name, for errors.
    tasks (Iterable[str]): The tasks asked for.
    offered (Sequence[str]): The tasks the format annotates.
    RETURNS (Tuple[str, ...]): The tasks to keep, without repeats.
    """
    if isinstance(tasks, str):
        tasks = tasks.split(",")
    keep = tuple(dict.fromkeys(task.strip() for task in tasks if task.strip()))
    unknown = [task for task in keep if task not in TASKS]
    if unknown:
        raise ConversionError(f"unknown task(s) {unknown}. Use {' or '.join(TASKS)}.")
    if not keep:
        raise ConversionError(f"no tasks given. Keep at least one of {', '.join(offered)}.")
    absent = [task for task in keep if task not in offered]
    if absent:
        raise ConversionError(
            f"the {format} format does not annotate {', '.join(absent)}: it carries only "
            f"{', '.join(offered)}. Leave the tasks at their default."
        )
    return keep


def mark_tasks_missing(docs: Sequence[Doc], keep: Sequence[str]) -> None:
    """Mark the tasks not kept as missing, so that no document teaches them."""
    for task in TASKS:
        if task not in keep:
            for doc in docs:
                mark_missing(doc, task)


def set_cats(docs: Sequence[Doc], doc_labels: Sequence[Set[str]], path: Path) -> None:
    """Give each Doc every label of its file: 1.0 for its own, 0.0 for the rest."""
    # Listing every label marks the others as negative rather than missing.
    all_labels = sorted(set().union(*doc_labels))
    if not all_labels:
        raise ConversionError(
            "no category labels at all: every document has an empty label list. "
            "Label the documents, or convert to another format without categories.",
            path=path,
        )
    for i, doc in enumerate(docs):
        doc.cats = {label: 1.0 if label in doc_labels[i] else 0.0 for label in all_labels}


def check_exclusive(
    doc_labels: Sequence[Set[str]],
    lines: Sequence[int],
    path: Path,
    why: str,
    strict: bool,
) -> None:
    """Warn (or raise when strict) about documents without exactly one category.

    An exclusive textcat needs exactly one positive category a document.
    The warning is attributed to the caller of the format's reader.
    """
    bad = [(line, labels) for line, labels in zip(lines, doc_labels) if len(labels) != 1]
    if not bad:
        return
    none = [line for line, labels in bad if not labels]
    several = [line for line, labels in bad if labels]
    parts = []
    if none:
        parts.append(f"{len(none)} with no category ({lines_shown(none)})")
    if several:
        parts.append(f"{len(several)} with several ({lines_shown(several)})")
    problem = (
        f"{len(bad)} of {len(doc_labels)} documents do not have exactly one category, which "
        f"an exclusive textcat needs {why}: {'; '.join(parts)}. Give each document one "
        "class, or convert as multi-label (--multilabel, exclusive=False) for a textcat "
        "with exclusive_classes = false"
    )
    if strict:
        raise ConversionError(f"{problem}.", path=path, line=bad[0][0])
    warnings.warn(
        f"{path}: {problem}; convert in strict mode to stop here instead.",
        ConversionWarning,
        stacklevel=3,
    )


def check_output_path(output_path: Path, inputs: Iterable[PathLike] = ()) -> None:
    """Raise a ConversionError for an output that is an input or not a regular file."""
    try:
        check_output(output_path, inputs)
    except OutputError as err:
        raise ConversionError(err.reason, path=err.path) from None


def write_docbin(
    docs: Iterable[Doc], output_path: PathLike, *, inputs: Iterable[PathLike] = ()
) -> int:
    """Write Docs to a .spacy file atomically, creating parent folders.

    The data go to a temporary file beside the target, which replaces the
    target only once complete: readers never see a partial file and a failure
    leaves an existing target as it was (see spacy_mtl.atomic).

    docs (Iterable[Doc]): The documents.
    output_path (Union[str, Path]): The .spacy file to write.
    inputs (Iterable[Union[str, Path]]): The files the documents come from,
        which the output must not be.
    RETURNS (int): The number of documents written.
    """
    output_path = Path(output_path)
    inputs = list(inputs)
    check_output_path(output_path, inputs)
    doc_bin = DocBin(store_user_data=False)
    for doc in docs:
        doc_bin.add(doc)
    try:
        write_bytes_atomic(output_path, doc_bin.to_bytes(), inputs=inputs)
    except OutputError as err:
        raise ConversionError(err.reason, path=err.path) from None
    return len(doc_bin)
