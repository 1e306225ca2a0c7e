"""The calibrated pipeline's folder: checked before any work, written whole or not at all.

The pipeline is written to ``OUT.spacy-mtl-partial`` beside OUT and renamed
into place when complete; an existing OUT (with --overwrite) is moved aside
first and removed after, so a failure at any point leaves the old OUT or none,
never a mixture. OUT may not be, contain or lie inside the input pipeline.
"""

from pathlib import Path
from typing import Callable, Iterable

from ..atomic import probe_folder, replace_folder
from .fitting import CalibrateError


def check_output_folder(out: Path, inputs: Iterable[Path], overwrite: bool) -> None:
    """Raise CalibrateError if writing the folder OUT could destroy an input or another file."""
    resolved = out.resolve()
    for source in inputs:
        if not source.exists():
            continue
        source = source.resolve()
        if resolved == source or source in resolved.parents or resolved in source.parents:
            raise CalibrateError(
                f"{out}: the output would overwrite the input {source} (or lie inside it, or "
                "hold it). Give another --output folder; the input pipeline stays as it is."
            )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CalibrateError(f"{out}: exists and is not a folder. Give a new --output folder.")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise CalibrateError(
            f"{out}: the folder exists and is not empty. Give --overwrite to replace it, or "
            "another --output folder."
        )
    # Try the temporary folder now, before the work: a read-only place, /proc, a file as parent.
    try:
        probe_folder(out)
    except OSError as err:
        raise CalibrateError(
            f"{out}: cannot write the output folder there ({err.strerror or err}). Give a "
            "folder in a place you can write to."
        ) from None


def write_folder(out: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary folder beside OUT, then rename it to OUT (atomic.replace_folder).

    out (Path): The folder to write.
    fill (Callable[[Path], None]): Writes the folder's content into the path it is given.
    """
    replace_folder(out, fill)
