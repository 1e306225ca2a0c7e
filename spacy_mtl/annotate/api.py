"""`annotate`: run a pipeline over a file or a directory of shards, resumably.

A run has a layout (where it reads and writes), a plan (the shards cut into
parts, kept in a manifest so that a rerun resumes), an engine that annotates
the parts still to do, and a summary that counts every part's records.
"""

import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from .engines import ENGINES, make_engine
from .io import (
    DEFAULT_PART_SIZE,
    MANIFEST,
    OUTPUT_FORMATS,
    AnnotateError,
    Part,
    Shard,
    find_inputs,
    load_manifest,
    make_parts,
    merge_parts,
    output_settings,
    plan_shard,
    read_records,
    remove_stale_temporaries,
    save_manifest,
    shard_unchanged,
    shards_from_manifest,
    write_part,
)
from .rows import DEFAULT_MAX_ROW_CHARS

PathLike = Union[str, Path]


@dataclass
class AnnotateSummary:
    """What an annotate run did.

    rows (int): Records in the output, one per input row.
    errors (int): Records with an error.
    error_kinds (Dict[str, int]): Errors counted by kind.
    parts_written (int): Part files written by this run.
    parts_skipped (int): Part files an earlier run had finished.
    rows_annotated (int): Rows annotated by this run.
    seconds (float): Time spent annotating and writing in this run.
    output (str): The output file or directory.
    """

    rows: int = 0
    errors: int = 0
    error_kinds: Dict[str, int] = field(default_factory=dict)
    parts_written: int = 0
    parts_skipped: int = 0
    rows_annotated: int = 0
    seconds: float = 0.0
    output: str = ""

    def lines(self) -> List[str]:
        """The summary as lines of text, for the command line."""
        rate = self.rows_annotated / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.rows} records in {self.output}: {self.rows - self.errors} annotated, "
            f"{self.errors} with an error.",
            f"This run: {self.parts_written} part(s) written ({self.rows_annotated} rows, "
            f"{rate:.0f} docs/s), {self.parts_skipped} part(s) already done.",
        ]
        for kind, count in sorted(self.error_kinds.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {count} x {kind}")
        return lines

    def count(self, errors: List[Optional[str]]) -> None:
        """Set the counts of records and errors from every record's error (None: annotated)."""
        self.rows = len(errors)
        self.error_kinds = summarize_errors(errors)
        self.errors = sum(self.error_kinds.values())


def summarize_errors(messages: Iterable[Optional[str]]) -> Dict[str, int]:
    """Count error messages by kind, for the summary.

    messages (Iterable[Optional[str]]): The records' errors (None: no error).
    RETURNS (Dict[str, int]): Count by kind: the message with its numbers
        and line references removed.
    """
    kinds: Dict[str, int] = {}
    for message in messages:
        if message is None:
            continue
        # A number on its own ("line 12"), not one inside a name ("UTF-8", "U+D800").
        kind = re.sub(r"(?<![\w+-])\d+\b", "#", message.split(": ")[0])
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def annotate(
    pipeline: str,
    input: PathLike,
    output: PathLike,
    *,
    engine: str = "local",
    workers: int = 1,
    batch_size: int = 64,
    text_field: str = "text",
    id_field: str = "id",
    address: Optional[str] = None,
    part_size: int = DEFAULT_PART_SIZE,
    max_chars: int = DEFAULT_MAX_ROW_CHARS,
    output_format: Optional[str] = None,
    overwrite: bool = False,
    progress: Optional[bool] = None,
) -> AnnotateSummary:
    """Annotate every row of a file or a directory of shards with a pipeline.

    The output has one record per input row, in input order (shards in name
    order, rows in file order): id, text, intent, cats, entities and error. It
    is written in parts of `part_size` rows, each whole or not at all; a rerun
    skips the parts that are done, so a killed run picks up where it stopped.
    The records do not depend on the engine, the workers or the batch size,
    so a rerun may change them.

    pipeline (str): An installed package name or a path.
    input (Union[str, Path]): A .jsonl, .csv, .parquet or .txt file (one
        document per line, its line number the id), or a directory of them.
    output (Union[str, Path]): A .jsonl or .parquet file for a file input; a
        directory of part files for a directory input.
    engine (str): "local" (nlp.pipe with n_process=workers) or "ray" (Ray
        Data, an actor pool of `workers`).
    workers (int): Processes or actors.
    batch_size (int): Documents per batch.
    text_field (str): The field or column with the text.
    id_field (str): The field or column with the id; a row without one gets
        its row number.
    address (Optional[str]): A Ray cluster's address (engine "ray" only).
    part_size (int): Rows per part file.
    max_chars (int): The longest text annotated, in characters; longer ones get an error.
    output_format (Optional[str]): "jsonl" or "parquet"; default: the output's suffix, else jsonl.
    overwrite (bool): Start again rather than resume or stop.
    progress (Optional[bool]): Show a progress bar; default: if stderr is a terminal.
    RETURNS (AnnotateSummary): Counts of records and errors.
    """
    _check_settings(engine, workers, batch_size, part_size, max_chars, address)
    layout = _Layout.of(Path(input), Path(output), output_format)
    if overwrite:
        layout.remove()
    if layout.finished():
        return _count_output(layout)
    read_kwargs = {"text_field": text_field, "id_field": id_field, "max_chars": max_chars}
    parts = _plan_parts(pipeline, layout, {**read_kwargs, "part_size": part_size})
    runner = make_engine(engine, pipeline, workers=workers, batch_size=batch_size, address=address)
    summary = _annotate_parts(runner, layout, parts, read_kwargs, progress)
    _finish(layout, parts, summary)
    return summary


@dataclass
class _Layout:
    """Where a run reads and writes.

    One input file is annotated into a folder of parts beside the output file
    (OUTPUT.parts), merged into it at the end; a directory of shards into the
    output directory, which keeps its parts.
    """

    output: Path
    files: List[Tuple[Path, str]]
    single: bool
    fmt: str
    folder: Path

    @classmethod
    def of(cls, input: Path, output: Path, output_format: Optional[str]) -> "_Layout":
        files = find_inputs(input)
        single = input.is_file()
        fmt = _output_format(output, output_format, single)
        folder = output.with_name(output.name + ".parts") if single else output
        return cls(output, files, single, fmt, folder)

    def part_path(self, part: Part) -> Path:
        return self.folder / part.filename

    def finished(self) -> bool:
        """Whether an earlier run finished this one-file output; refuse one of the wrong kind."""
        if self.single and self.output.exists() and not self.folder.exists():
            if self.output.is_dir():
                raise AnnotateError(
                    f"The input is one file, so the output {str(self.output)!r} must be a file, "
                    f"but it is a directory."
                )
            return True
        if not self.single and self.output.exists() and not self.output.is_dir():
            raise AnnotateError(
                f"The input is a directory of shards, so the output {str(self.output)!r} must "
                f"be a directory of part files, but it is a file."
            )
        return False

    def remove(self) -> None:
        """Remove an earlier run's output (--overwrite), never a folder annotate did not write."""
        if self.single:
            if self.folder.is_dir():
                shutil.rmtree(self.folder)
            if self.output.is_file():
                self.output.unlink()
        elif self.folder.is_dir():
            if load_manifest(self.folder) is None and any(self.folder.iterdir()):
                raise AnnotateError(
                    f"Will not overwrite {str(self.folder)!r}: it has no {MANIFEST}, so annotate "
                    f"did not write it. Remove it yourself or choose another output."
                )
            shutil.rmtree(self.folder)


def _check_settings(engine, workers, batch_size, part_size, max_chars, address) -> None:
    if engine not in ENGINES:
        raise AnnotateError(f"Unknown engine {engine!r}: expected one of {', '.join(ENGINES)}.")
    for name, value in [
        ("workers", workers),
        ("batch_size", batch_size),
        ("part_size", part_size),
        ("max_chars", max_chars),
    ]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AnnotateError(f"{name} must be a positive integer, got {value!r}.")
    if address and engine != "ray":
        raise AnnotateError("--address names a Ray cluster: use it with --engine ray.")


def _output_format(output: Path, output_format: Optional[str], single: bool) -> str:
    suffix = output.suffix.lower().lstrip(".")
    if output_format is not None:
        if output_format not in OUTPUT_FORMATS:
            raise AnnotateError(
                f"Unknown output format {output_format!r}: expected {' or '.join(OUTPUT_FORMATS)}."
            )
        if single and suffix != output_format:
            raise AnnotateError(
                f"The output {str(output)!r} does not end in .{output_format}, the format "
                f"asked for."
            )
        return output_format
    if suffix in OUTPUT_FORMATS:
        return suffix
    if single:
        raise AnnotateError(
            f"Cannot tell the output format of {str(output)!r}: name it .jsonl or .parquet."
        )
    return "jsonl"


def _plan_parts(pipeline: str, layout: _Layout, settings: Dict[str, Any]) -> List[Part]:
    """The run's parts, from the plan of an unfinished run or a new one."""
    settings = {**settings, "fmt": layout.fmt}
    shards = _plan(pipeline, layout, settings)
    parts = make_parts(shards, settings["part_size"], layout.fmt, layout.single)
    remove_stale_temporaries(layout.folder, parts)
    return parts


def _plan(pipeline: str, layout: _Layout, settings: Dict[str, Any]) -> List[Shard]:
    """Plan the shards and start the manifest, or take an unfinished run's plan to resume it."""
    folder = layout.folder
    manifest = load_manifest(folder)
    if manifest is None:
        if folder.is_dir() and any(p.name != MANIFEST for p in folder.iterdir()):
            raise AnnotateError(
                f"The output {str(folder)!r} exists and is not empty, but annotate did not start "
                f"it (no {MANIFEST}): choose another output."
            )
        shards = [
            plan_shard(
                path,
                name,
                settings["part_size"],
                settings["text_field"],
                settings["id_field"],
                settings["max_chars"],
            )
            for path, name in layout.files
        ]
        folder.mkdir(parents=True, exist_ok=True)
        save_manifest(folder, output_settings(pipeline, shards, **settings))
        return shards
    fresh = output_settings(pipeline, [], **settings)
    changed = [k for k in fresh if k != "shards" and manifest.get(k) != fresh[k]]
    shards = shards_from_manifest(manifest)
    if [(str(p.resolve()), n) for p, n in layout.files] != [(s.path, s.name) for s in shards]:
        changed.append("input files")
    elif not all(shard_unchanged(shard) for shard in shards):
        changed.append("input contents")
    if changed:
        raise AnnotateError(
            f"{str(folder)!r} holds an unfinished run with other {', '.join(changed)}: rerun with "
            f"the same pipeline, input and settings to resume, or pass --overwrite to start again."
        )
    return shards


def _annotate_parts(runner, layout: _Layout, parts: List[Part], read_kwargs, progress):
    """Annotate and write the parts an earlier run did not finish; count every part's records."""
    done = [part for part in parts if layout.part_path(part).exists()]
    pending = [part for part in parts if not layout.part_path(part).exists()]
    summary = AnnotateSummary(output=str(layout.output), parts_skipped=len(done))
    bar = _progress_bar(parts, done, progress)
    start = time.perf_counter()
    errors: List[Optional[str]] = []
    try:
        for part, records in runner.run(pending, read_kwargs, progress=bar.update):
            write_part(layout.part_path(part), records, layout.fmt)
            summary.parts_written += 1
            summary.rows_annotated += len(records)
            errors.extend(record["error"] for record in records)
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - start
    # Parts an earlier run wrote are read back for the counts; this run's were counted above.
    for part in done:
        errors.extend(record["error"] for record in read_records(layout.part_path(part)))
    summary.count(errors)
    return summary


def _finish(layout: _Layout, parts: List[Part], summary: AnnotateSummary) -> None:
    """Merge a one-file run's parts into its output; mark a directory's manifest complete."""
    if layout.single:
        merge_parts([layout.part_path(part) for part in parts], layout.output, layout.fmt)
        shutil.rmtree(layout.folder)
    else:
        manifest = load_manifest(layout.folder) or {}
        manifest["complete"] = {"rows": summary.rows, "errors": summary.errors}
        save_manifest(layout.folder, manifest)


def _progress_bar(parts: List[Part], done: List[Part], progress: Optional[bool]):
    from tqdm import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    return tqdm(
        total=sum(part.rows for part in parts),
        initial=sum(part.rows for part in done),
        unit="doc",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def _count_output(layout: _Layout) -> AnnotateSummary:
    """The summary of a one-file output an earlier run finished."""
    summary = AnnotateSummary(output=str(layout.output), parts_skipped=1)
    summary.count([record["error"] for record in read_records(layout.output)])
    return summary
