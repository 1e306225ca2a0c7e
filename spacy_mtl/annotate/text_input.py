"""annotate's JSON Lines and text inputs: one row a line.

A line's id is its line number, in a JSON object the value of the id field when
it has one. A line that is not UTF-8, not JSON, not an object, or longer than a
row with an acceptable text can be, is its row's error record. A JSON Lines file
in which no line of the first part has the text field is refused when the run is
planned, as a CSV or Parquet file without the column is: every row would be an
error.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .errors import AnnotateError
from .ids import INT_IDS, row_id
from .lines import check_utf8_file, count_lines, iter_lines, open_input
from .rows import MISSING, make_row

KINDS = {"jsonl": "JSON Lines file", "txt": "text file"}
# Bytes of a JSON line beyond its text: the other fields of a row.
JSON_OVERHEAD = 1 << 16


def line_cap(fmt: str, max_chars: int) -> int:
    """The longest line read, in bytes: longer ones cannot hold a text within `max_chars`.

    A character takes at most 4 bytes in UTF-8, and 12 in JSON (an escaped surrogate pair).
    """
    return 4 * max_chars if fmt == "txt" else 12 * max_chars + JSON_OVERHEAD


def plan_lines(path: Path, fmt: str, part_size: int, text_field: str, max_chars: int):
    """Count a JSONL or text file's lines and note where each part begins.

    path (Path): The file.
    fmt (str): "jsonl" or "txt".
    part_size (int): Lines per part.
    text_field (str): The text field, which some line of the first part of a JSONL file must have.
    max_chars (int): The longest text.
    RETURNS (Tuple[int, List[int], str]): Lines, byte offsets of the parts, the ids' type.
    """
    kind = KINDS[fmt]
    check_utf8_file(path, kind)
    with open_input(path, kind) as handle:
        try:
            rows, offsets = count_lines(handle, part_size)
            if fmt == "jsonl" and rows:
                _check_text_field(handle, path, min(rows, part_size), text_field, max_chars)
        except OSError as err:
            raise AnnotateError(f"The {kind} {str(path)!r} cannot be read ({err}).") from None
    return rows, offsets, INT_IDS if fmt == "txt" else "any"


def _check_text_field(handle, path: Path, n: int, text_field: str, max_chars: int) -> None:
    fields: Dict[str, None] = {}
    for _, raw, _ in iter_lines(handle, 0, line_cap("jsonl", max_chars)):
        value = _json_object(raw)
        if isinstance(value, dict):
            if text_field in value:
                return
            fields.update(dict.fromkeys(map(str, value)))
        n -= 1
        if n == 0:
            break
    if fields:
        raise AnnotateError(
            f"No line of the first part of {str(path)!r} has the field {text_field!r} "
            f"(fields: {', '.join(list(fields)[:20])}): set --text-field."
        )
    raise AnnotateError(
        f"No line of the first part of {str(path)!r} is a JSON object with the field "
        f"{text_field!r}: is it JSON Lines, one object a line? A plain text file, one "
        f"document a line, should end in .txt."
    )


def _json_object(raw: Optional[bytes]) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw is not None else None
    except (ValueError, RecursionError):
        return None


def read_lines(part, text_field: str, id_field: str, max_chars: int) -> List[Dict[str, Any]]:
    """Read one part of a JSONL or text file as pre-records (see rows.make_row).

    part (Part): The part.
    text_field (str): The JSON field with the text.
    id_field (str): The JSON field with the id.
    max_chars (int): The longest text.
    RETURNS (List[Dict[str, Any]]): The rows, in file order.
    """
    fmt, rows = part.shard.format, []
    check = {"field": text_field, "max_chars": max_chars}
    with open_input(Path(part.shard.path), KINDS[fmt]) as handle:
        lines = iter_lines(handle, part.offset, line_cap(fmt, max_chars))
        for number, (_, raw, length) in enumerate(lines, start=part.start + 1):
            rows.append(_line_row(raw, length, number, fmt, id_field, check, part.id_type))
            if number == part.start + part.rows:
                break
    return rows


def _line_row(raw, length: int, number: int, fmt: str, id_field: str, check, id_type):
    text, error = _decode(raw, length, number, fmt, check["max_chars"])
    if error is not None:
        return _error_row(number, id_type, error)
    if fmt == "txt":
        return make_row(row_id(number, number, id_type)[0], text, **check)
    if not text.strip():
        return _error_row(number, id_type, f"line {number} is blank")
    try:
        # json, not srsly: its messages say where a line breaks, and it reads big ints.
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        error = f"line {number} is not valid JSON: {err}"
        return _error_row(number, id_type, error)
    if not isinstance(value, dict):
        error = f"line {number} is a JSON {type(value).__name__}, not an object"
        return _error_row(number, id_type, error)
    the_id, id_error = row_id(value.get(id_field), number, id_type)
    row = make_row(the_id, value.get(check["field"], MISSING), **check)
    row["error"] = id_error or row["error"]
    return row


def _decode(raw, length: int, number: int, fmt: str, max_chars: int) -> Tuple[str, Optional[str]]:
    if raw is None:
        if fmt == "txt":
            return "", f"line {number} has more than {max_chars} characters ({length} bytes)"
        cap = line_cap(fmt, max_chars)
        return "", (
            f"line {number} has more than {cap} bytes ({length}): too long for a row whose "
            f"text has at most {max_chars} characters"
        )
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return "", (
            f"line {number} is not UTF-8: byte 0x{raw[err.start]:02X} at byte {err.start + 1} "
            f"of the line"
        )


def _error_row(number: int, id_type, error: str) -> Dict[str, Any]:
    return {"id": row_id(number, number, id_type)[0], "text": None, "error": error}
