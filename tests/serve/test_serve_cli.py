"""`python -m spacy mtl serve`: its options, which need neither FastAPI nor uvicorn."""

import subprocess
import sys

import pytest

from spacy_mtl.__main__ import main

OPTIONS = ["--host", "--port", "--max-chars", "--max-batch", "--workers", "--keep-alive",
           "--request-timeout", "--examples", "--log-level"]  # fmt: skip


def test_spacy_mtl_serve_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "serve", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "PIPELINE" in shown
    for option in OPTIONS:
        assert option in shown


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_seconds_are_finite_and_above_zero(capsys, tmp_path, value):
    assert main(["serve", str(tmp_path / "missing"), "--keep-alive", value]) == 2
    err = capsys.readouterr().err
    assert "--keep-alive" in err and "Traceback" not in err


def test_a_missing_examples_file_is_a_usage_error(capsys, tmp_path):
    assert main(["serve", str(tmp_path / "missing"), "--examples", str(tmp_path / "no.txt")]) == 2
    assert "--examples" in capsys.readouterr().err
