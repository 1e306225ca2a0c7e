"""The one way spacy_mtl writes a file: all of it, or nothing.

Every output (a converted corpus, scores, a chart, an annotation part file) is
written to a temporary file beside its target and renamed over the target only
once it is complete, so a crash or a kill never leaves a half-written target,
and a failure leaves an existing target as it was.
"""

import contextlib
import os
import uuid
from pathlib import Path
from typing import IO, Iterator, Optional, Union

PathLike = Union[str, Path]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path that replaces `path` when the block ends without error.

    For writers that take a path (DocBin.to_disk, matplotlib's savefig). The
    temporary file is created, empty, in the target's folder (so the rename
    stays on one file system and is atomic), with the mode the umask gives a
    plain open(). Parent folders are created.

    path (Union[str, Path]): The target file.
    YIELDS (Path): The temporary file to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file that replaces `path` when the block ends without error.

    path (Union[str, Path]): The target file.
    mode (str): "wb" or "w".
    encoding (Optional[str]): The text encoding for mode "w" (default utf-8).
    YIELDS (IO): The open temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see atomic_write)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write `text` to `path` atomically, as UTF-8 (see atomic_write)."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
