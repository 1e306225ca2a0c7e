"""Reading annotate's input in parts, and writing its part files.

The input (a file, or a directory of shards) is planned once: every shard is
counted and cut into parts of `part_size` rows. A part is the unit of work and
of output: each part file is written whole (spacy_mtl.atomic) or not at all, so
a rerun finds the finished parts and does only the others. The plan and the
settings that decide the output are kept in a manifest beside the parts; a
rerun against changed input, pipeline or settings stops rather than mixing old
and new records.
"""

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import srsly

from ..atomic import atomic_path, atomic_write
from .arrow import records_to_table
from .csv_input import plan_csv, read_csv
from .errors import AnnotateError
from .ids import ANY_IDS, run_id_type
from .parquet_input import plan_parquet, pyarrow_parquet, read_parquet
from .rows import DEFAULT_MAX_ROW_CHARS, record_from_json, record_to_json
from .text_input import plan_lines, read_lines

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
# 2: shards note their ids' type, parts read ids as the output's id column stores them.
MANIFEST_VERSION = 2
_READERS = {"jsonl": read_lines, "txt": read_lines, "csv": read_csv, "parquet": read_parquet}

__all__ = ["AnnotateError"]


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
    id_type: str = ANY_IDS


@dataclass
class Part:
    """Rows [start, start + rows) of one shard: one output part file."""

    shard: Shard
    number: int
    start: int
    rows: int
    offset: int
    filename: str
    id_type: Optional[str] = None


def find_inputs(path: Path) -> List[Tuple[Path, str]]:
    """List the input files: the file itself, or a directory's files in name order.

    path (Path): A file or a directory of shards.
    RETURNS (List[Tuple[Path, str]]): (file, name) pairs; a shard's name is its
        path relative to the directory.
    """
    if not path.exists():
        raise AnnotateError(f"The input {str(path)!r} does not exist.")
    if not path.is_file() and not path.is_dir():
        raise AnnotateError(
            f"The input {str(path)!r} is not a file or a directory (a device, a pipe or a "
            f"socket): annotate reads its input more than once. Save it to a file first."
        )
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


def plan_shard(
    path: Path,
    name: str,
    part_size: int,
    text_field: str,
    id_field: str = "id",
    max_chars: int = DEFAULT_MAX_ROW_CHARS,
) -> Shard:
    """Check a shard, count its rows and note where each part begins.

    What would make every row an error (a missing text column or field, UTF-16
    text), or the rows impossible to tell apart (an unclosed CSV quote), is
    refused here, before any work, with the file and what to do.

    path (Path): The file.
    name (str): Its name within the input.
    part_size (int): Rows per part.
    text_field (str): The text column or field.
    id_field (str): The id column or field.
    max_chars (int): The longest text annotated.
    RETURNS (Shard): The shard with its row count, part offsets (bytes for
        JSONL and text, rows otherwise) and the type of its ids.
    """
    fmt = _input_format(path)
    stat = path.stat()
    shard = Shard(str(path.resolve()), name, fmt, stat.st_size, stat.st_mtime_ns)
    if fmt in ("jsonl", "txt"):
        planned = plan_lines(path, fmt, part_size, text_field, max_chars)
    elif fmt == "csv":
        planned = plan_csv(path, part_size, text_field, id_field)
    else:
        planned = plan_parquet(path, part_size, text_field, id_field)
    shard.rows, shard.offsets, shard.id_type = planned
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
    id_type = run_id_type([shard.id_type for shard in shards], ext)
    for shard in shards:
        stem = "part" if single else shard.name.replace("/", "__").rsplit(".", 1)[0]
        for number, offset in enumerate(shard.offsets):
            start = number * part_size
            rows = min(part_size, shard.rows - start)
            filename = f"{stem}-{number:05d}.{ext}"
            parts.append(Part(shard, number, start, rows, offset, filename, id_type))
    return parts


def read_part(
    part: Part, *, text_field: str, id_field: str, max_chars: int = DEFAULT_MAX_ROW_CHARS
) -> List[Dict[str, Any]]:
    """Read one part's rows as pre-records {"id", "text", "error"}.

    A row without an id in `id_field` (none, null or empty) gets its row number:
    the line number in JSONL and text files, the data row number (from 1, after
    the header) in CSV and Parquet. Ids are as the output stores them (see
    spacy_mtl.annotate.ids); a row whose id cannot be stored is an error record.

    part (Part): The part.
    text_field (str): The field with the text.
    id_field (str): The field with the id.
    max_chars (int): The longest text accepted.
    RETURNS (List[Dict[str, Any]]): The rows, in file order.
    """
    read = _READERS[part.shard.format]
    return read(part, text_field=text_field, id_field=id_field, max_chars=max_chars)


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
        pq = pyarrow_parquet()
        with atomic_path(path) as tmp:
            pq.write_table(records_to_table(records), tmp)


def read_records(path: Path) -> Iterator[Dict[str, Any]]:
    """Read the records of a JSONL or Parquet output file.

    path (Path): The file.
    YIELDS (Dict[str, Any]): The records, with maps (`cats`) as dicts.
    """
    if path.suffix == ".parquet":
        import pyarrow as pa

        table = pyarrow_parquet().read_table(path)
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
    pq = pyarrow_parquet()
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
    pipeline: str,
    shards: List[Shard],
    *,
    text_field,
    id_field,
    part_size,
    max_chars,
    fmt,
    export=None,
    sort_by=None,
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
        # A tool's export and its order (export.py); None for records, as before they existed.
        "export": export,
        "sort_by": sort_by,
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
