"""annotate's Parquet input: a text column, perhaps an id column, read a row group at a time.

pyarrow is imported only when a Parquet file is read or written, as it is
optional. Every failure to read a file (not Parquet, truncated, corrupt pages)
is an AnnotateError that names the file, so that a bad shard of a directory is
found at once.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List

from .errors import AnnotateError
from .ids import ANY_IDS, INT_IDS, row_id
from .rows import make_row


def pyarrow_parquet():
    """Import pyarrow.parquet, or say how to install it."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise AnnotateError(
            "Parquet needs pyarrow: pip install 'spacy-mtl[parquet]' (or 'spacy-mtl[ray]')."
        ) from err
    return pq


@contextmanager
def _reading(path: Path) -> Iterator:
    """Turn pyarrow's and the system's errors while reading `path` into one that names it."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, OSError) as err:
        raise AnnotateError(
            f"The Parquet file {str(path)!r} cannot be read: {err}. Replace or remove it "
            f"(a directory's shards are read in name order; the others are fine so far)."
        ) from None


def plan_parquet(path: Path, part_size: int, text_field: str, id_field: str):
    """Check a Parquet file's columns and count its rows.

    path (Path): The file.
    part_size (int): Rows per part.
    text_field (str): The text column, which the schema must have once.
    id_field (str): The id column, which the schema may have at most once.
    RETURNS (Tuple[int, List[int], str]): Rows, the row where each part begins, and the
        ids' type (integers where the id column is a signed integer type, or absent).
    """
    pq = pyarrow_parquet()
    with _reading(path):
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
        rows = handle.metadata.num_rows
    names = schema.names
    if text_field not in names:
        raise AnnotateError(
            f"The Parquet file {str(path)!r} has no column {text_field!r} (columns: "
            f"{', '.join(names)}): set --text-field."
        )
    for name in (text_field, id_field):
        if names.count(name) > 1:
            raise AnnotateError(
                f"The Parquet file {str(path)!r} has {names.count(name)} columns named "
                f"{name!r}: rename all but one, so that annotate knows which to read."
            )
    return rows, list(range(0, rows, part_size)), _id_type(schema, id_field)


def _id_type(schema, id_field: str) -> str:
    import pyarrow as pa

    if id_field not in schema.names:
        return INT_IDS
    kind = schema.field(id_field).type
    # uint64 holds integers that int64 does not.
    return (
        INT_IDS
        if pa.types.is_signed_integer(kind) or kind in (pa.uint8(), pa.uint16(), pa.uint32())
        else ANY_IDS
    )


def read_parquet(part, text_field: str, id_field: str, max_chars: int) -> List[Dict[str, Any]]:
    """Read one part of a Parquet file as pre-records (see rows.make_row), a row group at a time.

    part (Part): The part.
    text_field (str): The text column.
    id_field (str): The id column; a row whose id is null gets its row number (from 1).
    max_chars (int): The longest text.
    RETURNS (List[Dict[str, Any]]): The rows, in file order.
    """
    path = Path(part.shard.path)
    with _reading(path):
        handle = pyarrow_parquet().ParquetFile(path)
        has_id = id_field in handle.schema_arrow.names
        columns = [text_field] + ([id_field] if has_id else [])
        rows, first = [], 0
        for group in range(handle.metadata.num_row_groups):
            n = handle.metadata.row_group(group).num_rows
            lo, hi = max(part.start, first), min(part.start + part.rows, first + n)
            if lo < hi:
                table = handle.read_row_group(group, columns=columns).slice(lo - first, hi - lo)
                texts = table.column(text_field).to_pylist()
                ids = table.column(id_field).to_pylist() if has_id else [None] * len(texts)
                for number, text, value in zip(range(lo + 1, hi + 1), texts, ids):
                    the_id, id_error = row_id(value, number, part.id_type)
                    row = make_row(the_id, text, field=text_field, max_chars=max_chars)
                    row["error"] = id_error or row["error"]
                    rows.append(row)
            first += n
    return rows
