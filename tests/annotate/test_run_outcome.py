"""How an annotate run ends (issue 22): exit statuses, what it says, its workers after a kill
or Ctrl-C, and kills at random moments (a rerun gives the output of an uninterrupted run)."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import annotate


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("outcome") / "blank"
    spacy.blank("en").to_disk(path)
    return str(path)


def write_rows(path, n, field="text"):
    path.write_text("".join(json.dumps({field: f"row {i}"}) + "\n" for i in range(n)))
    return path


def test_every_row_failing_exits_non_zero_and_says_so(blank, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": ""}\n{"text": 5}\n{"text": "   "}\n', encoding="utf-8")
    out = str(tmp_path / "out.jsonl")
    assert main(["annotate", blank, str(source), out]) == 3
    err = capsys.readouterr().err
    assert "Every one of the 3 rows is an error record" in err
    assert main(["annotate", blank, str(source), out]) == 3  # the finished output says the same
    assert "Every one of the 3 rows" in capsys.readouterr().err


def test_a_pipeline_without_a_text_classifier_is_said_up_front(blank, tmp_path, capsys):
    source = write_rows(tmp_path / "in.jsonl", 2)
    assert main(["annotate", blank, str(source), str(tmp_path / "out.jsonl")]) == 0
    captured = capsys.readouterr()
    assert "Warning: The pipeline" in captured.err and "no text classifier" in captured.err
    assert "No record has an intent" in captured.err and "Traceback" not in captured.err
    assert "2 annotated" in captured.out


def test_an_empty_input_is_said(blank, tmp_path, capsys):
    (tmp_path / "in.jsonl").write_bytes(b"")
    assert main(["annotate", blank, str(tmp_path / "in.jsonl"), str(tmp_path / "o.jsonl")]) == 0
    assert "The input has no rows" in capsys.readouterr().err
    assert (tmp_path / "o.jsonl").read_bytes() == b""


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(c) for c in handle.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


# Enough rows that a run cannot finish before the test's signal reaches it: with 6,000 a
# blank pipeline's run could end within the 0.3 s wait on a busy machine (exit 0, not 130).
ROWS = 60_000


def start_with_workers(blank, tmp_path, rows=ROWS):
    source = tmp_path / "in.jsonl"
    if not source.exists():
        write_rows(source, rows)
    args = ["annotate", blank, str(source), str(tmp_path / "out.jsonl"), "--part-size", "200"]
    # Ctrl-C's default action, whatever this test process inherited: a process started with
    # SIGINT ignored (a shell's background job) keeps it ignored, as POSIX says, and the
    # parallel suite's run of this test twice saw a run that never stopped on SIGINT.
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacy_mtl", *args, "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 60
    while len(children(proc.pid)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = children(proc.pid)
    if len(workers) < 2:
        proc.kill()
        pytest.fail(f"no workers started: {proc.communicate()}")
    return proc, workers, args


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_die_with_their_run_and_a_rerun_resumes(blank, tmp_path, how):
    proc, workers, args = start_with_workers(blank, tmp_path)
    time.sleep(0.3)
    if how == signal.SIGINT:
        os.killpg(proc.pid, how)  # Ctrl-C reaches the whole process group
    else:
        proc.send_signal(how)
    out, err = proc.communicate(timeout=60)
    deadline = time.time() + 10
    while any(alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(alive(w) for w in workers)
    if how != signal.SIGKILL:
        assert proc.returncode == 128 + how, (err[-2000:], signal.getsignal(signal.SIGINT))
        assert "Traceback" not in err
        assert [line for line in err.splitlines() if not line.startswith("Warning:")] == [
            f"Interrupted ({how.name}): the finished parts are kept: rerun the same command "
            "to resume."
        ]
    assert not (tmp_path / "out.jsonl.lock").exists() or how == signal.SIGKILL
    assert main(args) == 0
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == ROWS and json.loads(lines[-1])["text"] == f"row {ROWS - 1}"


def test_a_run_killed_while_writing_its_manifest_is_resumed(blank, uninterrupted, tmp_path):
    """Found by the kill fuzzing: the parts folder held only the manifest's temporary file."""
    source, whole = uninterrupted
    (tmp_path / "out.jsonl.parts").mkdir()
    (tmp_path / "out.jsonl.parts" / "_annotate.json.spacy-mtl-partial").write_text("{")
    annotate(blank, source, tmp_path / "out.jsonl", part_size=40)
    assert (tmp_path / "out.jsonl").read_bytes() == whole


def _run_in_child(blank, source, out):
    annotate(blank, source, out, part_size=40)


@pytest.fixture(scope="module")
def uninterrupted(blank, tmp_path_factory):
    """1000 rows and the output of an uninterrupted run on them."""
    tmp_path = tmp_path_factory.mktemp("whole")
    source = write_rows(tmp_path / "in.jsonl", 1000)
    annotate(blank, source, tmp_path / "whole.jsonl", part_size=40)
    return source, (tmp_path / "whole.jsonl").read_bytes()


@settings(
    max_examples=int(os.environ.get("ANNOTATE_KILL_EXAMPLES", 20)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(delays=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=3))
def test_kills_at_random_moments_then_a_rerun_equals_an_uninterrupted_run(
    blank, uninterrupted, tmp_path_factory, delays
):
    """Each run killed (SIGKILL) after a random delay, then a last run; ANNOTATE_KILL_EXAMPLES."""
    source, whole = uninterrupted
    tmp_path = tmp_path_factory.mktemp("kills")
    out = tmp_path / "out.jsonl"
    fork = multiprocessing.get_context("fork")
    for delay in delays:
        child = fork.Process(target=_run_in_child, args=(blank, source, out))
        child.start()
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    summary = annotate(blank, source, out, part_size=40)
    assert summary.rows == 1000
    assert out.read_bytes() == whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.annotate.json"]
