"""One annotate run per output at a time: a lock file beside the output.

The lock is an advisory lock (flock) on ``OUTPUT.lock``, held for the whole
run. The kernel releases it when its process dies, however it dies, so a lock
file left by a killed run never blocks the next one; the file names the pid of
the run that holds it, for the message of a run that is refused.
"""

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Iterator

from .io import AnnotateError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: an existing lock file is then refused
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"


def lock_path(output: Path) -> Path:
    """The lock file of an output: ``OUTPUT.lock``, beside it."""
    output = Path(os.path.abspath(output))
    return output.parent / f"{output.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[Path]:
    """Hold the lock of `output` while the block runs; refuse if another run holds it.

    output (Path): The output file or directory of the run.
    YIELDS (Path): The lock file, removed when the block ends.
    """
    path = lock_path(output)
    fd = _acquire(path, Path(output))
    try:
        yield path
    finally:
        # Removed while still locked: a run that opened it meanwhile sees another inode and retries.
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _acquire(path: Path, output: Path) -> int:
    for _ in range(5):
        fd = _open(path, output)
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise AnnotateError(
                f"Another annotate run ({holder}) is writing {str(output)!r}: wait for it to "
                f"finish, or choose another output. (Its lock: {path}.)"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
            return fd
        os.close(fd)  # the run that held it removed it as we opened it: take the new one
    raise AnnotateError(f"Could not lock {str(output)!r}: other runs keep taking {path}.")


def _open(path: Path, output: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | (0 if fcntl is not None else os.O_EXCL)
    try:
        return os.open(path, flags, 0o666)
    except FileExistsError:  # pragma: no cover - no flock
        raise AnnotateError(
            f"{path} exists: another annotate run may be writing {str(output)!r}. If none is "
            f"(a killed run left it), remove it and rerun."
        ) from None
    except OSError as err:
        raise AnnotateError(
            f"The output {str(output)!r} cannot be written: creating its lock file {path} "
            f"failed ({err.strerror}). Choose an output in a folder you can write to."
        ) from None


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid unknown"
