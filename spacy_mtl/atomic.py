"""The one way spacy_mtl writes a file: all of it, or nothing.

Every output (a converted corpus, scores, a chart, an annotation part file) is
written to a temporary file beside its target and renamed over the target only
once it is complete, so a crash or a kill never leaves a half-written target,
and a failure leaves an existing target as it was.

The temporary file has a fixed, visible name, ``<target>.spacy-mtl-partial``,
held under an advisory lock while it is written. A hard kill (``kill -9``, a
power cut) can leave it behind, but never a half-written target: the next
write of the same target removes a leftover that no live writer holds, and
refuses to start while another process is still writing that target.

Before anything is written the target is checked (``check_output``): it must
be absent or a regular file, never a folder, a device, a FIFO, a socket or a
symbolic link (renaming over those would replace them with a regular file),
and it must not be one of the writer's inputs, even through a link.
"""

import contextlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Optional, Union

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; leftovers are then just removed
    fcntl = None  # type: ignore[assignment]

PathLike = Union[str, Path]

PARTIAL_SUFFIX = ".spacy-mtl-partial"
# Where replace_folder keeps the previous folder between its two renames.
OLD_SUFFIX = ".spacy-mtl-old"

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class OutputError(ValueError):
    """An output path that must not be written, and why.

    message (str): What is wrong and how to fix it.
    path (Union[str, Path]): The output path.
    """

    def __init__(self, message: str, *, path: PathLike):
        self.path = str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}")


def pipeline_holding(path: PathLike) -> Optional[Path]:
    """The spaCy pipeline folder that `path` lies inside, if any.

    A pipeline folder is one with both ``config.cfg`` and ``meta.json`` (what
    ``nlp.to_disk`` and ``spacy train`` write). A file written into one changes
    the pipeline: `spacy package` would ship it, and annotate's fingerprint of
    the pipeline would change under its own output.

    path (Union[str, Path]): A file or folder to be written.
    RETURNS (Optional[Path]): The innermost pipeline folder above `path`, or None.
    """
    for folder in Path(os.path.abspath(path)).parents:
        if is_pipeline_folder(folder):
            return folder
    return None


def is_pipeline_folder(folder: PathLike) -> bool:
    """Whether `folder` holds a saved spaCy pipeline (config.cfg and meta.json)."""
    folder = Path(folder)
    return (folder / "config.cfg").is_file() and (folder / "meta.json").is_file()


def _refuse_inside_pipeline(path: Path) -> None:
    holder = pipeline_holding(path)
    if holder is not None:
        raise OutputError(
            f"lies inside the pipeline folder {holder}. Writing there would change the "
            "pipeline (spacy package would ship the file): give a path outside it.",
            path=path,
        )


def partial_path(path: PathLike) -> Path:
    """The temporary file that `path` is written to before it is renamed into place.

    path (Union[str, Path]): The target file.
    RETURNS (Path): The target's fixed temporary name, beside it.
    """
    path = Path(path)
    return path.parent / f"{path.name}{PARTIAL_SUFFIX}"


def check_output(
    path: PathLike, inputs: Iterable[PathLike] = (), *, into_pipeline: bool = False
) -> None:
    """Raise OutputError if writing `path` would destroy something.

    The target must be absent or a regular file: a folder, a device, a FIFO, a
    socket or a symbolic link would be replaced by a regular file. It must not
    be, or resolve to, one of `inputs` (compared after resolving links, and by
    inode, which catches hard links).

    path (Union[str, Path]): The target file.
    inputs (Iterable[Union[str, Path]]): The files the writer reads.
    into_pipeline (bool): Whether the target may lie inside a pipeline folder: only for a
        command that writes its own pipeline (calibrate's report in its output). A command
        checks its user's output with the default, before any work.
    """
    path = Path(path)
    for source in inputs:
        source = Path(source)
        if _same_file(path, source):
            raise OutputError(
                f"is the input {source}{_via(path, source)}. Writing it would destroy the "
                "input: give another output path.",
                path=path,
            )
    if not into_pipeline:
        _refuse_inside_pipeline(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise OutputError("a part of the path is not a folder.", path=path) from None
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
    if stat.S_ISDIR(info.st_mode):
        advice = "Give the path of the file to write."
    elif stat.S_ISLNK(info.st_mode):
        advice = (
            f"It points to {os.readlink(path)}; writing would replace the link with a "
            "regular file. Give the real path, or remove the link first."
        )
    else:
        advice = (
            "Writing would replace it with a regular file. Give the path of a regular "
            "file, or remove it first."
        )
    raise OutputError(f"is {kind}, not a regular file. {advice}", path=path)


@contextlib.contextmanager
def atomic_path(path: PathLike, *, inputs: Iterable[PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary path that replaces `path` when the block ends without error.

    For writers that take a path (DocBin.to_disk, matplotlib's savefig). The
    target is checked first (check_output). The temporary file is
    ``partial_path(path)``, created empty in the target's folder (so the
    rename stays on one file system and is atomic) with the mode the umask
    gives a plain open(), and locked while it is written; a leftover of a
    killed earlier run is removed. Parent folders are created. The data are
    synced to disk before the rename.

    path (Union[str, Path]): The target file.
    inputs (Iterable[Union[str, Path]]): Files the writer reads, which the
        target must not be.
    YIELDS (Path): The temporary file to write.
    """
    path = Path(path)
    # The command checked its user's path before any work (check_output); here only what can
    # have changed since. A file inside a pipeline is the command's own pipeline being written.
    check_output(path, inputs, into_pipeline=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    fd = _open_partial(tmp, path)
    try:
        try:
            yield tmp
            # Some writers replace the file rather than writing into it: sync what is there now.
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    finally:
        os.close(fd)
    _sync_folder(path.parent)


@contextlib.contextmanager
def atomic_write(
    path: PathLike,
    mode: str = "wb",
    encoding: Optional[str] = None,
    *,
    inputs: Iterable[PathLike] = (),
) -> Iterator[IO]:
    """Open a temporary file that replaces `path` when the block ends without error.

    path (Union[str, Path]): The target file.
    mode (str): "wb" or "w".
    encoding (Optional[str]): The text encoding for mode "w" (default utf-8).
    inputs (Iterable[Union[str, Path]]): Files the writer reads, which the
        target must not be.
    YIELDS (IO): The open temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(path, inputs=inputs) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_bytes_atomic(path: PathLike, data: bytes, *, inputs: Iterable[PathLike] = ()) -> None:
    """Write `data` to `path` atomically (see atomic_write)."""
    with atomic_write(path, "wb", inputs=inputs) as handle:
        handle.write(data)


def write_text_atomic(path: PathLike, text: str, *, inputs: Iterable[PathLike] = ()) -> None:
    """Write `text` to `path` atomically, as UTF-8 (see atomic_write)."""
    with atomic_write(path, "w", inputs=inputs) as handle:
        handle.write(text)


def _same_file(path: Path, source: Path) -> bool:
    if path.resolve() == source.resolve():
        return True
    try:
        return os.path.samefile(path, source)
    except OSError:
        return False


def _via(path: Path, source: Path) -> str:
    if path.resolve() != path.absolute():
        return f" (through a link: it resolves to {path.resolve()})"
    if path.absolute() != source.absolute() and path.resolve() != source.resolve():
        return " (a hard link to it)"
    return ""


def _open_partial(tmp: Path, target: Path) -> int:
    """Create and lock the temporary file, removing a leftover that no writer holds."""
    for _ in range(3):
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            _remove_leftover(tmp, target)
            continue
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Another run may have taken this fresh file for a leftover and removed it.
                if os.stat(tmp).st_ino != os.fstat(fd).st_ino:
                    raise FileNotFoundError(tmp)
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)
                continue
        return fd
    raise OutputError(
        f"another process keeps creating {tmp}, the temporary file of this output. "
        "Wait for it to finish, then try again.",
        path=target,
    )


def _remove_leftover(tmp: Path, target: Path) -> None:
    """Remove a temporary file left by a killed writer; refuse one that a live writer holds."""
    try:
        info = os.lstat(tmp)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(
            f"{tmp}, the name of this output's temporary file, is taken by something that is "
            "not a regular file. Remove or rename it.",
            path=target,
        )
    if fcntl is not None:
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(
                    f"another process is writing it right now (its temporary file {tmp} is "
                    "locked). Wait for it to finish, or write to another path.",
                    path=target,
                ) from None
            # The file may have been renamed into place meanwhile: remove only what we locked.
            with contextlib.suppress(FileNotFoundError):
                if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                    os.unlink(tmp)
        finally:
            os.close(fd)
    else:  # pragma: no cover
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder is synced (POSIX).
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output_folder(
    out: PathLike,
    inputs: Iterable[PathLike] = (),
    *,
    replace: bool = False,
    refusal: str = "Give another output folder, or remove it first.",
) -> None:
    """Raise OutputError if writing the folder `out` (a pipeline, a vectors table, a
    report) could destroy something; checked before any work.

    OUT may not be, hold or lie inside one of `inputs`, nor lie inside a pipeline
    folder; it must be absent, an empty folder, or a folder the caller may
    `replace` (its own earlier output, or --overwrite). Its temporary folder is
    made and removed once, so an unwritable place fails now rather than after
    the work.

    out (Union[str, Path]): The folder to write.
    inputs (Iterable[Union[str, Path]]): What the command reads (files or folders).
    replace (bool): Whether an existing, non-empty folder OUT may be replaced.
    refusal (str): What to do instead, said when OUT exists and may not be replaced.
    """
    out = Path(out)
    target = Path(os.path.abspath(out)).resolve()
    for source in inputs:
        source = Path(source)
        if not source.exists():
            continue
        resolved = source.resolve()
        if target == resolved or resolved in target.parents or target in resolved.parents:
            how = (
                "is"
                if target == resolved
                else "would hold"
                if target in resolved.parents
                else "lies inside"
            )
            raise OutputError(
                f"{how} the input {source}. Writing it would destroy the input: give another "
                "output folder.",
                path=out,
            )
    _refuse_inside_pipeline(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError("exists and is not a folder. Give the path of a new folder.", path=out)
    if out.is_dir() and any(out.iterdir()) and not replace:
        raise OutputError(f"the folder exists and is not empty. {refusal}", path=out)
    try:
        probe_folder(out)
    except OSError as err:
        raise OutputError(
            f"cannot be written ({err.strerror or err}: {err.filename or out}). Give a folder "
            "in a place you can write to.",
            path=out,
        ) from None


LOCK_SUFFIX = ".lock"


def lock_path(output: PathLike) -> Path:
    """The lock file of an output: ``OUTPUT.lock``, beside it."""
    output = Path(os.path.abspath(output))
    return output.parent / f"{output.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def output_lock(output: PathLike, command: str) -> Iterator[Path]:
    """Hold the lock of `output` for a whole run; refuse if another run holds it.

    The lock is an advisory lock (flock) on ``OUTPUT.lock``. The kernel releases
    it when its process dies, however it dies, so a lock file left by a killed
    run never blocks the next one; the file names the pid of the run that holds
    it, for the message of a run that is refused.

    output (Union[str, Path]): The output file or folder of the run.
    command (str): The command's name, for the refusal ("annotate", "calibrate").
    YIELDS (Path): The lock file, removed when the block ends.
    """
    path = lock_path(output)
    fd = _acquire_lock(path, Path(output), command)
    try:
        yield path
    finally:
        # Removed while still locked: a run that opened it meanwhile sees another inode and retries.
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _acquire_lock(path: Path, output: Path, command: str) -> int:
    for _ in range(5):
        fd = _open_lock(path, output)
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise OutputError(
                f"another {command} run ({holder}) is writing it: wait for it to finish, or "
                f"choose another output. (Its lock: {path}.)",
                path=output,
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
    raise OutputError(f"cannot be locked: other runs keep taking {path}.", path=output)


def _open_lock(path: Path, output: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | (0 if fcntl is not None else os.O_EXCL)
    try:
        return os.open(path, flags, 0o666)
    except FileExistsError:  # pragma: no cover - no flock
        raise OutputError(
            f"{path} exists: another run may be writing it. If none is (a killed run left "
            "it), remove it and rerun.",
            path=output,
        ) from None
    except OSError as err:
        raise OutputError(
            f"cannot be written: creating its lock file {path} failed ({err.strerror}). "
            "Choose an output in a folder you can write to.",
            path=output,
        ) from None


def _lock_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid unknown"


def probe_folder(out: Path) -> None:
    """Create and remove OUT's temporary folder, so that a place that cannot be written (read
    only, /proc, a file as parent) fails before any work rather than after it.

    RAISES (OSError): Where the folder cannot be made.
    """
    partial = out.parent / f"{out.name}{PARTIAL_SUFFIX}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out.parent):
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir()
        partial.rmdir()


def replace_folder(out: Path, fill: Callable[[Path], None]) -> None:
    """Write a folder whole or not at all: `fill` writes into OUT.spacy-mtl-partial, which is
    renamed to OUT; an existing OUT is moved to OUT.spacy-mtl-old between the two renames and
    removed after. A run killed between them leaves the old folder, which the next run puts
    back; a failure leaves OUT as it was.

    Two runs writing the same folder at once (two `calibrate` commands with one --output)
    take turns: the parent folder is locked while a folder in it is written, so neither
    removes the other's temporary folder, and the last to finish leaves its own complete one.

    out (Path): The folder to write (a pipeline, a vectors table).
    fill (Callable[[Path], None]): Writes the folder's content into the path it is given,
        e.g. `nlp.to_disk`.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out.parent):
        _replace_folder(out, fill)


def _replace_folder(out: Path, fill: Callable[[Path], None]) -> None:
    partial = out.parent / f"{out.name}{PARTIAL_SUFFIX}"
    old = out.parent / f"{out.name}{OLD_SUFFIX}"
    if partial.exists():
        shutil.rmtree(partial)
    if old.exists():  # a run killed between its two renames: the old folder is OUT
        if out.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, out)
    try:
        fill(partial)
        if out.exists():
            os.replace(out, old)
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _folder_lock(parent: Path) -> Iterator[None]:
    """An advisory lock on a folder (flock on its descriptor), held while one of its
    subfolders is replaced; nothing is left behind. Without flock (Windows), no lock."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    handle = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)
