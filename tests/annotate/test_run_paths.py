"""annotate's output paths and lock (issue 22, cases 5, 6 and 7): an output that is the input,
an unwritable or special output, an input that is not a file, two runs on one output."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import spacy

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import AnnotateError, annotate, read_records


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("paths") / "blank"
    spacy.blank("en").to_disk(path)
    return str(path)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "fly to lima"}\n{"text": "play jazz"}\n', encoding="utf-8")
    return path


def only(tmp_path, *names):
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused(blank, source, tmp_path, how, capsys):
    before = source.read_bytes()
    out = source
    if how == "symlink":
        out = tmp_path / "link.jsonl"
        out.symlink_to(source.name)
    elif how == "hardlink":
        out = tmp_path / "hard.jsonl"
        os.link(source, out)
    with pytest.raises(AnnotateError, match="is the input"):
        annotate(blank, source, out)
    assert main(["annotate", blank, str(source), str(out)]) == 1
    err = capsys.readouterr().err
    assert "is the input" in err and "Traceback" not in err
    assert source.read_bytes() == before
    left = [p.name for p in tmp_path.iterdir()]
    assert not any(name.endswith((".parts", ".lock", ".annotate.json")) for name in left)


def test_output_directory_inside_the_input_directory_is_refused(blank, source, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    shutil.copy(source, shards / "a.jsonl")
    for out in (shards, shards / "out"):
        with pytest.raises(AnnotateError, match="input directory"):
            annotate(blank, shards, out)
    assert sorted(p.name for p in shards.iterdir()) == ["a.jsonl"]
    with pytest.raises(AnnotateError, match="inside the output"):
        annotate(blank, shards, tmp_path)


@pytest.mark.parametrize("out", ["/proc/out.jsonl", "{tmp}/in.jsonl/out.jsonl", "/dev/null"])
def test_unwritable_or_special_output_is_a_clear_error(blank, source, tmp_path, out, capsys):
    out = out.format(tmp=tmp_path)
    with pytest.raises(AnnotateError, match="output") as err:
        annotate(blank, source, out)
    assert out in str(err.value)
    assert main(["annotate", blank, str(source), out]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_output_in_a_folder_that_cannot_be_written(blank, source, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("root without chattr: every folder is writable")
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(AnnotateError, match="cannot be written") as err:
            annotate(blank, source, folder / "out.jsonl")
        assert str(folder / "out.jsonl") in str(err.value)
        assert main(["annotate", blank, str(source), str(folder / "out.jsonl")]) == 1
        assert "Traceback" not in capsys.readouterr().err
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_input_that_is_neither_a_file_nor_a_directory(blank, tmp_path):
    with pytest.raises(AnnotateError, match="not a file or a directory"):
        annotate(blank, "/dev/null", tmp_path / "out.jsonl")
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(AnnotateError, match="not a file or a directory"):
        annotate(blank, fifo, tmp_path / "out.jsonl")
    only(tmp_path, "in.jsonl")


def test_a_second_run_on_the_same_output_is_refused(blank, source, tmp_path, capsys):
    from spacy_mtl.atomic import output_lock

    out = tmp_path / "out.jsonl"
    with output_lock(out, "annotate"):
        with pytest.raises(AnnotateError, match=rf"another annotate run \(pid {os.getpid()}"):
            annotate(blank, source, out)
        assert main(["annotate", blank, str(source), str(out), "--overwrite"]) == 1
        assert "is writing" in capsys.readouterr().err
        only(tmp_path, "in.jsonl", "out.jsonl.lock")
    only(tmp_path, "in.jsonl")
    annotate(blank, source, out)
    assert len(list(read_records(out))) == 2
    only(tmp_path, "in.jsonl", "out.jsonl", "out.jsonl.annotate.json")


def test_a_lock_left_by_a_killed_run_does_not_block(blank, source, tmp_path):
    """A killed run leaves its lock file, but the kernel has released its lock."""
    from spacy_mtl.atomic import lock_path

    out = tmp_path / "out.jsonl"
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True)  # fmt: skip
    lock_path(out).write_text(json.dumps({"pid": int(killed.stdout)}))
    assert annotate(blank, source, out).rows == 2
    only(tmp_path, "in.jsonl", "out.jsonl", "out.jsonl.annotate.json")


def test_two_real_runs_at_once(blank, tmp_path):
    """The second of two runs on one output refuses; the first finishes the output."""
    from spacy_mtl.atomic import lock_path

    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"text": "row {i}"}}\n' for i in range(6000)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "spacy_mtl", "annotate", blank, str(source), str(out)]
    first = subprocess.Popen([*args, "--part-size", "50"], stdout=subprocess.PIPE, text=True)
    while not lock_path(out).exists() and first.poll() is None:
        pass
    second = subprocess.run(args, capture_output=True, text=True)
    assert first.wait() == 0
    if second.returncode:
        assert second.returncode == 1 and "is writing" in second.stderr
        assert "Traceback" not in second.stderr
    assert len(list(read_records(out))) == 6000
    only(tmp_path, "in.jsonl", "out.jsonl", "out.jsonl.annotate.json")


def tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "where,fmt",
    [("out.jsonl", None), ("tasks.json", "labelstudio"), ("sub/out", None), (".", None)],
)
def test_an_output_inside_the_pipeline_folder_is_refused_up_front(
    blank, source, tmp_path, where, fmt, capsys
):
    """Before: a directory output in the pipeline was written, and changed the pipeline's
    fingerprint, so the rerun refused its own output."""
    pipeline = tmp_path / "pipeline"
    shutil.copytree(blank, pipeline)
    shards = tmp_path / "shards"
    shards.mkdir()
    shutil.copy(source, shards / "a.jsonl")
    data = source if where.endswith("json") or where.endswith("jsonl") else shards
    out = pipeline / where
    before = tree(pipeline)
    args = ["annotate", str(pipeline), str(data), str(out)] + (["--format", fmt] if fmt else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # The pipeline is one of the run's inputs: "is the input" or "lies inside the input" say so.
    assert f"inside the pipeline folder {pipeline}" in err or f"the input {pipeline}" in err
    assert tree(pipeline) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "pipeline", "shards"]
