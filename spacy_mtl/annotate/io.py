"""Reading annotate's input in parts, and writing its part files.

The input (a file, or a directory of shards) is planned once: every shard is
counted and cut into parts of `part_size` rows. A part is the unit of work and
of output: each part file is written whole (spacy_mtl.atomic) or not at all, so
a rerun finds the finished parts and does only the others. The plan and the
settings that decide the output are kept in a manifest beside the parts; a
rerun against changed input, pipeline or settings stops rather than mixing old
and new records.
"""

import csv
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import srsly

from ..atomic import atomic_path, atomic_write
from .arrow import records_to_table
from .rows import DEFAULT_MAX_ROW_CHARS, MISSING, make_row, record_from_json, record_to_json

INPUT_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".txt": "txt",
}
OUTPUT_FORMATS = ("jsonl", "parquet")
DEFAULT_PART_SIZE = 5_000
MANIFEST = "_annotate.json"
MANIFEST_VERSION = 1


class AnnotateError(ValueError):
    """The input, the output or the settings of an annotation run are wrong."""


@dataclass
class Shard:
    """One input file: its format, size and where its parts begin."""

    path: str
    name: str
    format: str
    size: int
    mtime_ns: int
    rows: int = 0
    offsets: List[int] = field(default_factory=list)


@dataclass
class Part:
    """Rows [start, start + rows) of one shard: one output part file."""

    shard: Shard
    number: int
    start: int
    rows: int
    offset: int
    filename: str


def find_inputs(path: Path) -> List[Tuple[Path, str]]:
    """List the input files: the file itself, or a directory's files in name order.

    path (Path): A file or a directory of shards.
    RETURNS (List[Tuple[Path, str]]): (file, name) pairs; a shard's name is its
        path relative to the directory.
    """
    if not path.exists():
        raise AnnotateError(f"The input {str(path)!r} does not exist.")
    if path.is_file():
        _input_format(path)
        return [(path, path.name)]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    shards = [(p, p.relative_to(path).as_posix()) for p in files if p.suffix in INPUT_FORMATS]
    if not shards:
        raise AnnotateError(
            f"The input directory {str(path)!r} has no shards: expected files ending in "
            f"{', '.join(sorted(INPUT_FORMATS))}."
        )
    return shards


def _input_format(path: Path) -> str:
    fmt = INPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AnnotateError(
            f"Cannot tell the format of {str(path)!r} from its suffix: expected one of "
            f"{', '.join(sorted(INPUT_FORMATS))}."
        )
    return fmt


def plan_shard(path: Path, name: str, part_size: int, text_field: str) -> Shard:
    """Count a shard's rows and note where each part begins.

    path (Path): The file.
    name (str): Its name within the input.
    part_size (int): Rows per part.
    text_field (str): The text column, checked in CSV and Parquet headers.
    RETURNS (Shard): The shard with its row count and part offsets (bytes for
        JSONL and text, rows otherwise).
    """
    fmt = _input_format(path)
    stat = path.stat()
    shard = Shard(str(path.resolve()), name, fmt, stat.st_size, stat.st_mtime_ns)
    if fmt in ("jsonl", "txt"):
        offset = 0
        with path.open("rb") as handle:
            for line in handle:
                if shard.rows % part_size == 0:
                    shard.offsets.append(offset)
                shard.rows += 1
                offset += len(line)
    elif fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise AnnotateError(f"The CSV file {str(path)!r} is empty: expected a header.")
            if text_field not in header:
                raise AnnotateError(
                    f"The CSV file {str(path)!r} has no column {text_field!r} (columns: "
                    f"{', '.join(header)}): set --text-field."
                )
            shard.rows = sum(1 for _ in reader)
        shard.offsets = list(range(0, shard.rows, part_size))
    else:
        pq = _pyarrow_parquet()
        schema = pq.read_schema(path)
        if text_field not in schema.names:
            raise AnnotateError(
                f"The Parquet file {str(path)!r} has no column {text_field!r} (columns: "
                f"{', '.join(schema.names)}): set --text-field."
            )
        shard.rows = pq.ParquetFile(path).metadata.num_rows
        shard.offsets = list(range(0, shard.rows, part_size))
    return shard


def make_parts(shards: List[Shard], part_size: int, ext: str, single: bool) -> List[Part]:
    """Cut the shards into parts and name their files.

    shards (List[Shard]): The planned shards.
    part_size (int): Rows per part.
    ext (str): The output format, "jsonl" or "parquet".
    single (bool): Whether the input is one file (parts are then numbered only).
    RETURNS (List[Part]): The parts, in input order.
    """
    parts = []
    for shard in shards:
        stem = "part" if single else shard.name.replace("/", "__").rsplit(".", 1)[0]
        for number, offset in enumerate(shard.offsets):
            start = number * part_size
            rows = min(part_size, shard.rows - start)
            parts.append(Part(shard, number, start, rows, offset, f"{stem}-{number:05d}.{ext}"))
    return parts


def read_part(
    part: Part, *, text_field: str, id_field: str, max_chars: int = DEFAULT_MAX_ROW_CHARS
) -> List[Dict[str, Any]]:
    """Read one part's rows as pre-records {"id", "text", "error"}.

    A row without an id in `id_field` gets its row number: the line number in
    JSONL and text files, the data row number (from 1, after the header) in CSV
    and Parquet.

    part (Part): The part.
    text_field (str): The field with the text.
    id_field (str): The field with the id.
    max_chars (int): The longest text accepted.
    RETURNS (List[Dict[str, Any]]): The rows, in file order.
    """
    check = {"field": text_field, "max_chars": max_chars}
    if part.shard.format in ("jsonl", "txt"):
        return _read_lines(part, text_field, id_field, check)
    if part.shard.format == "csv":
        return _read_csv(part, text_field, id_field, check)
    return _read_parquet(part, text_field, id_field, check)


def _read_lines(part: Part, text_field: str, id_field: str, check) -> List[Dict[str, Any]]:
    rows = []
    with open(part.shard.path, "rb") as handle:
        handle.seek(part.offset)
        for i in range(part.rows):
            number = part.start + i + 1
            line = handle.readline()
            rows.append(_line_row(line, number, part.shard.format, text_field, id_field, check))
    return rows


def _read_csv(part: Part, text_field: str, id_field: str, check) -> List[Dict[str, Any]]:
    rows = []
    with open(part.shard.path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for i, row in enumerate(reader):
            if i < part.start:
                continue
            if i >= part.start + part.rows:
                break
            row_id = row.get(id_field) or i + 1
            rows.append(make_row(row_id, row.get(text_field, MISSING), **check))
    return rows


def _read_parquet(part: Part, text_field: str, id_field: str, check) -> List[Dict[str, Any]]:
    handle = _pyarrow_parquet().ParquetFile(part.shard.path)
    columns = [text_field] + ([id_field] if id_field in handle.schema_arrow.names else [])
    rows = []
    first = 0
    for group in range(handle.metadata.num_row_groups):
        n = handle.metadata.row_group(group).num_rows
        lo, hi = max(part.start, first), min(part.start + part.rows, first + n)
        if lo < hi:
            table = handle.read_row_group(group, columns=columns).slice(lo - first, hi - lo)
            texts = table.column(text_field).to_pylist()
            ids = [None] * len(texts)
            if len(columns) > 1:
                ids = table.column(id_field).to_pylist()
            for j, (text, row_id) in enumerate(zip(texts, ids)):
                number = lo + j + 1
                rows.append(make_row(number if row_id is None else row_id, text, **check))
        first += n
    return rows


def _line_row(line: bytes, number: int, fmt: str, text_field: str, id_field: str, check):
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        return {"id": number, "text": None, "error": f"line {number} is not UTF-8: {err.reason}"}
    if fmt == "txt":
        return make_row(number, text, **check)
    if not text.strip():
        return {"id": number, "text": None, "error": f"line {number} is blank"}
    try:
        # json, not srsly: its messages say where a line breaks, and it reads big ints.
        value = json.loads(text)
    except ValueError as err:
        return {"id": number, "text": None, "error": f"line {number} is not valid JSON: {err}"}
    if not isinstance(value, dict):
        kind = type(value).__name__
        error = f"line {number} is a JSON {kind}, not an object"
        return {"id": number, "text": None, "error": error}
    return make_row(value.get(id_field, number), value.get(text_field, MISSING), **check)


def write_part(path: Path, records: List[Dict[str, Any]], fmt: str) -> None:
    """Write one part file whole (a temporary file, then renamed).

    path (Path): The part file.
    records (List[Dict[str, Any]]): Its records, in order.
    fmt (str): "jsonl" or "parquet".
    """
    if fmt == "jsonl":
        with atomic_write(path, "w") as handle:
            for record in records:
                handle.write(record_to_json(record) + "\n")
    else:
        pq = _pyarrow_parquet()
        with atomic_path(path) as tmp:
            pq.write_table(records_to_table(records), tmp)


def read_records(path: Path) -> Iterator[Dict[str, Any]]:
    """Read the records of a JSONL or Parquet output file.

    path (Path): The file.
    YIELDS (Dict[str, Any]): The records, with maps (`cats`) as dicts.
    """
    if path.suffix == ".parquet":
        import pyarrow as pa

        table = _pyarrow_parquet().read_table(path)
        maps = [field.name for field in table.schema if pa.types.is_map(field.type)]
        for row in table.to_pylist():
            row.update((name, dict(row[name] or [])) for name in maps)
            yield row
    else:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                yield record_from_json(line)


def merge_parts(paths: Iterable[Path], target: Path, fmt: str) -> None:
    """Concatenate part files into one output file, written atomically.

    paths (Iterable[Path]): The part files, in order.
    target (Path): The output file.
    fmt (str): "jsonl" or "parquet".
    """
    if fmt == "jsonl":
        with atomic_write(target, "wb") as out:
            for path in paths:
                with path.open("rb") as handle:
                    shutil.copyfileobj(handle, out)
        return
    pq = _pyarrow_parquet()
    paths = list(paths)
    with atomic_path(target) as tmp:
        writer = None
        for path in paths:
            table = pq.read_table(path)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            pq.write_table(records_to_table([]), tmp)
        else:
            writer.close()


def pipeline_fingerprint(pipeline: str) -> Dict[str, Any]:
    """Identify a pipeline, so that a rerun can tell whether it changed.

    pipeline (str): A package name or a path.
    RETURNS (Dict[str, Any]): Name, version and, for a directory, a hash of
        its files' names, sizes and modification times.
    """
    path = Path(pipeline)
    if path.exists():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        meta = _read_json(path / "meta.json") or {}
        return {
            "path": str(path.resolve()),
            "name": meta.get("name"),
            "version": meta.get("version"),
            "files": digest.hexdigest(),
        }
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(pipeline)
    except PackageNotFoundError:
        installed = None
    return {"package": pipeline, "version": installed}


def output_settings(
    pipeline: str, shards: List[Shard], *, text_field, id_field, part_size, max_chars, fmt
) -> Dict[str, Any]:
    """The manifest: everything that decides the records of a run, and its plan."""
    return {
        "version": MANIFEST_VERSION,
        "pipeline": pipeline_fingerprint(pipeline),
        "text_field": text_field,
        "id_field": id_field,
        "part_size": part_size,
        "max_chars": max_chars,
        "format": fmt,
        "shards": [asdict(shard) for shard in shards],
    }


def load_manifest(folder: Path) -> Optional[Dict[str, Any]]:
    """The manifest of an earlier run in `folder`, or None."""
    return _read_json(folder / MANIFEST)


def save_manifest(folder: Path, manifest: Dict[str, Any]) -> None:
    """Write the manifest atomically."""
    with atomic_write(folder / MANIFEST, "w") as handle:
        handle.write(srsly.json_dumps(manifest, indent=2))


def shards_from_manifest(manifest: Dict[str, Any]) -> List[Shard]:
    """The planned shards kept in a manifest."""
    return [Shard(**shard) for shard in manifest["shards"]]


def shard_unchanged(shard: Shard) -> bool:
    """Whether a planned shard's file is still the one that was planned."""
    try:
        stat = os.stat(shard.path)
    except OSError:
        return False
    return stat.st_size == shard.size and stat.st_mtime_ns == shard.mtime_ns


def remove_stale_temporaries(folder: Path, parts: List[Part]) -> None:
    """Remove temporary files that a killed run left beside its part files."""
    names = {part.filename for part in parts} | {MANIFEST}
    for path in folder.iterdir():
        if path.name.startswith(".") and any(path.name.startswith(f".{n}") for n in names):
            path.unlink(missing_ok=True)


def _read_json(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return srsly.read_json(path)
    except (OSError, ValueError):
        return None


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise AnnotateError(
            "Parquet needs pyarrow: pip install 'spacy-mtl[parquet]' (or 'spacy-mtl[ray]')."
        ) from err
    return pq
