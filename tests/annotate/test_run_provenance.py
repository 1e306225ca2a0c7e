"""annotate's run record (issue 22, case 1): a finished output says what made it, and a rerun
with another input, pipeline or setting refuses, naming what differs, or redoes with overwrite."""

import json
import os

import pytest
import spacy

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import AnnotateError, annotate, read_records


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    """Two pipelines without components: fast, and different."""
    root = tmp_path_factory.mktemp("provenance")
    spacy.blank("en").to_disk(root / "one")
    spacy.blank("en").to_disk(root / "two")
    return str(root / "one"), str(root / "two")


def write_jsonl(path, texts, field="text"):
    path.write_text("".join(json.dumps({field: t}) + "\n" for t in texts), encoding="utf-8")
    return path


def texts_of(path):
    return [record["text"] for record in read_records(path)]


def test_rerun_with_another_input_refuses_and_overwrite_redoes(blank, tmp_path):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima", "play jazz"])
    b = write_jsonl(tmp_path / "B.jsonl", ["x", "y", "z"])
    out = tmp_path / "out.jsonl"
    annotate(blank[0], a, out)
    before = out.read_bytes()
    with pytest.raises(AnnotateError) as err:
        annotate(blank[0], b, out)
    message = str(err.value)
    assert "was made by an earlier run" in message and "holds an unfinished" not in message
    assert "A.jsonl" in message and "B.jsonl" in message and "--overwrite" in message
    assert out.read_bytes() == before
    summary = annotate(blank[0], b, out, overwrite=True)
    assert summary.rows == 3 and texts_of(out) == ["x", "y", "z"]


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"text_field": "body"}, "--text-field was 'text', now 'body'"),
        ({"id_field": "key"}, "--id-field was 'id', now 'key'"),
        ({"max_chars": 5}, "--max-chars was 100000, now 5"),
        ({"pipeline": 1}, "pipeline was"),
    ],
)
def test_rerun_with_other_settings_or_pipeline_refuses(blank, tmp_path, change, expected):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima", "play jazz"])
    out = tmp_path / "out.jsonl"
    annotate(blank[0], a, out)
    pipeline = blank[change.pop("pipeline", 0)]
    with pytest.raises(AnnotateError, match="was made by an earlier run") as err:
        annotate(pipeline, a, out, **change)
    assert expected in str(err.value)


def test_rerun_after_the_input_changed_in_place_refuses(blank, tmp_path):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima", "play jazz"])
    out = tmp_path / "out.jsonl"
    annotate(blank[0], a, out)
    write_jsonl(a, ["fly to lima", "play jazz", "a third row"])
    with pytest.raises(AnnotateError, match="A.jsonl' changed since"):
        annotate(blank[0], a, out)


def test_same_rerun_is_a_no_op_and_part_size_does_not_matter(blank, tmp_path):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima", "", "play jazz"])
    out = tmp_path / "out.jsonl"
    first = annotate(blank[0], a, out)
    mtime = out.stat().st_mtime_ns
    again = annotate(blank[0], a, out, part_size=1, batch_size=3)
    assert (again.parts_written, again.rows, again.errors) == (0, 3, 1)
    assert again.error_kinds == first.error_kinds
    assert out.stat().st_mtime_ns == mtime
    assert (tmp_path / "out.jsonl.annotate.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "A.jsonl", "out.jsonl", "out.jsonl.annotate.json"
    ]  # fmt: skip


def test_an_output_annotate_has_no_record_of_is_not_taken_for_finished(blank, tmp_path):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima"])
    out = tmp_path / "out.jsonl"
    out.write_text('{"mine": 1}\n', encoding="utf-8")
    with pytest.raises(AnnotateError, match="no record of making it"):
        annotate(blank[0], a, out)
    assert out.read_text(encoding="utf-8") == '{"mine": 1}\n'
    annotate(blank[0], a, out, overwrite=True)
    assert texts_of(out) == ["fly to lima"]


def test_finished_and_unfinished_runs_are_named_as_such(blank, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "a.jsonl", ["one", "two", "three"])
    out = tmp_path / "out"
    annotate(blank[0], shards, out, part_size=2)
    with pytest.raises(AnnotateError, match="holds a finished run") as err:
        annotate(blank[0], shards, out, part_size=2, text_field="body")
    assert "holds an unfinished" not in str(err.value)
    (out / "a-00001.jsonl").unlink()
    manifest = json.loads((out / "_annotate.json").read_text())
    del manifest["complete"]
    (out / "_annotate.json").write_text(json.dumps(manifest))
    with pytest.raises(AnnotateError, match="holds an unfinished run"):
        annotate(blank[0], shards, out, part_size=2, text_field="body")


def test_a_kill_while_cleaning_up_leaves_a_finished_output(blank, tmp_path, monkeypatch):
    """Killed after the output and its record were written, before the parts were removed."""
    from spacy_mtl.annotate import layout as annotate_layout

    a = write_jsonl(tmp_path / "A.jsonl", ["one", "two", "three"])
    out = tmp_path / "out.jsonl"

    def killed(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(annotate_layout.Layout, "remove_parts", killed)
        with pytest.raises(KeyboardInterrupt):
            annotate(blank[0], a, out, part_size=1)
    assert (tmp_path / "out.jsonl.parts").is_dir()
    summary = annotate(blank[0], a, out, part_size=1)
    assert summary.parts_written == 0 and summary.rows == 3
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_command_line_refusal_is_one_message(blank, tmp_path, capsys):
    a = write_jsonl(tmp_path / "A.jsonl", ["fly to lima"])
    b = write_jsonl(tmp_path / "B.jsonl", ["play jazz"])
    out = str(tmp_path / "out.jsonl")
    assert main(["annotate", blank[0], str(a), out]) == 0
    capsys.readouterr()
    assert main(["annotate", blank[0], str(b), out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("annotate failed: ") and "Traceback" not in err
    assert os.path.exists(out) and texts_of(tmp_path / "out.jsonl") == ["fly to lima"]
