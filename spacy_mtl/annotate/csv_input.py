"""annotate's CSV input: a header, then one row a record (which may span lines).

The file is read as UTF-8 (a byte-order mark ignored) with bytes that are not
UTF-8 kept aside, so that a row whose text or id has one becomes that row's
error record, naming the row, its line and the column, as a JSONL or text line
that is not UTF-8 does; other columns are not read. What cannot be told apart
row from row is refused when the run is planned, with the file and line: a
quote that is never closed (it would swallow the rest of the file), a
malformed quote, a text or id column named twice.
"""

import csv
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from .errors import AnnotateError
from .ids import row_id
from .lines import check_utf8_file
from .rows import MISSING, make_row

KIND = "CSV file"
# Bytes that are not UTF-8 come through the "surrogateescape" handler as U+DC80..U+DCFF.
_ESCAPED = re.compile("[\udc80-\udcff]")


@contextmanager
def _open_csv(path: Path) -> Iterator:
    # A field may hold a whole document: no limit of the csv module's own (131072 characters).
    # The limit is the process's, so it is put back: a converter in the same process keeps it.
    limit = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            yield csv.reader(handle, strict=True)
    except OSError as err:
        raise AnnotateError(
            f"The {KIND} {str(path)!r} cannot be read ({err.strerror}): check its permissions."
        ) from None
    finally:
        csv.field_size_limit(limit)


def plan_csv(path: Path, part_size: int, text_field: str, id_field: str):
    """Check a CSV file's header and quoting, and count its rows.

    path (Path): The file.
    part_size (int): Rows per part.
    text_field (str): The text column, which the header must name once.
    id_field (str): The id column, which the header may name at most once.
    RETURNS (Tuple[int, List[int], str]): Rows, the row where each part begins, the ids' type.
    """
    check_utf8_file(path, KIND)
    with _open_csv(path) as reader:
        header = _next_row(reader, path, 0)
        if header is None:
            raise AnnotateError(f"The {KIND} {str(path)!r} is empty: expected a header.")
        _check_header(path, header, text_field, id_field)
        rows = 0
        while _next_row(reader, path, reader.line_num) is not None:
            rows += 1
    return rows, list(range(0, rows, part_size)), "any"


def _next_row(reader, path: Path, last_line: int) -> Optional[List[str]]:
    try:
        return next(reader, None)
    except csv.Error as err:
        line = last_line + 1
        if "unexpected end of data" in str(err):
            problem = (
                f'a quote (") opened in the row that starts here is never closed, so it would '
                f"swallow the rest of the file (to line {reader.line_num})"
            )
        else:
            problem = f"the row that starts here is malformed CSV ({err})"
        raise AnnotateError(
            f"The {KIND} {str(path)!r}, line {line}: {problem}. A quote inside a quoted field "
            f'is written twice (""); fix the file and run again.'
        ) from None


def _check_header(path: Path, header: List[str], text_field: str, id_field: str) -> None:
    if text_field not in header:
        raise AnnotateError(
            f"The {KIND} {str(path)!r} has no column {text_field!r} (columns: "
            f"{', '.join(header)}): set --text-field."
        )
    for name in (text_field, id_field):
        where = [str(i + 1) for i, column in enumerate(header) if column == name]
        if len(where) > 1:
            raise AnnotateError(
                f"The {KIND} {str(path)!r} has {len(where)} columns named {name!r} (columns "
                f"{', '.join(where)}): rename all but one, so that annotate knows which to read."
            )


def read_csv(part, text_field: str, id_field: str, max_chars: int) -> List[Dict[str, Any]]:
    """Read one part of a CSV file as pre-records (see rows.make_row).

    A row's id is its data row number (from 1, after the header) where its id cell
    is empty or there is no id column.

    part (Part): The part.
    text_field (str): The text column.
    id_field (str): The id column.
    max_chars (int): The longest text.
    RETURNS (List[Dict[str, Any]]): The rows, in file order.
    """
    check = {"field": text_field, "max_chars": max_chars}
    rows = []
    with _open_csv(Path(part.shard.path)) as reader:
        header = next(reader)
        text_at = header.index(text_field)
        id_at = header.index(id_field) if id_field in header else None
        line = reader.line_num
        for i, cells in enumerate(reader):
            first_line, line = line + 1, reader.line_num
            if i < part.start:
                continue
            text = cells[text_at] if text_at < len(cells) else MISSING
            cell_id = cells[id_at] if id_at is not None and id_at < len(cells) else None
            number = i + 1
            rows.append(_row(number, first_line, text, cell_id, part.id_type, check, id_field))
            if len(rows) == part.rows:
                break
    return rows


def _row(number: int, line: int, text, cell_id, id_type, check, id_field) -> Dict[str, Any]:
    bad = [
        (name, _escaped_byte(value))
        for name, value in [(check["field"], text), (id_field, cell_id)]
    ]
    bad = [(name, byte) for name, byte in bad if byte is not None]
    if bad and bad[0][0] == id_field:
        cell_id = None  # the row number stands in
    the_id, id_error = row_id(cell_id, number, id_type)
    if bad and bad[0][0] == check["field"]:
        row = {"id": the_id, "text": None, "error": None}
    else:
        row = make_row(the_id, text, **check)
    if bad:
        name, byte = bad[0]
        error = f"row {number} (line {line}) is not UTF-8: byte 0x{byte:02X} in column {name!r}"
        row["error"] = error
    else:
        row["error"] = id_error or row["error"]
    return row


def _escaped_byte(value) -> Optional[int]:
    match = _ESCAPED.search(value) if isinstance(value, str) else None
    return ord(match.group()) - 0xDC00 if match else None
