"""python -m spacy_mtl annotate: records, bad rows, engines, shards, resuming."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import spacy
from conftest import HELD_OUT, SENTENCES, build_nlp, make_examples
from spacy.tokens import Span

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import AnnotateError, annotate, doc_to_record, read_records
from spacy_mtl.annotate import io as annotate_io

TEXTS = [text for text, _, _ in SENTENCES + HELD_OUT]


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory):
    """A pipeline trained for a few steps, on disk: predictions need not be good."""
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("annotate") / "pipeline"
    nlp.to_disk(path)
    return str(path)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A JSONL corpus: 96 good rows with string ids, then one bad row of each kind."""
    path = tmp_path_factory.mktemp("annotate") / "corpus.jsonl"
    lines = [json.dumps({"id": f"doc-{i}", "text": TEXTS[i % len(TEXTS)]}) for i in range(96)]
    lines += [
        json.dumps({"id": "int", "text": 5}),
        json.dumps({"id": "none"}),
        "{not json",
        "",
        json.dumps({"id": "blank", "text": "  "}),
        json.dumps(["a list"]),
        json.dumps({"id": "long", "text": "word " * 50}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lines_of(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_doc_to_record():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("fly from oslo to lima")
    doc.cats = {"flight": 0.75, "music": 0.25}
    doc.ents = [Span(doc, 2, 3, "FROM"), Span(doc, 4, 5, "TO")]
    assert doc_to_record(doc) == {
        "text": "fly from oslo to lima",
        "intent": "flight",
        "intent_confidence": 0.75,
        "out_of_scope": False,
        "cats": {"flight": 0.75, "music": 0.25},
        "entities": [
            {"start": 9, "end": 13, "label": "FROM", "text": "oslo", "confidence": None},
            {"start": 17, "end": 21, "label": "TO", "text": "lima", "confidence": None},
        ],
    }
    assert doc_to_record(nlp.make_doc("hi"))["intent"] is None


def test_predictions_do_not_depend_on_the_batch(pipeline_dir):
    """What makes every engine and worker count agree: a doc's batch-mates change nothing."""
    nlp = spacy.load(pipeline_dir)
    texts = TEXTS * 2 + ["x", "play " * 40]

    def run(batch_size):
        return [doc_to_record(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]

    one = run(1)
    assert one == run(7) == run(64)
    assert any(record["entities"] for record in one)


def test_records_and_bad_rows(pipeline_dir, corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    summary = annotate(pipeline_dir, corpus, out, part_size=40, max_chars=200)
    records = list(read_records(out))
    assert len(records) == 103 == summary.rows
    assert summary.errors == 7 and summary.parts_written == 3
    assert [r["id"] for r in records[:3]] == ["doc-0", "doc-1", "doc-2"]
    good = records[0]
    assert good["text"] == TEXTS[0] and good["error"] is None
    assert set(good["cats"]) == {"flight", "music", "weather"}
    assert good["intent"] == max(good["cats"], key=good["cats"].get)
    for ent in good["entities"]:
        assert good["text"][ent["start"] : ent["end"]] == ent["text"]
    errors = {r["id"]: r["error"] for r in records[96:]}
    assert errors == {
        "int": "'text' is int, not a string",
        "none": "no 'text' field",
        99: errors[99],
        100: "line 100 is blank",
        "blank": "empty text",
        102: "line 102 is a JSON list, not an object",
        "long": "text has 250 characters, more than the limit of 200",
    }
    assert errors[99].startswith("line 99 is not valid JSON")
    for record in records[96:]:
        assert record["intent"] is None and record["cats"] == {} and record["entities"] == []
        assert record["intent_confidence"] is None and record["out_of_scope"] is None
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_text_and_csv_inputs(pipeline_dir, tmp_path):
    txt = tmp_path / "docs.txt"
    txt.write_text("play some jazz\n\nwill it rain in cairo\n", encoding="utf-8")
    annotate(pipeline_dir, txt, tmp_path / "txt.jsonl")
    records = list(read_records(tmp_path / "txt.jsonl"))
    assert [r["id"] for r in records] == [1, 2, 3]
    assert [r["error"] for r in records] == [None, "empty text", None]
    with (tmp_path / "docs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "key"])
        writer.writerows([["play some jazz", "a"], ["", "b"], ["fly to lima", ""]])
    annotate(pipeline_dir, tmp_path / "docs.csv", tmp_path / "csv.jsonl", text_field="body",
             id_field="key")  # fmt: skip
    records = list(read_records(tmp_path / "csv.jsonl"))
    assert [r["id"] for r in records] == ["a", "b", 3]
    assert [r["error"] for r in records] == [None, "empty text", None]
    assert records[0]["cats"] == next(read_records(tmp_path / "txt.jsonl"))["cats"]
    with pytest.raises(AnnotateError, match="no column 'text'"):
        annotate(pipeline_dir, tmp_path / "docs.csv", tmp_path / "x.jsonl")


def test_sharded_input_and_parquet(pipeline_dir, corpus, tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = tmp_path / "shards"
    shards.mkdir()
    rows = lines_of(corpus)
    (shards / "a.jsonl").write_text("\n".join(rows[:50]) + "\n", encoding="utf-8")
    (shards / "b.jsonl").write_text("\n".join(rows[50:]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    summary = annotate(pipeline_dir, shards, out, part_size=30, max_chars=200)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["_annotate.json"] + [f"a-0000{i}.jsonl" for i in range(2)] + [
        f"b-0000{i}.jsonl" for i in range(2)
    ]
    assert summary.rows == 103 and summary.errors == 7
    single = tmp_path / "single.jsonl"
    annotate(pipeline_dir, corpus, single, part_size=30, max_chars=200)
    parts = [r for name in names[1:] for r in read_records(out / name)]
    # Row numbers (the ids and errors of rows without an id) count within each shard.
    assert parts[:96] == list(read_records(single))[:96]
    assert [r["id"] for r in parts[96:]] == ["int", "none", 49, 50, "blank", 52, "long"]
    # Parquet in, Parquet out: the same records.
    good = [json.loads(line) for line in rows[:96]]
    pq.write_table(pa.table({"id": [r["id"] for r in good], "text": [r["text"] for r in good]}),
                   tmp_path / "in.parquet", row_group_size=25)  # fmt: skip
    annotate(pipeline_dir, tmp_path / "in.parquet", tmp_path / "out.parquet", part_size=40)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names == [
        "id", "text", "intent", "intent_confidence", "out_of_scope", "cats", "entities", "error"
    ]  # fmt: skip
    assert list(read_records(tmp_path / "out.parquet")) == parts[:96]


def test_local_workers_and_batch_sizes_agree(pipeline_dir, corpus, tmp_path):
    annotate(pipeline_dir, corpus, tmp_path / "one.jsonl", part_size=40)
    annotate(pipeline_dir, corpus, tmp_path / "two.jsonl", part_size=40, workers=2, batch_size=7)
    assert lines_of(tmp_path / "one.jsonl") == lines_of(tmp_path / "two.jsonl")


def test_rerun_skips_finished_parts_and_checks_settings(pipeline_dir, corpus, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.jsonl").write_bytes(corpus.read_bytes())
    out = tmp_path / "out"
    first = annotate(pipeline_dir, shards, out, part_size=40)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    (out / "a-00001.jsonl").unlink()
    again = annotate(pipeline_dir, shards, out, part_size=40)
    assert (again.parts_written, again.parts_skipped) == (1, 2)
    assert again.rows == first.rows and again.errors == first.errors
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.jsonl")}
    assert after["a-00000.jsonl"] == before["a-00000.jsonl"]
    with pytest.raises(AnnotateError, match="--part-size was 40, now 10"):
        annotate(pipeline_dir, shards, out, part_size=10)
    redone = annotate(pipeline_dir, shards, out, part_size=50, overwrite=True)
    assert redone.parts_written == 3 and redone.rows == first.rows
    # A finished single-file output is left as it is.
    annotate(pipeline_dir, corpus, tmp_path / "one.jsonl")
    assert annotate(pipeline_dir, corpus, tmp_path / "one.jsonl").parts_written == 0


# Runs the command in a child that SIGKILLs itself halfway through writing its third part,
# leaving two finished parts and a half-written temporary file.
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from spacy_mtl.annotate import api
    from spacy_mtl.__main__ import main
    write_part, calls = api.write_part, []

    def dying_write_part(path, records, fmt):
        calls.append(path)
        if len(calls) == 3:
            with open(path.parent / ("." + path.name + ".killed.tmp"), "w") as handle:
                handle.write("half a part")
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        write_part(path, records, fmt)

    api.write_part = dying_write_part
    sys.exit(main(sys.argv[1:]))
    """
)


def test_killed_run_resumes_to_the_same_output(pipeline_dir, corpus, tmp_path):
    args = ["annotate", pipeline_dir, str(corpus), str(tmp_path / "out.jsonl"), "--part-size", "20"]
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, *args], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    parts = tmp_path / "out.jsonl.parts"
    assert sorted(p.name for p in parts.glob("part-*")) == ["part-00000.jsonl", "part-00001.jsonl"]
    assert list(parts.glob(".*.tmp")) and not (tmp_path / "out.jsonl").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "spacy_mtl", *args], capture_output=True, text=True, check=True
    )
    assert "2 part(s) already done" in resumed.stdout
    assert "103 records" in resumed.stdout
    assert not parts.exists()
    assert main(["annotate", pipeline_dir, str(corpus), str(tmp_path / "whole.jsonl")]) == 0
    assert lines_of(tmp_path / "out.jsonl") == lines_of(tmp_path / "whole.jsonl")


def test_command_line(pipeline_dir, corpus, tmp_path, capsys):
    args = ["annotate", pipeline_dir, str(corpus), str(tmp_path / "o.jsonl"), "--max-chars", "200"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "103 records" in out and "96 annotated, 7 with an error" in out
    assert "1 x text has # characters, more than the limit of #" in out
    assert "1 x line # is blank" in out
    # A missing INPUT is a usage error, Typer's.
    assert main(["annotate", pipeline_dir, str(tmp_path / "nope.jsonl"), "o.jsonl"]) == 2
    assert "INPUT" in capsys.readouterr().err
    assert main(["annotate", pipeline_dir, str(corpus), "o.jsonl", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["annotate", pipeline_dir, str(corpus), "o.jsonl", "--engine", "spark"]) == 2
    assert "--engine" in capsys.readouterr().err
    assert main(["annotate", pipeline_dir, str(corpus), str(tmp_path / "o.csv")]) == 1
    assert "name it .jsonl or .parquet" in capsys.readouterr().err
    assert main(["annotate", "no_such_pipeline", str(corpus), str(tmp_path / "p.jsonl")]) == 1
    assert "Cannot load the pipeline 'no_such_pipeline'" in capsys.readouterr().err


def test_command_line_choices_are_the_library_s():
    from typing import get_args

    from spacy_mtl.annotate.engines import ENGINES
    from spacy_mtl.annotate.export import EXPORT_FORMATS, SORT_KEYS
    from spacy_mtl.annotate.io import OUTPUT_FORMATS
    from spacy_mtl.cli import annotate as annotate_cli

    assert get_args(annotate_cli.Engine) == ENGINES
    assert get_args(annotate_cli.OutputFormat) == OUTPUT_FORMATS + tuple(EXPORT_FORMATS)
    assert get_args(annotate_cli.SortKey) == SORT_KEYS


def test_spacy_mtl_annotate_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "annotate", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["PIPELINE", "INPUT", "OUTPUT", "--engine", "--workers", "-n", "--batch-size",
                   "-b", "--text-field", "--id-field", "--address", "--part-size", "--max-chars",
                   "--output-format", "--format", "--sort-by", "--overwrite"]:  # fmt: skip
        assert option in shown


def test_progress_bar(pipeline_dir, corpus, tmp_path, capsys):
    annotate(pipeline_dir, corpus, tmp_path / "quiet.jsonl")
    assert capsys.readouterr().err == ""
    annotate(pipeline_dir, corpus, tmp_path / "bar.jsonl", progress=True)
    err = capsys.readouterr().err
    assert "103/103" in err and "doc/s" in err


def test_ray_engine_without_ray_says_what_to_install(pipeline_dir, corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(AnnotateError, match=r"pip install 'spacy-mtl\[ray\]'"):
        annotate(pipeline_dir, corpus, tmp_path / "o.jsonl", engine="ray")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for this module's tests (annotate reuses a started Ray)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_matches_local_at_every_worker_count(local_ray, pipeline_dir, corpus, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    rows = lines_of(corpus)
    for i in range(3):
        (shards / f"s{i}.jsonl").write_text("\n".join(rows[i::3]) + "\n", encoding="utf-8")
    expected = {}
    annotate(pipeline_dir, shards, tmp_path / "local", part_size=16)
    for path in sorted((tmp_path / "local").glob("*.jsonl")):
        expected[path.name] = lines_of(path)
    for workers in (1, 2):
        out = tmp_path / f"ray{workers}"
        summary = annotate(
            pipeline_dir, shards, out, engine="ray", workers=workers, part_size=16, batch_size=5
        )
        assert summary.rows == 103 and summary.errors == 6
        got = {path.name: lines_of(path) for path in sorted(out.glob("*.jsonl"))}
        assert got == expected


@pytest.mark.slow
def test_annotate_ray_dataset(local_ray, pipeline_dir, tmp_path):
    from spacy_mtl.annotate import annotate_dataset

    rows = [{"id": i, "text": text} for i, text in enumerate(TEXTS)] + [{"id": 99, "text": ""}]
    ctx = local_ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ds = annotate_dataset(local_ray.data.from_items(rows), pipeline_dir, batch_size=8)
    records = ds.take_all()
    nlp = spacy.load(pipeline_dir)
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    for record, doc in zip(records, nlp.pipe(TEXTS)):
        expected = doc_to_record(doc)
        assert dict(record["cats"]) == expected["cats"]
        assert record["entities"] == expected["entities"]
        assert record["intent"] == expected["intent"] and record["error"] is None
    assert records[-1]["error"] == "empty text"


def test_manifest_keeps_the_plan(pipeline_dir, corpus, tmp_path):
    """A rerun reads the plan (rows and offsets) from the manifest and checks the input."""
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.jsonl").write_bytes(corpus.read_bytes())
    annotate(pipeline_dir, shards, tmp_path / "out", part_size=40)
    manifest = annotate_io.load_manifest(tmp_path / "out")
    assert manifest["shards"][0]["rows"] == 103
    assert manifest["complete"]["rows"] == 103 and manifest["complete"]["errors"] == 6
    os.utime(shards / "a.jsonl", ns=(0, 0))
    (tmp_path / "out" / "a-00002.jsonl").unlink()
    with pytest.raises(AnnotateError, match="changed since"):
        annotate(pipeline_dir, shards, tmp_path / "out", part_size=40)
