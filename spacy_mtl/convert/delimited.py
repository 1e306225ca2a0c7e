"""The delimited formats, CSV and TSV: a header, then a text and its categories a row.

The header names a ``text`` column and a ``label`` column (one class a row) or a ``labels``
column (classes separated by ``|``), in any case. Categories only; the text goes through the
language's tokenizer. A file with a ``label`` column, or one converted with ``exclusive=True``,
is checked for exactly one category a document.
"""

import csv
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Set, Tuple

from spacy.tokens import Doc

from ..annotation import TASK_CATS
from .common import (
    ConversionError,
    ConversionWarning,
    PathLike,
    check_exclusive,
    lines_shown,
    make_tokenizer,
    mark_tasks_missing,
    read_lines,
    set_cats,
)

FORMAT_CSV = "csv"
CSV_TASKS = (TASK_CATS,)
CSV_LABELS_SEPARATOR = "|"

# (first line, fields, last line) of one record: a quoted field may span lines.
_Record = Tuple[int, List[str], int]


class _Header(NamedTuple):
    """Where a file's text and its categories are: column indices and the label column."""

    n_columns: int
    text_index: int
    label_column: str  # "label" (one class a row) or "labels" (separated classes)
    label_index: int


class _Rows(NamedTuple):
    """What the rows of a file hold: a Doc, its categories and its first line a row."""

    docs: List[Doc]
    doc_labels: List[Set[str]]
    doc_lines: List[int]
    # The lines of "label" cells that hold the separator, each read as one class.
    separated: List[int]


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
    lines = (text + "\n" for _, text in read_lines(input_path))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    records = _csv_records(reader, input_path)
    header = _read_header(records, input_path)
    rows = _read_rows(records, header, input_path, lang)
    if not rows.docs:
        raise ConversionError("no documents: the file has a header but no rows.", path=input_path)
    if rows.separated:
        _warn_separated(rows.separated, input_path, strict)
    if exclusive if exclusive is not None else header.label_column == "label":
        why = "(converted as exclusive)" if exclusive else "(the file has a 'label' column)"
        check_exclusive(rows.doc_labels, rows.doc_lines, input_path, why, strict)
    set_cats(rows.docs, rows.doc_labels, input_path)
    mark_tasks_missing(rows.docs, CSV_TASKS)
    return rows.docs


def _read_header(records: Iterator[_Record], path: Path) -> _Header:
    """Find the text and label columns in the first record, in any case."""
    header_line, header, _ = next(records, (1, None, 1))
    if header is None:
        raise ConversionError("no documents: the file is empty.", path=path)
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
            path=path,
            line=header_line,
        )
    label_column = label_columns[0]
    return _Header(len(columns), columns.index("text"), label_column, columns.index(label_column))


def _read_rows(records: Iterator[_Record], header: _Header, path: Path, lang: str) -> _Rows:
    """A Doc and its categories for each record after the header."""
    make_doc: Optional[Callable[[str], Doc]] = None
    rows = _Rows([], [], [], [])
    for line, row, last_line in records:
        if len(row) != header.n_columns:
            raise ConversionError(
                _csv_field_count_problem(row, header.n_columns, line, last_line),
                path=path,
                line=line,
            )
        text = row[header.text_index]
        if not text.strip():
            raise ConversionError(
                "the text is empty. Give every row a text, or delete the row.",
                path=path,
                line=line,
            )
        if make_doc is None:
            make_doc = make_tokenizer(lang, path, line)
        rows.docs.append(make_doc(text))
        rows.doc_lines.append(line)
        cell = row[header.label_index].strip()
        rows.doc_labels.append(_cell_labels(cell, header.label_column, path, line))
        if header.label_column == "label" and CSV_LABELS_SEPARATOR in cell:
            rows.separated.append(line)
    return rows


def _cell_labels(cell: str, label_column: str, path: Path, line: int) -> Set[str]:
    """The categories in a row's label cell: one class, or classes separated by "|"."""
    if "\n" in cell:
        raise ConversionError(
            f"the {label_column} cell holds a line break, which a class name never does: "
            "is a double quote left open before it? Close the quote.",
            path=path,
            line=line,
        )
    if label_column == "labels":
        labels = (label.strip() for label in cell.split(CSV_LABELS_SEPARATOR))
        return {label for label in labels if label}
    if not cell:
        raise ConversionError(
            "the label is empty. Give every row its class.",
            path=path,
            line=line,
        )
    return {cell}


def _warn_separated(separated: List[int], path: Path, strict: bool) -> None:
    """Warn (or raise when strict) about "label" cells that look like several classes.

    The warning is attributed to the caller of read_csv.
    """
    problem = (
        f"{len(separated)} 'label' cell(s) hold '{CSV_LABELS_SEPARATOR}' "
        f"({lines_shown(separated)}), each read as one class. To give a row several "
        f"classes, name the column 'labels'"
    )
    if strict:
        raise ConversionError(f"{problem}.", path=path, line=separated[0])
    warnings.warn(
        f"{path}: {problem}; convert in strict mode to stop here instead.",
        ConversionWarning,
        stacklevel=3,
    )


def _csv_records(reader: Any, path: Path) -> Iterator[_Record]:
    """Yield (first line, fields, last line) of the non-blank records of a csv reader."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _csv_error(err, reader, path, line) from None
        if any(field.strip() for field in row):
            yield line, row, reader.line_num


def _csv_error(err: csv.Error, reader: Any, path: Path, line: int) -> ConversionError:
    """Say what the csv module's error means for the record that starts on `line`."""
    if "unexpected end of data" in str(err):
        return ConversionError(
            "an unclosed double quote: a quoted field of the record that starts on "
            f"this line runs on to the end of the file (line {reader.line_num}). "
            'Close the quote, or double a quote inside a quoted field ("").',
            path=path,
            line=line,
        )
    if "field larger than field limit" in str(err):
        return ConversionError(
            f"a field longer than {csv.field_size_limit()} characters in the record "
            f"that starts on this line (it reaches line {reader.line_num}). Is a double "
            "quote left open? Close it; split a text that really is this long.",
            path=path,
            line=line,
        )
    if reader.line_num > line:
        return ConversionError(
            f"an unclosed double quote? A quoted field opens in the record that starts "
            f"on this line and closes only on line {reader.line_num}, where text follows "
            f"the closing quote ({err}). Close the quote on this line, or double a quote "
            'inside a quoted field ("").',
            path=path,
            line=line,
        )
    return ConversionError(
        f"malformed CSV ({err}). Check the quoting of this record: a quoted field "
        'ends with its closing quote, and a quote inside it is doubled ("").',
        path=path,
        line=reader.line_num,
    )


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
