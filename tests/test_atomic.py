import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.atomic import (
    PARTIAL_SUFFIX,
    OutputError,
    atomic_path,
    atomic_write,
    check_output,
    check_output_folder,
    output_lock,
    partial_path,
    write_bytes_atomic,
    write_text_atomic,
)
from spacy_mtl.convert import convert_jsonl


def names(folder: Path):
    return sorted(p.name for p in folder.iterdir())


def test_write_replaces_target_and_leaves_nothing_else():
    with make_tempdir() as tmp:
        target = tmp / "sub" / "out.json"
        write_text_atomic(target, "one")
        write_text_atomic(target, "two")
        assert target.read_text() == "two"
        assert names(tmp / "sub") == ["out.json"]


def test_failure_inside_block_keeps_target_and_removes_temp():
    with make_tempdir() as tmp:
        target = tmp / "out.bin"
        target.write_bytes(b"old")
        with pytest.raises(RuntimeError):
            with atomic_write(target) as handle:
                handle.write(b"half")
                assert partial_path(target).exists()
                raise RuntimeError("crash")
        assert target.read_bytes() == b"old"
        assert names(tmp) == ["out.bin"]


def test_temp_name_is_fixed_and_visible():
    with make_tempdir() as tmp:
        target = tmp / "out.spacy"
        with atomic_path(target) as temp:
            assert temp == tmp / f"out.spacy{PARTIAL_SUFFIX}"
            assert not temp.name.startswith(".")
            temp.write_bytes(b"data")
        assert target.read_bytes() == b"data"


def test_leftover_of_a_killed_writer_is_removed_by_the_next_write():
    with make_tempdir() as tmp:
        target = tmp / "out.spacy"
        partial_path(target).write_bytes(b"half of a killed run")
        other = tmp / "other.spacy"
        other.write_bytes(b"not ours")
        write_bytes_atomic(target, b"complete")
        assert target.read_bytes() == b"complete"
        assert names(tmp) == ["other.spacy", "out.spacy"]


def test_a_live_writer_is_not_disturbed():
    # Another process holds the temp file's lock, as a running conversion does.
    holder = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    with make_tempdir() as tmp:
        target = tmp / "out.spacy"
        target.write_bytes(b"old")
        proc = subprocess.Popen(
            [sys.executable, "-c", holder, str(partial_path(target))],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "locked"
            with pytest.raises(OutputError, match="another process is writing it"):
                write_bytes_atomic(target, b"new")
            assert partial_path(target).exists() and target.read_bytes() == b"old"
        finally:
            proc.kill()
            proc.wait()
        # Its lock dies with it: the leftover is then cleaned up.
        write_bytes_atomic(target, b"new")
        assert target.read_bytes() == b"new" and names(tmp) == ["out.spacy"]


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_check_output_refuses_what_is_not_a_regular_file(kind):
    with make_tempdir() as tmp:
        target = tmp / "out"
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "symlink":
            (tmp / "real").write_text("keep")
            target.symlink_to(tmp / "real")
        else:
            target.mkdir()
        with pytest.raises(OutputError, match="not a regular file") as exc_info:
            write_text_atomic(target, "x")
        assert exc_info.value.path == str(target)
        assert names(tmp) == (["out", "real"] if kind == "symlink" else ["out"])
        if kind == "symlink":
            assert target.is_symlink() and (tmp / "real").read_text() == "keep"


def test_check_output_refuses_inputs_through_links():
    with make_tempdir() as tmp:
        source = tmp / "in.txt"
        source.write_text("data")
        (tmp / "folder").symlink_to(tmp)
        check_output(tmp / "new.txt", [source])
        for output in (source, tmp / "folder" / "in.txt", tmp / "." / "in.txt"):
            with pytest.raises(OutputError, match="is the input"):
                check_output(output, [source])
        with pytest.raises(OutputError, match="is the input"):
            write_text_atomic(tmp / "folder" / "in.txt", "x", inputs=[source])
        assert source.read_text() == "data"


# Hard kills of a real conversion


def make_large_jsonl(path: Path, n_docs: int) -> None:
    words = ["fly", "from", "oslo", "to", "lima", "tomorrow", "cheap", "seat", "window", "now"]
    with path.open("w", encoding="utf8") as file_:
        for i in range(n_docs):
            tokens = [words[(i * 7 + j * 3) % len(words)] + str(j % 5) for j in range(24)]
            label = ["flight", "hotel", "weather"][i % 3]
            file_.write(json.dumps({"tokens": tokens, "label": label}) + "\n")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_conversion(source: Path, target: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "spacy_mtl", "convert", "jsonl", str(source), str(target)]
    # A fixed hash seed makes the DocBin bytes (a set of strings inside) the same every run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005)
    proc.wait()
    return False


@pytest.mark.slow
def test_hard_kill_at_several_moments_leaves_no_half_written_target():
    with make_tempdir() as tmp:
        source = tmp / "big.jsonl"
        make_large_jsonl(source, 10_000)
        source_digest = digest(source)
        target = tmp / "out.spacy"
        temp = partial_path(target)
        # A complete run first, timed: the reference output and its duration.
        start = time.monotonic()
        proc = start_conversion(source, target)
        assert proc.wait() == 0, proc.stderr.read()
        duration = time.monotonic() - start
        complete = target.read_bytes()
        assert len(complete) > 150_000
        assert len(list(DocBin().from_bytes(complete).get_docs(Vocab()))) == 10_000
        target.unlink()
        moments = {
            "while reading": lambda: time.monotonic() - t0 > duration * 0.4,
            "as the temp file appears": temp.exists,
            "once the temp file has data": lambda: temp.exists() and temp.stat().st_size > 0,
            "near the end": lambda: time.monotonic() - t0 > duration * 0.95,
        }
        killed = []
        for round_, (moment, ready) in enumerate(moments.items()):
            # Half the rounds overwrite a previous output, half write a new one.
            if round_ % 2:
                target.write_bytes(complete)
            t0 = time.monotonic()
            was_killed = kill_when(start_conversion(source, target), ready)
            killed.append((moment, was_killed, temp.exists()))
            assert digest(source) == source_digest, moment
            # Nothing but the input, the target and the one fixed temp name.
            assert set(names(tmp)) <= {"big.jsonl", "out.spacy", temp.name}, moment
            if target.exists():
                assert target.read_bytes() == complete, moment
            else:
                assert round_ % 2 == 0, moment
            # The next run (here in this process, to save start-up time) removes any leftover
            # and writes the target whole.
            assert convert_jsonl(source, target) == 10_000
            assert names(tmp) == ["big.jsonl", "out.spacy"], moment
            target.unlink()
        print(f"conversion {duration:.1f}s; (moment, killed, temp left): {killed}")
        # At least one kill must have hit the write itself, leaving the temp file.
        assert any(was_killed and leftover for _, was_killed, leftover in killed), killed


def test_replace_folder_writes_whole_or_keeps_the_old_folder(tmp_path):
    """A folder (a pipeline, a vectors table) replaces OUT only once complete; a failure while
    filling leaves the old OUT, and a run killed between the two renames is repaired next time."""
    from spacy_mtl.atomic import OLD_SUFFIX, PARTIAL_SUFFIX, replace_folder

    out = tmp_path / "out"

    def fill(text):
        def write(folder):
            folder.mkdir()
            (folder / "a.txt").write_text(text)

        return write

    replace_folder(out, fill("one"))
    assert (out / "a.txt").read_text() == "one"

    def broken(folder):
        fill("half")(folder)
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        replace_folder(out, broken)
    assert (out / "a.txt").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # Killed between the renames: OUT gone, the old folder beside it.
    out.rename(tmp_path / f"out{OLD_SUFFIX}")
    (tmp_path / f"out{PARTIAL_SUFFIX}").mkdir()
    replace_folder(out, fill("two"))
    assert (out / "a.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_runs_replacing_one_folder_take_turns(tmp_path):
    """Two writers of one folder at once (two calibrate runs with the same --output): neither
    removes the other's temporary folder; the folder left is one writer's, whole."""
    import threading

    from spacy_mtl.atomic import replace_folder

    out = tmp_path / "out"
    started = threading.Event()
    errors = []

    def slow_fill(name):
        def write(folder):
            folder.mkdir()
            started.set()
            for i in range(20):
                (folder / f"{i}.txt").write_text(name)
                time.sleep(0.01)

        return write

    def run(name):
        try:
            replace_folder(out, slow_fill(name))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    first = threading.Thread(target=run, args=("first",))
    first.start()
    started.wait(5)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert errors == []
    names = {path.read_text() for path in out.iterdir()}
    assert len(list(out.iterdir())) == 20 and names == {"second"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _pipeline_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.cfg").write_text("[nlp]\n")
    (path / "meta.json").write_text("{}")
    return path


def test_an_output_inside_a_pipeline_is_refused_before_any_work(tmp_path):
    pipeline = _pipeline_folder(tmp_path / "model-best")
    for target in (pipeline / "scores.json", pipeline / "reports" / "out.jsonl"):
        with pytest.raises(OutputError, match="inside the pipeline folder .*model-best"):
            check_output(target)
    # The command's own pipeline, being written, may hold its report.
    check_output(pipeline / "calibration.json", into_pipeline=True)
    check_output(tmp_path / "beside.json")


@pytest.mark.parametrize("where", ["is", "holds", "inside"])
def test_an_output_folder_that_is_holds_or_lies_inside_an_input_is_refused(tmp_path, where):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dev.spacy").write_bytes(b"")
    out = {"is": data, "holds": tmp_path, "inside": data / "out"}[where]
    with pytest.raises(OutputError, match="the input"):
        check_output_folder(out, [data / "dev.spacy"] if where == "holds" else [data])
    assert names(data) == ["dev.spacy"]


def test_an_output_folder_is_replaced_only_when_the_caller_allows_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    check_output_folder(out)  # empty: fine
    (out / "x").write_text("x")
    with pytest.raises(OutputError, match="not empty. Pass --overwrite"):
        check_output_folder(out, refusal="Pass --overwrite to replace it.")
    check_output_folder(out, replace=True)
    with pytest.raises(OutputError, match="inside the pipeline"):
        check_output_folder(_pipeline_folder(tmp_path / "nlp") / "calibrated")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_output_folder(tmp_path / "file")
    assert names(tmp_path) == ["file", "nlp", "out"]


def test_a_second_run_on_one_output_is_refused_while_the_first_holds_it(tmp_path):
    out = tmp_path / "calibrated"
    with output_lock(out, "calibrate") as lock:
        assert lock.exists()
        with pytest.raises(OutputError, match=r"another calibrate run \(pid \d+"):
            with output_lock(out, "calibrate"):
                pass
    assert not lock.exists()
    with output_lock(out, "calibrate"):  # free again
        pass
