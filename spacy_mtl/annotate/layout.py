"""Where an annotate run reads and writes, and what is refused there.

One input file is annotated into a folder of parts beside the output file
(``OUTPUT.parts``), merged into OUTPUT at the end, with the run's record in
``OUTPUT.annotate.json`` (spacy_mtl.annotate.provenance); a directory of shards
into the output directory, which keeps its parts and its manifest. The output
must not be the input (directly, through a link, or a directory inside the
input directory), nor something that is not a file (a device, a FIFO, a link), nor lie
inside a spaCy pipeline folder (the rerun's fingerprint of the pipeline would change
under its own output). Each of these is refused before any work.
"""

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from ..atomic import OutputError, check_output, check_output_folder, lock_path
from .export import EXPORT_FORMATS
from .io import MANIFEST, OUTPUT_FORMATS, AnnotateError, Part, find_inputs, load_manifest
from .provenance import load_record, record_path, same_plan

_ADVICE = {
    errno.EACCES: "check its permissions, or choose an output in a folder you can write to",
    errno.EPERM: "it may be immutable or protected: choose another output folder",
    errno.EROFS: "it is on a read-only file system: choose another output folder",
    errno.ENOSPC: "the disk is full: free some space and rerun, which resumes",
    errno.EDQUOT: "the disk quota is used up: free some space and rerun, which resumes",
}


@dataclass
class Layout:
    """Where a run reads and writes (see the module).

    output (Path): The output file or directory.
    files (List[Tuple[Path, str]]): The input files and their names.
    single (bool): Whether the input is one file.
    fmt (str): The format of the parts (and of the output, unless exported).
    folder (Path): Where the parts and the manifest are written.
    export (Optional[str]): The tool the output is for (export.py), or None.
    """

    output: Path
    files: List[Tuple[Path, str]]
    single: bool
    fmt: str
    folder: Path
    export: Optional[str] = None

    @classmethod
    def of(
        cls, input: Path, output: Path, output_format: Optional[str], pipeline: str = ""
    ) -> "Layout":
        """Check the input and the output, and say where the run writes.

        input (Path): The input file or directory.
        output (Path): The output file or directory.
        output_format (Optional[str]): The --format asked for, or None.
        pipeline (str): The pipeline's path (or package name): the output may not be it.
        RAISES (OutputError): Where atomic's checks refuse the output (file_errors says so).
        """
        files = find_inputs(input)
        export = _export_format(output, output_format)
        # An export is one file, whatever the input: its parts are JSONL.
        single = input.is_file() or export is not None
        fmt = "jsonl" if export else _output_format(output, output_format, single)
        if not input.is_file():
            _check_output_directory(output, input, must_be_directory=export is None)
        if single:
            _check_output_file(output, input)
        else:
            # A rerun resumes into the folder: annotate's own checks (its manifest) decide that.
            check_output_folder(output, [input, pipeline] if pipeline else [input], replace=True)
        folder = output.with_name(output.name + ".parts") if single else output
        return cls(output, files, single, fmt, folder, export)

    @property
    def record(self) -> Path:
        """The record of a finished one-file output."""
        return record_path(self.output)

    def part_path(self, part: Part) -> Path:
        return self.folder / part.filename

    def remove(self) -> None:
        """Remove an earlier run's output (--overwrite), never a folder annotate did not write."""
        if self.single:
            self.record.unlink(missing_ok=True)
            if self.output.is_file():
                self.output.unlink()
            if self.folder.is_dir():
                shutil.rmtree(self.folder)
        elif self.folder.is_dir():
            if load_manifest(self.folder) is None and any(self.folder.iterdir()):
                raise AnnotateError(
                    f"Will not overwrite {str(self.folder)!r}: it has no {MANIFEST}, so annotate "
                    f"did not write it. Remove it yourself or choose another output."
                )
            shutil.rmtree(self.folder)

    def remove_parts(self) -> None:
        """Remove a one-file run's parts folder, its manifest last: a kill midway leaves a plan."""
        for path in self.folder.iterdir():
            if path.name != MANIFEST:
                path.unlink()
        (self.folder / MANIFEST).unlink(missing_ok=True)
        self.folder.rmdir()

    def finished_record(self) -> Optional[dict]:
        """The record of a finished one-file output; None if there is none to finish or resume."""
        if not self.single or not self.output.exists():
            return None
        record = load_record(self.record)
        if self.folder.exists():
            if record is None or not same_plan(record, load_manifest(self.folder)):
                return None  # an unfinished run: resume it
            self.remove_parts()  # a finished run killed while it cleaned up
        if record is None or "complete" not in record:
            raise AnnotateError(
                f"The output {str(self.output)!r} exists, but annotate has no record of making "
                f"it (no {self.record.name}): pass --overwrite to replace it, or choose "
                f"another output."
            )
        return record


@contextlib.contextmanager
def file_errors(output: Path) -> Iterator[None]:
    """Turn an operating system's error on a file, and a refused output (spacy_mtl.atomic's
    checks and lock), into an AnnotateError naming it."""
    try:
        yield
    except OutputError as err:
        raise AnnotateError(f"The output {err.path!r}: {err.reason}") from None
    except OSError as err:
        name = err.filename or output
        advice = _ADVICE.get(err.errno or 0, "check the path and its folder")
        verb = "cannot be written" if _is_output(Path(name), output) else "cannot be read"
        raise AnnotateError(f"{str(name)!r} {verb}: {err.strerror or err}; {advice}.") from err


def _is_output(path: Path, output: Path) -> bool:
    output = Path(os.path.abspath(output))
    path = Path(os.path.abspath(path))
    return path == output or output in path.parents or path.name.startswith(output.name)


def _check_output_file(output: Path, input: Path) -> None:
    for path in (output, output.with_name(output.name + ".parts"), lock_path(output)):
        if path.parent.exists() and not path.parent.is_dir():
            raise AnnotateError(
                f"The output {str(output)!r} cannot be written: {str(path.parent)!r} is not a "
                f"folder."
            )
    check_output(output, [input])


def _check_output_directory(output: Path, input: Path, must_be_directory: bool = True) -> None:
    if must_be_directory and output.exists() and not output.is_dir():
        raise AnnotateError(
            f"The input is a directory of shards, so the output {str(output)!r} must be a "
            f"directory of part files, but it is a file."
        )
    out, source = output.resolve(), input.resolve()
    if out == source or source in out.parents:
        raise AnnotateError(
            f"The output {str(output)!r} is the input directory {str(input)!r} or inside it: a "
            f"rerun would read its part files as input. Choose an output outside it."
        )
    if out in source.parents:
        raise AnnotateError(
            f"The input {str(input)!r} is inside the output directory {str(output)!r}. Choose "
            f"an output outside the input."
        )


def _export_format(output: Path, output_format: Optional[str]) -> Optional[str]:
    """The tool an output is exported for, its suffix checked; None for records."""
    if output_format not in EXPORT_FORMATS:
        return None
    suffix = EXPORT_FORMATS[output_format]
    if output.suffix.lower() != f".{suffix}":
        raise AnnotateError(
            f"The output {str(output)!r} does not end in .{suffix}, the suffix of a "
            f"{output_format} export: name it OUTPUT.{suffix}."
        )
    return output_format


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
