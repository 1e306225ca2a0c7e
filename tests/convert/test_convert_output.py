"""The converted output: written atomically, never over an input, a link, a folder or a device."""

import os
import stat
from pathlib import Path

import pytest
from convert_files import (
    load,
    write_joint,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.atomic import PARTIAL_SUFFIX
from spacy_mtl.convert import (
    ConversionError,
    convert,
    convert_joint,
    convert_jsonl,
)


def test_failed_conversion_leaves_no_output_and_keeps_existing():
    with make_tempdir() as tmp:
        bad = write_lines(tmp / "bad.jsonl", ['{"text": "a", "label": "x"}', "{oops"])
        new_target = tmp / "new" / "out.spacy"
        with pytest.raises(ConversionError):
            convert_jsonl(bad, new_target)
        assert not new_target.exists()
        assert not new_target.parent.exists()
        old_target = tmp / "old.spacy"
        old_target.write_bytes(b"previous content")
        with pytest.raises(ConversionError):
            convert("jsonl", bad, old_target)
        assert old_target.read_bytes() == b"previous content"
        assert sorted(p.name for p in tmp.iterdir()) == ["bad.jsonl", "old.spacy"]
        # A good run replaces the file, leaving no temporary file beside it.
        good = write_lines(tmp / "good.jsonl", ['{"text": "a", "label": "x"}'])
        assert convert_jsonl(good, old_target) == 1
        assert sorted(p.name for p in tmp.iterdir()) == ["bad.jsonl", "good.jsonl", "old.spacy"]
        assert [doc.cats for doc in load(old_target)] == [{"x": 1.0}]


def test_failure_while_writing_keeps_existing_output(monkeypatch):
    def fail(fd):
        raise OSError(28, "No space left on device")

    with make_tempdir() as tmp:
        good = write_lines(tmp / "good.jsonl", ['{"text": "a", "label": "x"}'])
        target = tmp / "out.spacy"
        target.write_bytes(b"previous content")
        monkeypatch.setattr("spacy_mtl.atomic.os.fsync", fail)
        with pytest.raises(OSError, match="No space"):
            convert_jsonl(good, target)
        assert target.read_bytes() == b"previous content"
        assert sorted(p.name for p in tmp.iterdir()) == ["good.jsonl", "out.spacy"]


def test_output_folder_is_rejected():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}'])
        with pytest.raises(ConversionError, match="is a folder"):
            convert_jsonl(path, tmp)


def file_state(folder: Path):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
def test_output_that_is_an_input_is_refused(how, monkeypatch):
    with make_tempdir() as tmp:
        source = write_lines(tmp / "x.jsonl", ['{"text": "a", "label": "x"}'])
        output = {"same": source, "relative": Path("x.jsonl")}.get(how, tmp / "out.spacy")
        if how == "symlink":
            output.symlink_to(source)
        elif how == "hardlink":
            output.hardlink_to(source)
        monkeypatch.chdir(tmp)
        before = source.read_bytes()
        with pytest.raises(ConversionError, match="is the input") as exc_info:
            convert_jsonl(source, output)
        assert str(output) in str(exc_info.value)
        assert source.read_bytes() == before
        assert main(["convert", "jsonl", str(source), str(output)]) == 1
        assert source.read_bytes() == before


@pytest.mark.parametrize("name", ["seq.in", "seq.out", "label"])
def test_joint_output_onto_one_of_its_files_is_refused(name, capsys):
    with make_tempdir() as tmp:
        write_joint(tmp)
        before = file_state(tmp)
        assert main(["convert", "joint", str(tmp), str(tmp / name)]) == 1
        assert f"{tmp / name}: is the input" in capsys.readouterr().err
        with pytest.raises(ConversionError, match="is the input"):
            convert_joint(tmp, tmp / name)
        assert file_state(tmp) == before
        # Beside the inputs is fine.
        assert convert_joint(tmp, tmp / "train.spacy") == 4


def make_special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        if os.geteuid() != 0:
            pytest.skip("mknod of a character device needs root")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "symlink":
        (path.parent / "elsewhere.spacy").write_bytes(b"keep me")
        path.symlink_to(path.parent / "elsewhere.spacy")
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere.spacy")


@pytest.mark.parametrize(
    "kind,what",
    [
        ("fifo", "a FIFO"),
        ("chardev", "a character device"),
        ("symlink", "a symbolic link"),
        ("dangling", "a symbolic link"),
    ],
)
def test_special_output_is_refused_and_kept(kind, what, capsys):
    with make_tempdir() as tmp:
        source = write_lines(tmp / "x.jsonl", ['{"text": "a", "label": "x"}'])
        target = tmp / "out.spacy"
        make_special(target, kind)
        before = os.lstat(target)
        with pytest.raises(ConversionError, match=f"is {what}.*not a regular file"):
            convert_jsonl(source, target)
        assert main(["convert", "jsonl", str(source), str(target)]) == 1
        assert f"{target}: is {what}" in capsys.readouterr().err
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        if kind == "symlink":
            assert (tmp / "elsewhere.spacy").read_bytes() == b"keep me"
        assert not any(p.name.endswith(PARTIAL_SUFFIX) for p in tmp.iterdir())
