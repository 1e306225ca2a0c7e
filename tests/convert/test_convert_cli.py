"""`python -m spacy mtl convert`: one line on success, one paragraph on failure."""

import json
import subprocess
import sys
from typing import get_args

from convert_files import (
    JOINT_LABELS,
    JSONL_LINES,
    load,
    run_cli,
    write_joint,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.convert.common import load_tokenizer


def test_cli_convert_writes_and_reports():
    with make_tempdir() as tmp:
        write_joint(tmp / "in")
        result = run_cli("convert", "joint", tmp / "in", tmp / "out.spacy", "--tasks", "cats")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines() == [
            f"Wrote 4 documents to {tmp / 'out.spacy'}; tasks: cats (ents missing)."
        ]
        docs = load(tmp / "out.spacy")
    assert len(docs) == 4 and all(has_cats(doc) and not has_ents(doc) for doc in docs)


def test_cli_convert_error_exits_1_without_traceback():
    with make_tempdir() as tmp:
        write_joint(tmp / "in", labels=JOINT_LABELS[:3])
        result = run_cli("convert", "joint", tmp / "in", tmp / "out.spacy")
        assert not (tmp / "out.spacy").exists()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("convert failed:")
    assert "label" in result.stderr and "line 4" in result.stderr
    assert result.stdout == ""


def test_cli_prints_repairs_as_warnings_and_rejects_bad_tasks(capsys):
    with make_tempdir() as tmp:
        write_joint(tmp / "in", tokens=["a", "x y"], tags=["O", "O I-city"], labels=["p", "q"])
        assert main(["convert", "joint", str(tmp / "in"), str(tmp / "a.spacy")]) == 0
        out, err = capsys.readouterr()
        assert out.startswith("Wrote 2 documents") and "tasks: cats, ents." in out
        assert err.startswith("Warning: ") and "seq.out" in err and "line 2" in err
        assert main(["convert", "joint", str(tmp / "in"), str(tmp / "b.spacy"), "--strict"]) == 1
        iob_args = ["iob", str(tmp / "in" / "seq.out"), str(tmp / "c.spacy"), "--tasks", "cats"]
        assert main(["convert", *iob_args]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert "line 2" in err and "does not annotate cats" in err
        assert not (tmp / "b.spacy").exists() and not (tmp / "c.spacy").exists()


def test_cli_missing_tokenizer_package_without_traceback(capsys, monkeypatch):
    # As on a bare install, where the Japanese tokenizer's package is missing (the test
    # extra installs it, so its absence is simulated).
    monkeypatch.setitem(sys.modules, "sudachipy", None)
    load_tokenizer.cache_clear()
    try:
        with make_tempdir() as tmp:
            path = write_lines(tmp / "a.jsonl", JSONL_LINES)
            assert main(["convert", "jsonl", str(path), str(tmp / "a.spacy"), "--lang", "ja"]) == 1
    finally:
        load_tokenizer.cache_clear()
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "sudachipy" in err and f"{path}, line 1" in err


def test_cli_passes_tasks_on_to_the_annotation_tools(capsys):
    """Issue 7: --tasks was checked but not passed on to rasa, prodigy and labelstudio."""
    nlu = "nlu:\n- intent: fly\n  examples: |\n    - to [oslo](city)\n"
    prodigy = '{"text": "to oslo", "label": "fly", "answer": "accept"}\n'
    prodigy += '{"text": "to oslo", "spans": [{"start": 3, "end": 7, "label": "city"}], '
    prodigy += '"answer": "accept", "_view_id": "ner_manual"}\n'
    result = [{"type": "choices", "value": {"choices": ["fly"]}}]
    result.append({"type": "labels", "value": {"start": 3, "end": 7, "labels": ["city"]}})
    studio = json.dumps(
        [{"id": 1, "data": {"text": "to oslo"}, "annotations": [{"result": result}]}]
    )
    with make_tempdir() as tmp:
        inputs = {"rasa": "nlu.yml", "prodigy": "a.jsonl", "labelstudio": "export.json"}
        for name, body in zip(inputs.values(), [nlu, prodigy, studio]):
            (tmp / name).write_text(body, encoding="utf-8")
        for fmt, name in inputs.items():
            for task, other in (("cats", "ents"), ("ents", "cats")):
                out = tmp / f"{fmt}-{task}.spacy"
                assert main(["convert", fmt, str(tmp / name), str(out), "--tasks", task]) == 0
                assert f"tasks: {task} ({other} missing)." in capsys.readouterr().out
        assert main(["convert", "rasa", str(tmp / "nlu.yml"), str(out), "--text-key", "x"]) == 1
    assert "--text-key names a Label Studio data key" in capsys.readouterr().err


def test_cli_formats_are_the_librarys():
    from spacy_mtl.cli import convert as convert_cli
    from spacy_mtl.convert import FORMATS

    assert get_args(convert_cli.Format) == FORMATS


def test_cli_usage_errors_exit_2_naming_the_argument(capsys):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", JSONL_LINES)
        out = str(tmp / "a.spacy")
        assert main(["convert", "yaml", str(path), out]) == 2
        assert "FORMAT" in capsys.readouterr().err
        assert main(["convert", "jsonl", str(tmp / "absent.jsonl"), out]) == 2
        assert "INPUT" in capsys.readouterr().err
        assert main(["convert", "jsonl", str(path)]) == 2
        assert "OUTPUT" in capsys.readouterr().err
        assert main(["convert", "jsonl", str(path), out, "--exclusive", "--multilabel"]) == 2
        err = capsys.readouterr().err
        assert "--multilabel" in err and "--exclusive" in err
        assert not (tmp / "a.spacy").exists()
        # -l is --lang's short form, as in spacy convert.
        assert main(["convert", "jsonl", str(path), out, "-l", "de"]) == 0
    assert capsys.readouterr().out.startswith("Wrote 2 documents")


def test_spacy_mtl_convert_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "convert", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["FORMAT", "INPUT", "OUTPUT", "--lang", "-l", "--tasks", "--intents",
                   "--text-key", "--strict", "--exclusive", "--multilabel"]:  # fmt: skip
        assert option in shown
