"""Where init-vectors writes: a vectors-only pipeline folder, whole or not at all.

The folder is written to `OUT.spacy-mtl-partial/` and renamed into place once
complete; an earlier table at OUT is moved aside first and removed after the
rename, so a crash leaves the old OUT or the new one, never a mix.
"""

import os
from pathlib import Path
from typing import Iterable

from spacy.language import Language

from ..atomic import replace_folder
from .errors import VectorsError


def check_output_folder(output: Path, inputs: Iterable[Path]) -> None:
    """Refuse an OUT that is or holds an input, is not a folder, or is someone else's folder.

    output (Path): The folder to write.
    inputs (Iterable[Path]): The transformer folder and the corpora.
    """
    target = output.resolve()
    for source in inputs:
        source = source.resolve()
        if target == source or target in source.parents or source in target.parents:
            raise VectorsError(
                f"{output}: the output would overwrite or sit inside the input {source}. "
                "Give another OUTPUT_DIR."
            )
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise VectorsError(f"{output}: exists and is not a folder; give another OUTPUT_DIR.")
    if output.is_dir() and any(output.iterdir()) and not (output / "config.cfg").is_file():
        raise VectorsError(
            f"{output}: a folder that does not hold spaCy vectors (no config.cfg); it is not "
            "replaced. Give another OUTPUT_DIR, or remove it."
        )
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise VectorsError(f"{output}: {parent} is a file, not a folder; give another OUTPUT_DIR.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VectorsError(f"{output}: cannot write in {parent} (permission denied).")


def write_vectors_folder(nlp: Language, output: Path) -> None:
    """Save the vectors' nlp to OUT through a temporary folder renamed into place."""
    replace_folder(output, nlp.to_disk)
