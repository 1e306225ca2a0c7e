"""The command line: spaCy's own `python -m spacy mtl`, and `python -m spacy_mtl`, one app."""

import subprocess
import sys

from spacy_mtl import __version__
from spacy_mtl.__main__ import main
from spacy_mtl.cli._app import WORKFLOW


def test_spacy_lists_every_command_in_workflow_order():
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "mtl", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    listed = [
        line.split()[0]
        for line in result.stdout.split("Commands:")[1].split("\n\n")[0].splitlines()
        if line.startswith("  ") and line.split()
    ]
    assert listed == list(WORKFLOW)
    assert "python -m spacy train" in result.stdout and "python -m spacy package" in result.stdout


def test_version_and_a_pointer_to_spacy_train(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"spacy-mtl {__version__}"
    assert main(["train", "configs/cnn.cfg"]) == 1
    assert "python -m spacy train CONFIG" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error(capsys):
    assert main(["nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err
