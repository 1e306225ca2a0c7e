"""`annotate`: run a pipeline over a file or a directory of shards, resumably.

A run has a layout (where it reads and writes), a plan (the shards cut into
parts, kept in a manifest so that a rerun resumes), an engine that annotates
the parts still to do, and a summary that counts every part's records. A run
records what made its output, so that a rerun with another input, pipeline or
setting stops and says what differs (spacy_mtl.annotate.provenance); one run
at a time writes an output (spacy_mtl.atomic.output_lock).
"""

import re
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

import srsly

from ..atomic import output_lock, partial_path, write_text_atomic
from .engines import ENGINES, make_engine
from .export import SORT_KEYS, export_parts
from .io import (
    DEFAULT_PART_SIZE,
    MANIFEST,
    AnnotateError,
    Part,
    Shard,
    load_manifest,
    make_parts,
    merge_parts,
    output_settings,
    plan_shard,
    read_records,
    remove_stale_temporaries,
    save_manifest,
    shards_from_manifest,
    write_part,
)
from .layout import Layout, file_errors
from .provenance import differences, refusal
from .rows import DEFAULT_MAX_ROW_CHARS
from .workers import workers_die_with_parent

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
    intents (int): Records with an intent (none if the pipeline sets no doc.cats).
    exported (Optional[int]): Tasks written for an annotation tool (export.py), or None.
    """

    rows: int = 0
    errors: int = 0
    error_kinds: Dict[str, int] = field(default_factory=dict)
    parts_written: int = 0
    parts_skipped: int = 0
    rows_annotated: int = 0
    seconds: float = 0.0
    output: str = ""
    intents: int = 0
    exported: Optional[int] = None

    @property
    def all_failed(self) -> bool:
        """Whether there were rows and every one of them is an error record."""
        return self.rows > 0 and self.errors == self.rows

    def notes(self) -> List[str]:
        """What a user should know about the output beyond its counts."""
        notes = []
        if self.rows == 0:
            notes.append("The input has no rows: the output is empty.")
        elif self.all_failed:
            notes.append(
                f"Every one of the {self.rows} rows is an error record: nothing was annotated. "
                f"The errors are counted above; check the input and --text-field."
            )
        elif self.intents == 0:
            notes.append(
                "No record has an intent: the pipeline sets no categories (it has no text "
                "classifier such as mtl_textcat), so intent is null and cats empty throughout."
            )
        return notes

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
        if self.exported is not None:
            lines.append(
                f"{self.exported} tasks exported for correction; the {self.errors} error "
                "record(s) are left out."
            )
        return lines

    def count(self, records: Iterable[Dict[str, Any]]) -> None:
        """Set the counts of records, errors and intents from every record."""
        errors = []
        self.intents = 0
        for record in records:
            errors.append(record["error"])
            self.intents += record.get("intent") is not None
        self.rows = len(errors)
        self.error_kinds = summarize_errors(errors)
        self.errors = sum(self.error_kinds.values())

    def counts(self) -> Dict[str, Any]:
        """The counts a finished run keeps in its record."""
        keys = ("rows", "errors", "error_kinds", "intents", "exported")
        return {key: getattr(self, key) for key in keys}


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
    sort_by: Optional[str] = None,
    overwrite: bool = False,
    progress: Optional[bool] = None,
) -> AnnotateSummary:
    """Annotate every row of a file or a directory of shards with a pipeline.

    The output has one record per input row, in input order (shards in name
    order, rows in file order): id, text, intent, cats, entities and error. It
    is written in parts of `part_size` rows, each whole or not at all; a rerun
    skips the parts that are done, so a killed run picks up where it stopped.
    The records do not depend on the engine, the workers or the batch size,
    so a rerun may change them. Another input, pipeline or setting stops it.

    pipeline (str): An installed package name or a path.
    input (Union[str, Path]): A .jsonl, .csv, .parquet or .txt file (one
        document per line, its line number the id), or a directory of them.
    output (Union[str, Path]): A .jsonl or .parquet file for a file input; a
        directory of part files for a directory input.
    engine (str): "local" (nlp.pipe, n_process=workers) or "ray" (Ray Data, `workers` actors).
    workers (int): Processes or actors.
    batch_size (int): Documents per batch.
    text_field (str): The field or column with the text.
    id_field (str): The field or column with the id; else a row's number.
    address (Optional[str]): A Ray cluster's address (engine "ray" only).
    part_size, max_chars (int): Rows per part file; the longest text annotated (characters).
    output_format (Optional[str]): "jsonl" or "parquet" (default: the suffix, else jsonl), or
        "prodigy", "labelstudio": one file of tasks for that tool (export.py).
    sort_by (Optional[str]): With an export, "confidence": least confident first.
    overwrite (bool): Start again rather than resume, keep or refuse.
    progress (Optional[bool]): Show a progress bar; default: if stderr is a terminal.
    RETURNS (AnnotateSummary): Counts of records and errors.
    """
    _check_settings(engine, workers, batch_size, part_size, max_chars, address)
    _check_sort(sort_by, output_format)  # before any work, as every setting
    output, settings = Path(output), _settings(text_field, id_field, part_size, max_chars)
    engine_kwargs = {"workers": workers, "batch_size": batch_size, "address": address}
    with file_errors(output):
        layout = Layout.of(Path(input), output, output_format, pipeline)
        settings.update(fmt=layout.fmt, export=layout.export, sort_by=sort_by)
        with output_lock(output, "annotate"):
            if overwrite:
                layout.remove()
            # A finished output with the same record is kept; anything else runs or resumes.
            return _finished_summary(pipeline, layout, settings) or _run(
                pipeline, layout, settings, make_engine(engine, pipeline, **engine_kwargs), progress
            )


def _settings(text_field: str, id_field: str, part_size: int, max_chars: int) -> Dict[str, Any]:
    return {"text_field": text_field, "id_field": id_field, "part_size": part_size,
            "max_chars": max_chars}  # fmt: skip


def _run(pipeline: str, layout: Layout, settings: Dict[str, Any], runner, progress):
    """Plan or resume the run, annotate the parts still to do and finish the output."""
    parts = _plan_parts(pipeline, layout, settings)
    read_kwargs = {k: settings[k] for k in ("text_field", "id_field", "max_chars")}
    with workers_die_with_parent():
        summary = _annotate_parts(runner, layout, parts, read_kwargs, progress)
    _finish(layout, parts, summary, pipeline, settings["sort_by"])
    return summary


def _finished_summary(
    pipeline: str, layout: Layout, settings: Dict[str, Any]
) -> Optional[AnnotateSummary]:
    """The summary of a one-file output an earlier run finished with the same things, or None."""
    record = layout.finished_record()
    if record is None:
        return None
    fresh = output_settings(pipeline, [], **settings)
    # The parts are merged away: the part size does not change a one-file output.
    changed = differences(record, fresh, _input_paths(layout), ignore=("part_size",))
    if changed:
        raise refusal(layout.output, changed, finished=True, single=True)
    summary = AnnotateSummary(output=str(layout.output), parts_skipped=1)
    for key, value in record["complete"].items():
        setattr(summary, key, value)
    return summary


def _input_paths(layout: Layout) -> List[str]:
    return [str(path.resolve()) for path, _ in layout.files]


def _check_sort(sort_by: Optional[str], output_format: Optional[str]) -> None:
    if sort_by is not None and sort_by not in SORT_KEYS:
        raise AnnotateError(f"Unknown --sort-by {sort_by!r}: expected {', '.join(SORT_KEYS)}.")
    if sort_by is not None and output_format not in ("prodigy", "labelstudio"):
        raise AnnotateError(
            "--sort-by orders an export for correction: use it with --format prodigy or "
            "--format labelstudio."
        )


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


def _plan_parts(pipeline: str, layout: Layout, settings: Dict[str, Any]) -> List[Part]:
    """The run's parts, from the plan of an unfinished run or a new one."""
    shards = _plan(pipeline, layout, settings)
    # Parts are named after their shard unless there is one (an export of a directory has many).
    parts = make_parts(
        shards, settings["part_size"], layout.fmt, layout.single and len(shards) == 1
    )
    remove_stale_temporaries(layout.folder, parts)
    return parts


def _plan(pipeline: str, layout: Layout, settings: Dict[str, Any]) -> List[Shard]:
    """Plan the shards and start the manifest, or take an unfinished run's plan to resume it."""
    folder = layout.folder
    manifest = load_manifest(folder)
    if manifest is None:
        # A run killed as it wrote its manifest leaves only the manifest's temporary file.
        ours = {MANIFEST, partial_path(MANIFEST).name}
        if folder.is_dir() and any(p.name not in ours for p in folder.iterdir()):
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
        if layout.single:
            layout.record.unlink(missing_ok=True)  # a deleted output's: this run will replace it
        save_manifest(folder, output_settings(pipeline, shards, **settings))
        return shards
    fresh = output_settings(pipeline, [], **settings)
    changed = differences(manifest, fresh, _input_paths(layout))
    if changed:
        finished = "complete" in manifest
        raise refusal(folder, changed, finished=finished, single=layout.single)
    return shards_from_manifest(manifest)


def _annotate_parts(runner, layout: Layout, parts: List[Part], read_kwargs, progress):
    """Annotate and write the parts an earlier run did not finish; count every part's records."""
    done = [part for part in parts if layout.part_path(part).exists()]
    pending = [part for part in parts if not layout.part_path(part).exists()]
    summary = AnnotateSummary(output=str(layout.output), parts_skipped=len(done))
    bar = _progress_bar(parts, done, progress)
    start = time.perf_counter()
    counted: List[Dict[str, Any]] = []
    # closing: an interrupted run stops the engine (and its workers) here, not when collected.
    with closing(runner.run(pending, read_kwargs, progress=bar.update)) as results, bar:
        for part, records in results:
            write_part(layout.part_path(part), records, layout.fmt)
            summary.parts_written += 1
            summary.rows_annotated += len(records)
            counted.extend({"error": r["error"], "intent": r["intent"]} for r in records)
    summary.seconds = time.perf_counter() - start
    # Parts an earlier run wrote are read back for the counts; this run's were counted above.
    for part in done:
        counted.extend(read_records(layout.part_path(part)))
    summary.count(counted)
    return summary


def _finish(layout: Layout, parts: List[Part], summary: AnnotateSummary, pipeline, sort_by):
    """Merge a one-file run's parts into its output; mark a directory's manifest complete."""
    manifest = load_manifest(layout.folder) or {}
    paths = [layout.part_path(part) for part in parts]
    if layout.export:
        summary.exported = export_parts(paths, layout.output, layout.export, pipeline, sort_by)
    manifest["complete"] = summary.counts()
    if layout.single:
        # Output, then its record, then the parts: a kill between any two is resumed or
        # finished by the next run (Layout.finished_record).
        if not layout.export:
            merge_parts(paths, layout.output, layout.fmt)
        write_text_atomic(layout.record, srsly.json_dumps(manifest, indent=2))
        layout.remove_parts()
    else:
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
