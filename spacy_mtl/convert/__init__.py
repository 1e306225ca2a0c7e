"""Convert annotated corpora to spaCy's binary ``.spacy`` (DocBin) format.

Formats (``FORMATS``) and the tasks (``FORMAT_TASKS``) each can annotate:

- ``joint``: a folder with line-aligned ``seq.in`` (tokens separated by
  spaces), ``seq.out`` (one IOB tag per token) and ``label`` (one intent per
  line), as in the ATIS and SNIPS benchmarks. Categories and entities; either
  can be dropped with ``tasks``.
- ``iob``: a CoNLL-style column file, one token per line, the token in the
  first column and its tag in the last, a blank line after each sentence;
  ``-DOCSTART-`` lines are skipped. Entities only.
- ``jsonl``: one object per line, ``{"text": ..., "label": "x"}`` or
  ``{"text": ..., "labels": ["x", "y"]}``, with optional ``"tokens"``.
  Categories only.
- ``csv``: a header naming a ``text`` column and a ``label`` column (or a
  ``labels`` column whose labels are separated by ``|``), in any case.
  Categories only.

Given tokens are kept exactly (joined by single spaces); only ``jsonl`` and
``csv`` text without tokens goes through the language's tokenizer. A task the
input does not annotate stays *missing* on every document, as
``spacy_mtl.annotation`` defines it: ``doc.cats == {}``, ``ent_iob == 0``. An
annotated document lists every category label seen in its input file (1.0 for
its own, 0.0 for the others) and has its unlabelled tokens explicitly "O".
A label such as ATIS's ``atis_flight#atis_airfare`` is one class.

Tag schemes: IOB2 (BIO) is the reference: ``O``, ``B-TYPE``, ``I-TYPE``.
BIOES/BILUO files are read as well: ``S-``/``U-`` mark a one-token entity,
``E-``/``L-`` the last token of one. Any other tag (``X-foo``, ``B``, ``B-``,
lower-case prefixes) is an error. A continuation tag (``I-``, ``E-``, ``L-``)
that does not continue an open entity of its type (after ``O``, after another
type, after an entity's last token, or at the start of a sentence) is
repaired to begin an entity, with one ``ConversionWarning`` per file that
names the lines; this also reads IOB1 files correctly. ``strict=True`` raises
a ``ConversionError`` instead.

Exclusive categories: an exclusive textcat needs exactly one positive
category per document. A file that gives one class a document (jsonl
``"label"``, a csv ``label`` column), or any file converted with
``exclusive=True``, is checked: documents with none or several categories
(a jsonl ``"labels"`` record among ``"label"`` ones, say) raise one
``ConversionWarning`` that counts them and names their lines, or a
``ConversionError`` with ``strict=True``. ``exclusive=False`` declares
multi-label categories and skips the check.

Input files must be UTF-8 (a leading byte-order mark is ignored), with
``\\n``, ``\\r\\n`` or ``\\r`` line endings, which are all read alike. Every
problem in the input raises a ``ConversionError`` that names the file and the
1-based line and says how to fix it. The output is written atomically
(``spacy_mtl.atomic``): a failed or killed conversion leaves an existing
output file as it was, and an output that is an input, a link, a device or
a FIFO is refused before anything is read.
"""

import codecs
import csv
import functools
import json
import re
import warnings
from pathlib import Path
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.util import get_lang_class
from spacy.vocab import Vocab, create_vocab

from ..annotation import TASK_CATS, TASK_ENTS, TASKS, mark_missing
from ..atomic import OutputError, check_output, write_bytes_atomic

PathLike = Union[str, Path]

FORMAT_JOINT = "joint"
FORMAT_IOB = "iob"
FORMAT_JSONL = "jsonl"
FORMAT_CSV = "csv"
FORMAT_COLUMNS = "columns"
FORMAT_INTENTS = "intents"
FORMATS = (FORMAT_JOINT, FORMAT_IOB, FORMAT_JSONL, FORMAT_CSV, FORMAT_COLUMNS, FORMAT_INTENTS)
FORMAT_TASKS = {
    FORMAT_JOINT: (TASK_CATS, TASK_ENTS),
    FORMAT_IOB: (TASK_ENTS,),
    FORMAT_JSONL: (TASK_CATS,),
    FORMAT_CSV: (TASK_CATS,),
    # Categories only with an intents file (convert_columns.read_columns).
    FORMAT_COLUMNS: (TASK_CATS, TASK_ENTS),
    FORMAT_INTENTS: (TASK_CATS,),
}

JOINT_TOKENS_FILE = "seq.in"
JOINT_TAGS_FILE = "seq.out"
JOINT_LABELS_FILE = "label"
DOCSTART = "-DOCSTART-"
CSV_LABELS_SEPARATOR = "|"

# Tag prefix -> (begins an entity, ends it). B/I are IOB2; S/E come from BIOES
# and U/L from BILUO, which say where an entity ends as well.
_TAG_PREFIXES = {
    "B": (True, False),
    "I": (False, False),
    "E": (False, True),
    "L": (False, True),
    "S": (True, True),
    "U": (True, True),
}
_TAG_HELP = "Use O, B-TYPE or I-TYPE (IOB2); S-, E-, U- and L- (BIOES, BILUO) are read too."
# Only ASCII blanks separate tokens and columns: a no-break space inside a
# token is part of the token.
_BLANKS = re.compile(r"[ \t]+")
# How many repaired tags a warning lists before it only counts them.
_MAX_REPAIRS_SHOWN = 5
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


def read_joint(
    input_dir: PathLike,
    *,
    lang: str = "en",
    tasks: Iterable[str] = (TASK_CATS, TASK_ENTS),
    strict: bool = False,
) -> List[Doc]:
    """Read a joint intent and slot folder (seq.in, seq.out, label) into Docs.

    Only the files the tasks need are read: seq.in always, seq.out for
    entities, label for categories. Blank lines at the very end of a file are
    ignored; any other empty line is an error, since it would shift the
    alignment of the three files.

    input_dir (Union[str, Path]): The folder holding the three files.
    lang (str): Language code, for the vocabulary.
    tasks (Iterable[str]): The tasks to keep, from "cats" and "ents". A task
        left out stays missing on every document.
    strict (bool): Raise on a continuation tag that begins an entity, instead
        of repairing it with a warning.
    RETURNS (List[Doc]): One document per line, with the given tokens.
    """
    keep = _check_tasks(FORMAT_JOINT, tasks)
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise ConversionError(
            f"not a folder. The joint format reads a folder holding "
            f"{JOINT_TOKENS_FILE}, {JOINT_TAGS_FILE} and {JOINT_LABELS_FILE}.",
            path=input_dir,
        )
    tokens_path = input_dir / JOINT_TOKENS_FILE
    tags_path = input_dir / JOINT_TAGS_FILE
    labels_path = input_dir / JOINT_LABELS_FILE
    token_lines = _read_aligned_lines(tokens_path)
    tag_lines = _read_aligned_lines(tags_path) if TASK_ENTS in keep else None
    label_lines = _read_aligned_lines(labels_path) if TASK_CATS in keep else None
    for path, lines in ((tags_path, tag_lines), (labels_path, label_lines)):
        if lines is not None and len(lines) != len(token_lines):
            _raise_line_count_mismatch(tokens_path, len(token_lines), path, len(lines))
    if not token_lines:
        raise ConversionError("no documents: the file is empty.", path=tokens_path)
    vocab = _make_vocab(lang)
    docs = []
    doc_labels = []
    repairs: List[Tuple[int, str]] = []
    for i, text in enumerate(token_lines):
        line = i + 1
        doc = _doc_from_words(vocab, _split(text))
        if tag_lines is not None:
            tags = _split(tag_lines[i])
            if len(tags) != len(doc):
                raise ConversionError(
                    f"{len(tags)} tags for the {len(doc)} tokens on line {line} of "
                    f"{tokens_path}. Give exactly one tag per token, separated by spaces.",
                    path=tags_path,
                    line=line,
                )
            spans = _spans_from_tags(tags, tags_path, [line] * len(tags), strict, repairs)
            _set_entities(doc, spans)
        docs.append(doc)
        if label_lines is not None:
            # The whole line is one class: a multi-intent "a#b" is not split.
            doc_labels.append({label_lines[i].strip()})
    _warn_repairs(tags_path, repairs)
    if label_lines is not None:
        _set_cats(docs, doc_labels, labels_path)
    _mark_missing(docs, keep)
    return docs


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
    vocab = _make_vocab(lang)
    docs = []
    repairs: List[Tuple[int, str]] = []
    words: List[str] = []
    tags: List[str] = []
    lines: List[int] = []

    def end_sentence() -> None:
        if words:
            doc = _doc_from_words(vocab, words)
            _set_entities(doc, _spans_from_tags(tags, input_path, lines, strict, repairs))
            docs.append(doc)
        words.clear()
        tags.clear()
        lines.clear()

    for line, text in _read_lines(input_path):
        fields = _split(text)
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
    _warn_repairs(input_path, repairs)
    if not docs:
        raise ConversionError("no documents: the file holds no token lines.", path=input_path)
    _mark_missing(docs, FORMAT_TASKS[FORMAT_IOB])
    return docs


def read_jsonl(
    input_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read a JSONL file of texts and their categories into Docs.

    Each non-blank line is an object with "text" (or "tokens", a list of
    strings, which are kept as given) and either "label" (one class) or
    "labels" (a list of classes, maybe empty). Entities stay missing.

    input_path (Union[str, Path]): The JSONL file.
    lang (str): Language code of the tokenizer for texts without "tokens".
    strict (bool): Raise, rather than warn, on documents without exactly one
        category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive.
        None: exclusive if any record gives a "label" (one class).
    RETURNS (List[Doc]): One document per line.
    """
    input_path = Path(input_path)
    vocab = _make_vocab(lang)
    make_doc: Optional[Callable[[str], Doc]] = None
    docs = []
    doc_labels = []
    doc_lines = []
    one_class = False
    for line, text in _read_lines(input_path):
        if not text.strip():
            continue
        try:
            record = json.loads(text, object_pairs_hook=_json_object)
        except _JSONValueError as err:
            raise ConversionError(str(err), path=input_path, line=line) from None
        except json.JSONDecodeError as err:
            raise ConversionError(
                f"invalid JSON ({err.msg}, column {err.colno}). {_jsonl_hint(text, line)}",
                path=input_path,
                line=line,
            ) from None
        if not isinstance(record, dict):
            hint = _jsonl_hint(text, line)
            raise ConversionError(
                f"a JSON {type(record).__name__} where an object is expected. {hint}",
                path=input_path,
                line=line,
            )
        if "tokens" not in record and make_doc is None:
            make_doc = _tokenizer(lang, input_path, line)
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
        _check_exclusive(doc_labels, doc_lines, input_path, why, strict)
    _set_cats(docs, doc_labels, input_path)
    _mark_missing(docs, FORMAT_TASKS[FORMAT_JSONL])
    return docs


def read_csv(
    input_path: PathLike,
    *,
    lang: str = "en",
    delimiter: str = ",",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read a CSV file of texts and their categories into Docs.

    The header names a "text" column and either a "label" column (one class a
    row) or a "labels" column (classes separated by "|"; an empty cell means
    none of the labels), in any case. Other columns are ignored, blank lines
    skipped. Entities stay missing.

    input_path (Union[str, Path]): The CSV file.
    lang (str): Language code of the tokenizer.
    delimiter (str): The field separator, e.g. "\\t" for TSV.
    strict (bool): Raise, rather than warn, on a "label" cell that holds the
        "|" separator, and on documents without exactly one category in
        exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive.
        None: exclusive with a "label" column, multi-label with "labels".
    RETURNS (List[Doc]): One document per row.
    """
    input_path = Path(input_path)
    # csv needs the line endings back to read quoted fields across lines.
    # strict: a quote left open at the end of the file, or text after a closing quote, is an
    # error rather than a field that silently swallows the lines after it.
    lines = (text + "\n" for _, text in _read_lines(input_path))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    rows = _csv_rows(reader, input_path)
    header_line, header, _ = next(rows, (1, None, 1))
    if header is None:
        raise ConversionError("no documents: the file is empty.", path=input_path)
    columns = [name.strip().lower() for name in header]
    label_columns = [name for name in ("label", "labels") if name in columns]
    repeated = [name for name in ("text", *label_columns) if columns.count(name) > 1]
    if "text" not in columns or len(label_columns) != 1 or repeated:
        found = ", ".join(repr(name.strip()) for name in header)
        twice = ", ".join(repr(name) for name in repeated)
        raise ConversionError(
            f"the header names the columns {found}, but it must name one 'text' column and "
            f"one of 'label' (one class a row) or 'labels' (classes separated by "
            f"'{CSV_LABELS_SEPARATOR}'), in any case"
            + (f"; {twice} appears twice." if repeated else ".")
            + " Rename the columns.",
            path=input_path,
            line=header_line,
        )
    text_index = columns.index("text")
    label_column = label_columns[0]
    label_index = columns.index(label_column)
    make_doc: Optional[Callable[[str], Doc]] = None
    docs = []
    doc_labels = []
    doc_lines = []
    separated: List[int] = []
    for line, row, last_line in rows:
        if len(row) != len(columns):
            raise ConversionError(
                _csv_field_count_problem(row, len(columns), line, last_line),
                path=input_path,
                line=line,
            )
        text = row[text_index]
        if not text.strip():
            raise ConversionError(
                "the text is empty. Give every row a text, or delete the row.",
                path=input_path,
                line=line,
            )
        if make_doc is None:
            make_doc = _tokenizer(lang, input_path, line)
        docs.append(make_doc(text))
        doc_lines.append(line)
        cell = row[label_index].strip()
        if "\n" in cell:
            raise ConversionError(
                f"the {label_column} cell holds a line break, which a class name never does: "
                "is a double quote left open before it? Close the quote.",
                path=input_path,
                line=line,
            )
        if label_column == "label":
            if not cell:
                raise ConversionError(
                    "the label is empty. Give every row its class.",
                    path=input_path,
                    line=line,
                )
            if CSV_LABELS_SEPARATOR in cell:
                separated.append(line)
            doc_labels.append({cell})
        else:
            labels = (label.strip() for label in cell.split(CSV_LABELS_SEPARATOR))
            doc_labels.append({label for label in labels if label})
    if not docs:
        raise ConversionError("no documents: the file has a header but no rows.", path=input_path)
    if separated:
        problem = (
            f"{len(separated)} 'label' cell(s) hold '{CSV_LABELS_SEPARATOR}' "
            f"({_lines_shown(separated)}), each read as one class. To give a row several "
            f"classes, name the column 'labels'"
        )
        if strict:
            raise ConversionError(f"{problem}.", path=input_path, line=separated[0])
        warnings.warn(
            f"{input_path}: {problem}; convert in strict mode to stop here instead.",
            ConversionWarning,
            stacklevel=2,
        )
    if exclusive if exclusive is not None else label_column == "label":
        why = "(converted as exclusive)" if exclusive else "(the file has a 'label' column)"
        _check_exclusive(doc_labels, doc_lines, input_path, why, strict)
    _set_cats(docs, doc_labels, input_path)
    _mark_missing(docs, FORMAT_TASKS[FORMAT_CSV])
    return docs


def read_corpus(
    format: str,
    input_path: PathLike,
    *,
    lang: str = "en",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
    exclusive: Optional[bool] = None,
    intents: Optional[PathLike] = None,
) -> List[Doc]:
    """Read a corpus in any of FORMATS into Docs.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    lang (str): Language code.
    tasks (Optional[Iterable[str]]): The tasks to keep; None keeps all the
        format annotates. Only "joint" and "columns" can drop one.
    strict (bool): Raise on what is otherwise repaired or warned about: for
        "joint", "iob" and "columns" a continuation tag that begins an entity,
        for "jsonl" and "csv" documents without exactly one category in
        exclusive mode.
    exclusive (Optional[bool]): For "jsonl" and "csv": whether the
        categories are mutually exclusive; None infers it from the file.
    intents (Optional[Union[str, Path]]): For "columns": the intents file of
        the slots file `input_path`.
    RETURNS (List[Doc]): The documents.
    """
    if format not in FORMATS:
        raise ConversionError(f"unknown format {format!r}. Use one of {', '.join(FORMATS)}.")
    keep = _check_tasks(format, FORMAT_TASKS[format] if tasks is None else tasks)
    if format == FORMAT_JOINT:
        return read_joint(input_path, lang=lang, tasks=keep, strict=strict)
    if format == FORMAT_IOB:
        return read_iob(input_path, lang=lang, strict=strict)
    if format in (FORMAT_COLUMNS, FORMAT_INTENTS):
        from .columns import read_columns, read_intents  # it imports this module

        if format == FORMAT_INTENTS:
            return read_intents(input_path, lang=lang)
        return read_columns(input_path, intents_path=intents, lang=lang, tasks=tasks, strict=strict)
    if format == FORMAT_JSONL:
        return read_jsonl(input_path, lang=lang, strict=strict, exclusive=exclusive)
    return read_csv(input_path, lang=lang, strict=strict, exclusive=exclusive)


def input_files(
    format: str, input_path: PathLike, intents: Optional[PathLike] = None
) -> List[Path]:
    """The files a conversion reads, which its output must never be.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    intents (Optional[Union[str, Path]]): For "columns": its intents file.
    RETURNS (List[Path]): The input files.
    """
    input_path = Path(input_path)
    if intents is not None:
        return [input_path, Path(intents)]
    if format == FORMAT_JOINT:
        names = (JOINT_TOKENS_FILE, JOINT_TAGS_FILE, JOINT_LABELS_FILE)
        return [input_path / name for name in names]
    if input_path.is_dir():
        # A folder format of another module: protect its files, but not earlier outputs.
        return [path for path in input_path.iterdir() if path.suffix != ".spacy"]
    return [input_path]


def check_convert_output(
    format: str, input_path: PathLike, output_path: PathLike, intents: Optional[PathLike] = None
) -> None:
    """Raise a ConversionError if writing `output_path` would destroy something.

    The output must be absent or a regular file (not a folder, a link, a
    device or a FIFO) and must not be, even through a link, one of the files
    the conversion reads. Called before reading, so that nothing is read in
    vain.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    output_path (Union[str, Path]): The .spacy file to write.
    intents (Optional[Union[str, Path]]): For "columns": its intents file.
    """
    _check_output(Path(output_path), input_files(format, input_path, intents))


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
    _check_output(output_path, inputs)
    doc_bin = DocBin(store_user_data=False)
    for doc in docs:
        doc_bin.add(doc)
    try:
        write_bytes_atomic(output_path, doc_bin.to_bytes(), inputs=inputs)
    except OutputError as err:
        raise ConversionError(err.reason, path=err.path) from None
    return len(doc_bin)


def convert(
    format: str,
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> int:
    """Convert a corpus in any of FORMATS to a .spacy file.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    tasks (Optional[Iterable[str]]): The tasks to keep; None keeps all the
        format annotates.
    strict (bool): Raise on what is otherwise repaired or warned about (see
        read_corpus).
    exclusive (Optional[bool]): For "jsonl" and "csv": whether the
        categories are mutually exclusive; None infers it from the file.
    RETURNS (int): The number of documents written.
    """
    check_convert_output(format, input_path, output_path)
    docs = read_corpus(
        format, input_path, lang=lang, tasks=tasks, strict=strict, exclusive=exclusive
    )
    return write_docbin(docs, output_path, inputs=input_files(format, input_path))


def convert_joint(
    input_dir: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    tasks: Iterable[str] = (TASK_CATS, TASK_ENTS),
    strict: bool = False,
) -> int:
    """Convert a joint folder (seq.in, seq.out, label) to a .spacy file.

    input_dir (Union[str, Path]): The folder holding the three files.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    tasks (Iterable[str]): The tasks to keep; a task left out stays missing.
    strict (bool): Raise on a continuation tag that begins an entity.
    RETURNS (int): The number of documents written.
    """
    return convert(FORMAT_JOINT, input_dir, output_path, lang=lang, tasks=tasks, strict=strict)


def convert_iob(
    input_path: PathLike, output_path: PathLike, *, lang: str = "en", strict: bool = False
) -> int:
    """Convert a CoNLL-style IOB column file to a .spacy file (entities only).

    input_path (Union[str, Path]): The column file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    strict (bool): Raise on a continuation tag that begins an entity.
    RETURNS (int): The number of documents written.
    """
    return convert(FORMAT_IOB, input_path, output_path, lang=lang, strict=strict)


def convert_jsonl(
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> int:
    """Convert a JSONL file of texts and labels to a .spacy file (categories only).

    input_path (Union[str, Path]): The JSONL file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code of the tokenizer.
    strict (bool): Raise on documents without exactly one category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive;
        None infers it from the file.
    RETURNS (int): The number of documents written.
    """
    return convert(
        FORMAT_JSONL, input_path, output_path, lang=lang, strict=strict, exclusive=exclusive
    )


def convert_csv(
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> int:
    """Convert a CSV file of texts and labels to a .spacy file (categories only).

    input_path (Union[str, Path]): The CSV file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code of the tokenizer.
    strict (bool): Raise on documents without exactly one category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive;
        None infers it from the file.
    RETURNS (int): The number of documents written.
    """
    return convert(
        FORMAT_CSV, input_path, output_path, lang=lang, strict=strict, exclusive=exclusive
    )


def _check_tasks(format: str, tasks: Iterable[str]) -> Tuple[str, ...]:
    """Validate the tasks asked of a format; a string may list them with commas."""
    if isinstance(tasks, str):
        tasks = tasks.split(",")
    keep = tuple(dict.fromkeys(task.strip() for task in tasks if task.strip()))
    offered = FORMAT_TASKS[format]
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


def _check_output(output_path: Path, inputs: Iterable[PathLike] = ()) -> None:
    """Raise a ConversionError for an output that is an input or not a regular file."""
    try:
        check_output(output_path, inputs)
    except OutputError as err:
        raise ConversionError(err.reason, path=err.path) from None


def _read_lines(path: Path) -> Iterator[Tuple[int, str]]:
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
        line = 0
        for raw in _raw_lines(file_, path):
            line += 1
            if line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
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
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ConversionError(
                    f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} "
                    "of the line). Re-save the file as UTF-8, e.g. with "
                    "`iconv -f latin1 -t utf-8`.",
                    path=path,
                    line=line,
                ) from None
            yield line, text


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


def _read_aligned_lines(path: Path) -> List[str]:
    """Read a joint-format file, whose lines must all be non-empty."""
    lines = [text for _, text in _read_lines(path)]
    # A trailing newline too many is harmless: it shifts no line.
    while lines and not lines[-1].strip():
        lines.pop()
    for i, text in enumerate(lines):
        if not text.strip():
            raise ConversionError(
                "the line is empty, which breaks the line-by-line alignment of "
                f"{JOINT_TOKENS_FILE}, {JOINT_TAGS_FILE} and {JOINT_LABELS_FILE}. Fill it "
                "in, or delete the line in all three files.",
                path=path,
                line=i + 1,
            )
    return lines


def _raise_line_count_mismatch(path_a: Path, count_a: int, path_b: Path, count_b: int) -> None:
    longer = path_a if count_a > count_b else path_b
    raise ConversionError(
        f"{path_a} has {count_a} lines but {path_b} has {count_b}; line "
        f"{min(count_a, count_b) + 1} of {longer} has no counterpart. The files must "
        "be line-aligned, one sentence per line: find the missing or extra line.",
        path=longer,
        line=min(count_a, count_b) + 1,
    )


def _csv_rows(reader: Any, path: Path) -> Iterator[Tuple[int, List[str], int]]:
    """Yield (first line, fields, last line) of the non-blank records of a csv reader."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                raise ConversionError(
                    "an unclosed double quote: a quoted field of the record that starts on "
                    f"this line runs on to the end of the file (line {reader.line_num}). "
                    'Close the quote, or double a quote inside a quoted field ("").',
                    path=path,
                    line=line,
                ) from None
            if "field larger than field limit" in str(err):
                raise ConversionError(
                    f"a field longer than {csv.field_size_limit()} characters in the record "
                    f"that starts on this line (it reaches line {reader.line_num}). Is a double "
                    "quote left open? Close it; split a text that really is this long.",
                    path=path,
                    line=line,
                ) from None
            if reader.line_num > line:
                raise ConversionError(
                    f"an unclosed double quote? A quoted field opens in the record that starts "
                    f"on this line and closes only on line {reader.line_num}, where text follows "
                    f"the closing quote ({err}). Close the quote on this line, or double a quote "
                    'inside a quoted field ("").',
                    path=path,
                    line=line,
                ) from None
            raise ConversionError(
                f"malformed CSV ({err}). Check the quoting of this record: a quoted field "
                'ends with its closing quote, and a quote inside it is doubled ("").',
                path=path,
                line=reader.line_num,
            ) from None
        if any(field.strip() for field in row):
            yield line, row, reader.line_num


def _csv_field_count_problem(row: List[str], n_columns: int, line: int, last_line: int) -> str:
    """Say why a CSV record has the wrong number of fields, naming an unclosed quote."""
    if last_line > line and any("\n" in field for field in row):
        field = next(i for i, field in enumerate(row) if "\n" in field)
        return (
            f"an unclosed double quote: field {field + 1} opens a quote on line {line} that "
            f"runs on to line {last_line}, so the record has {len(row)} fields where the header "
            f'has {n_columns}. Close the quote, or double a quote inside a quoted field ("").'
        )
    return (
        f"{len(row)} fields where the header has {n_columns}. Quote fields that hold the "
        "delimiter or a line break with double quotes."
    )


def _split(text: str) -> List[str]:
    return [part for part in _BLANKS.split(text.strip(" \t")) if part]


def _make_vocab(lang: str) -> Vocab:
    return create_vocab(lang, _lang_class(lang).Defaults)


def _lang_class(lang: str):
    try:
        return get_lang_class(lang)
    except ImportError:
        raise ConversionError(
            f"unknown language code {lang!r}. Use a code spaCy supports, e.g. 'en', "
            "or 'xx' for several languages."
        ) from None


def _tokenizer(
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
        return _load_tokenizer(lang)
    except ImportError as err:
        package = _TOKENIZER_PACKAGES.get(lang, f"what it names ({err})")
        raise ConversionError(
            f"the {lang!r} tokenizer needs a package that is not installed: install "
            f'{package}, or give each document its "tokens" (jsonl).',
            path=path,
            line=line,
        ) from None


@functools.lru_cache(maxsize=None)
def _load_tokenizer(lang: str) -> Callable[[str], Doc]:
    return spacy.blank(lang).tokenizer


def _doc_from_words(vocab: Vocab, words: Sequence[str]) -> Doc:
    # One space between tokens and none after the last: doc.text is the line.
    spaces = [True] * (len(words) - 1) + [False]
    return Doc(vocab, words=list(words), spaces=spaces)


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
        return _doc_from_words(vocab if vocab is not None else make_doc.vocab, tokens)
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
    if make_doc is None:
        make_doc = _tokenizer(vocab.lang if vocab is not None else "xx", path, line)
    return make_doc(text)


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


def _lines_shown(lines: Sequence[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:_MAX_REPAIRS_SHOWN])
    more = len(lines) - _MAX_REPAIRS_SHOWN
    noun = "line" if len(lines) == 1 else "lines"
    return f"{noun} {shown}" + (f" and {more} more" if more > 0 else "")


def _check_exclusive(
    doc_labels: Sequence[Set[str]],
    lines: Sequence[int],
    path: Path,
    why: str,
    strict: bool,
) -> None:
    """Warn (or raise when strict) about documents without exactly one category."""
    bad = [(line, labels) for line, labels in zip(lines, doc_labels) if len(labels) != 1]
    if not bad:
        return
    none = [line for line, labels in bad if not labels]
    several = [line for line, labels in bad if labels]
    parts = []
    if none:
        parts.append(f"{len(none)} with no category ({_lines_shown(none)})")
    if several:
        parts.append(f"{len(several)} with several ({_lines_shown(several)})")
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


def _mark_missing(docs: Sequence[Doc], keep: Sequence[str]) -> None:
    """Mark the tasks not kept as missing, so that no document teaches them."""
    for task in TASKS:
        if task not in keep:
            for doc in docs:
                mark_missing(doc, task)


def _set_cats(docs: Sequence[Doc], doc_labels: Sequence[Set[str]], path: Path) -> None:
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


def _set_entities(doc: Doc, spans: Sequence[Tuple[int, int, str]]) -> None:
    # "outside" makes the untagged tokens an explicit O, not missing.
    entities = [Span(doc, start, end, label=label) for start, end, label in spans]
    doc.set_ents(entities, default="outside")


def _spans_from_tags(
    tags: Sequence[str],
    path: Path,
    lines: Sequence[int],
    strict: bool,
    repairs: List[Tuple[int, str]],
) -> List[Tuple[int, int, str]]:
    """Decode one sentence's IOB2/BIOES/BILUO tags into (start, end, label) spans.

    tags (Sequence[str]): One tag per token.
    path (Path): The file the tags come from, for errors.
    lines (Sequence[int]): The line of each tag, for errors.
    strict (bool): Raise on a continuation tag that begins an entity.
    repairs (List[Tuple[int, str]]): Receives (line, description) of each
        continuation tag repaired to begin an entity.
    RETURNS (List[Tuple[int, int, str]]): The entity spans, in token offsets.
    """
    spans = []
    start: Optional[int] = None
    label = ""
    for i, tag in enumerate(tags):
        if tag == "O":
            if start is not None:
                spans.append((start, i, label))
                start = None
            continue
        prefix, _, entity_type = tag.partition("-")
        if prefix not in _TAG_PREFIXES or not entity_type:
            raise ConversionError(
                f"unknown tag {tag!r} (tag {i + 1} of the sentence). {_TAG_HELP} "
                "Fix the tag or convert the file to IOB2.",
                path=path,
                line=lines[i],
            )
        begins, ends = _TAG_PREFIXES[prefix]
        if not begins and (start is None or label != entity_type):
            if i == 0:
                after = "starts the sentence"
            elif start is None and tags[i - 1] != "O":
                after = f"follows {tags[i - 1]!r}, the last token of an entity"
            else:
                after = f"follows {tags[i - 1]!r}"
            problem = f"tag {i + 1} {tag!r} continues an entity but {after}"
            if strict:
                raise ConversionError(
                    f"{problem}. An entity begins with B-{entity_type} (IOB2): fix the "
                    "tag, or convert without strict mode to repair such tags that way.",
                    path=path,
                    line=lines[i],
                )
            repairs.append((lines[i], problem))
            begins = True
        if begins:
            if start is not None:
                spans.append((start, i, label))
            start, label = i, entity_type
        if ends:
            spans.append((start, i + 1, label))
            start = None
    if start is not None:
        spans.append((start, len(tags), label))
    return spans


def _warn_repairs(path: Path, repairs: Sequence[Tuple[int, str]]) -> None:
    """One warning for all the repaired tags of a file, naming the first lines."""
    if not repairs:
        return
    shown = "; ".join(f"line {line}: {problem}" for line, problem in repairs[:_MAX_REPAIRS_SHOWN])
    more = len(repairs) - _MAX_REPAIRS_SHOWN
    if more > 0:
        shown += f"; and {more} more"
    warnings.warn(
        f"{path}: {len(repairs)} continuation tag(s) that begin an entity were read as "
        f"B- tags, which is also what they mean in IOB1 ({shown}). Check that the file "
        "is IOB2 or IOB1; convert in strict mode to stop at such tags instead.",
        ConversionWarning,
        stacklevel=3,
    )
