"""distill-targets refuses, before it reads the corpus or loads the teacher, an output that
would destroy something: the input itself (or through a link), a path inside a pipeline
folder (the teacher's own, say), a folder; and a batch size at its extremes is refused
or runs. Nothing is written after an error."""

import os

import pytest
import spacy
from conftest import SENTENCES, make_examples
from spacy.tokens import DocBin

from spacy_mtl.__main__ import main


@pytest.fixture
def files(tmp_path):
    nlp = spacy.blank("en")
    nlp.to_disk(tmp_path / "teacher")
    train = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(nlp, SENTENCES)]).to_disk(train)
    return tmp_path / "teacher", train


def _fails(capsys, *args) -> str:
    assert main(["distill-targets", *map(str, args)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("distill-targets failed: ") and "Traceback" not in err
    return err


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_an_output_that_is_the_input_is_refused(files, tmp_path, capsys):
    teacher, train = files
    before, listing = train.read_bytes(), _listing(tmp_path)
    assert f"{train}: is the input {train}" in _fails(capsys, teacher, train, train)
    link = tmp_path / "link.spacy"
    os.symlink(train, link)
    assert "is the input" in _fails(capsys, teacher, train, link)
    assert train.read_bytes() == before and _listing(tmp_path) == sorted(listing + ["link.spacy"])


def test_an_output_inside_a_pipeline_folder_is_refused_before_any_work(files, tmp_path, capsys):
    teacher, train = files
    listing = _listing(tmp_path)
    inside = teacher / "train_distilled.spacy"
    err = _fails(capsys, teacher, train, inside)
    assert f"{inside}: lies inside the pipeline folder {teacher}" in err
    # Checked first: neither the corpus nor the teacher is read when the output is refused.
    err = _fails(capsys, tmp_path / "nowhere", tmp_path / "none.spacy", inside)
    assert "lies inside the pipeline folder" in err
    assert "is a folder, not a regular file" in _fails(capsys, teacher, train, tmp_path)
    assert _listing(tmp_path) == listing


@pytest.mark.parametrize("size", ["0", "-1", "-100000000000000000000"])
def test_a_batch_size_below_one_is_refused(size, files, tmp_path, capsys):
    teacher, train = files
    # A usage error (exit 2), said by the command line before anything runs.
    assert main(["distill-targets", str(teacher), str(train), str(tmp_path / "out.spacy"),
                 f"--batch-size={size}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "Invalid value for '--batch-size'" in err
    assert not (tmp_path / "out.spacy").exists()
