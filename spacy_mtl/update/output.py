"""Where `update` writes: a pipeline folder, whole or not at all, never over its input.

The pipeline is written to `OUT.spacy-mtl-partial/` beside OUT and renamed
into place once complete; an existing pipeline at OUT is moved aside first and
removed after the rename, so a crash leaves either the old OUT or the new one.
"""

from pathlib import Path
from typing import Optional

import spacy.util
from spacy.language import Language

from ..atomic import probe_folder, replace_folder
from .corpus import UpdateError


def pipeline_folder(pipeline: str) -> Optional[Path]:
    """The folder a pipeline is loaded from: the path given, or an installed package's."""
    path = Path(pipeline)
    if path.exists():
        return path.resolve()
    if spacy.util.is_package(pipeline):
        package = spacy.util.get_package_path(pipeline)
        return package.resolve()
    return None


def check_output_folder(output: Path, pipeline: str) -> None:
    """Refuse an OUT that is, or lies inside, the pipeline, or is not a pipeline's folder.

    Checked before anything is loaded or trained.
    """
    source = pipeline_folder(pipeline)
    target = output.resolve()
    if source is not None and (target == source or source in target.parents):
        raise UpdateError(
            f"{output}: the output would overwrite the pipeline it updates ({pipeline}). "
            "Choose another --output folder: the old pipeline is read while the new one is written."
        )
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise UpdateError(f"{output}: exists and is not a folder; choose another --output.")
    if output.is_dir() and any(output.iterdir()) and not (output / "config.cfg").is_file():
        raise UpdateError(
            f"{output}: a folder that does not hold a spaCy pipeline (no config.cfg); it is "
            "not replaced. Choose another --output, or remove it."
        )
    _probe(output)


def _probe(output: Path) -> None:
    """Create and remove the temporary folder, so an unwritable OUT fails before training."""
    try:
        probe_folder(output)
    except OSError as err:
        raise UpdateError(
            f"{output}: cannot be written ({err.strerror or err}: {err.filename or output}). "
            "Choose a folder you can write to."
        ) from None


def write_pipeline(nlp: Language, output: Path) -> None:
    """Save the pipeline to OUT through a temporary folder renamed into place."""
    replace_folder(output, nlp.to_disk)
