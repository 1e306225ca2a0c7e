"""The id of an annotate record: a JSON value that every output can store.

A row's id is taken as it is read (a JSON value, a CSV cell, a Parquet value),
made into a plain JSON value (Parquet's dates and times as ISO text, decimals as
their digits, bytes as text with undecodable bytes escaped), and checked: an id
with a lone surrogate or a non-finite number cannot be written, so its row gets
an error record under its row number, which also stands in for a missing (null
or empty) id.

The id column of a Parquet output has one type for the whole run, decided when
the run is planned, so that part files always merge: int64 where every id is an
integer by construction (text files; Parquet inputs whose id column is an
integer type, or absent), string otherwise, a non-string id stored as its JSON
text (7 as "7", [1, 2] as "[1,2]"). A JSONL output keeps each id's JSON type.
"""

import datetime
import decimal
import json
import math
from typing import Any, Optional, Tuple

from ..texts import lone_surrogate

# What a shard's rows' ids are: integers by construction, or anything.
INT_IDS = "int"
ANY_IDS = "any"
# What a part's ids are turned into: Parquet's id column, or kept as they are (JSONL).
STRING_IDS = "string"


class BadId(ValueError):
    """An id that no output can store."""


def run_id_type(shard_id_types, fmt: str) -> Optional[str]:
    """The id type of a run's parts: INT_IDS or STRING_IDS for Parquet, None for JSONL."""
    if fmt != "parquet":
        return None
    return INT_IDS if all(t == INT_IDS for t in shard_id_types) else STRING_IDS


def row_id(value: Any, number: int, id_type: Optional[str]) -> Tuple[Any, Optional[str]]:
    """A row's id as the output stores it, and the error that makes the row an error record.

    value (Any): The id as read; None or "" when the row has none.
    number (int): The row number, the id of a row without one.
    id_type (Optional[str]): STRING_IDS (a Parquet output's string column), or None.
    RETURNS (Tuple[Any, Optional[str]]): The id, and None or an error message.
    """
    if value is None or value == "":
        value = number
    try:
        value = plain_id(value)
    except BadId as err:
        return _typed(number, id_type), str(err)
    return _typed(value, id_type), None


def _typed(value: Any, id_type: Optional[str]) -> Any:
    if id_type == STRING_IDS and not isinstance(value, str):
        # As record_to_json writes it (json: exact floats, big integers in full).
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return value


def plain_id(value: Any) -> Any:
    """An id as a plain JSON value; raise BadId if it cannot be written.

    value (Any): An id as read from JSON, CSV or Parquet.
    RETURNS (Any): A str, int, float, bool, list or dict.
    """
    if isinstance(value, str):
        surrogate = lone_surrogate(value)
        if surrogate is not None:
            raise BadId(
                f"id is not valid Unicode: a lone surrogate {surrogate[1]} in {ascii(value)[:80]}"
            )
        return value
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadId(f"id is not a finite number: {value}")
        return value
    if isinstance(value, (list, tuple)):
        return [plain_id(item) for item in value]
    if isinstance(value, dict):
        return {str(plain_id(key)): plain_id(item) for key, item in value.items()}
    return _plain_scalar(value)


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return plain_id(str(value))
