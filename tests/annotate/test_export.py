"""annotate --format prodigy|labelstudio (annotate/export.py): tasks to correct, and back.

The round trips export a pipeline's predictions, edit a few tasks as the tool would
(another intent, a fixed span), import them with convert, and find the corrections in the
.spacy file.
"""

import json
import warnings

import pytest
import spacy
from conftest import SENTENCES, build_nlp, make_examples, nan_weights
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import AnnotateError, annotate
from spacy_mtl.annotate.export import confidence, sort_records
from spacy_mtl.convert import convert

TEXTS = [text for text, _, _ in SENTENCES[:6]]


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory):
    """A pipeline trained for a few steps, on disk: predictions need not be good."""
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("export") / "pipeline"
    nlp.to_disk(path)
    return str(path)


@pytest.fixture
def corpus(tmp_path):
    lines = [json.dumps({"id": f"doc-{i}", "text": text}) for i, text in enumerate(TEXTS)]
    lines.append(json.dumps({"id": "blank", "text": " "}))
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path):
    return {doc.text: doc for doc in DocBin().from_disk(path).get_docs(Vocab())}


def record(cats=None, entities=(), **extra):
    return {"id": 1, "text": "t", "cats": cats or {}, "entities": list(entities), **extra}


def test_confidence_is_the_least_sure_part_and_falls_back_to_the_top_score():
    assert confidence(record({"a": 0.7, "b": 0.3})) == 0.7
    assert confidence(record({"a": 0.7}, intent_confidence=0.4)) == 0.4
    assert confidence(record({"a": 0.7}, intent_confidence=None)) == 0.7
    ents = [{"confidence": 0.9}, {"confidence": 0.2}, {"confidence": None}]
    assert confidence(record({"a": 0.7}, ents, intent_confidence=0.5)) == 0.2
    assert confidence(record()) is None
    records = [
        record({"a": 0.9}, id="sure"),
        record(id="unknown"),
        record({"a": 0.9}, [{"confidence": 0.1}], id="entity"),
        record({"a": 0.6}, id="tie-1"),
        record({"a": 0.6}, id="tie-2"),
    ]
    order = [r["id"] for r in sort_records(records, "confidence")]
    assert order == ["entity", "tie-1", "tie-2", "sure", "unknown"]
    assert sort_records(records, None) == records


def test_prodigy_round_trip(pipeline_dir, corpus, tmp_path):
    out = tmp_path / "tasks.jsonl"
    summary = annotate(pipeline_dir, corpus, out, output_format="prodigy", sort_by="confidence")
    assert summary.exported == len(TEXTS) and summary.errors == 1
    tasks = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    scores = [task["meta"]["score"] for task in tasks]
    assert scores == sorted(scores) and sorted(t["text"] for t in tasks) == sorted(TEXTS)
    # Corrected in Prodigy: another intent on one task, one span fixed on another.
    first, second = tasks[0], tasks[1]
    intent = next(o["id"] for o in first["options"] if o["id"] not in first["accept"])
    first["accept"] = [intent]
    words = second["tokens"]
    second["spans"] = [
        {"start": words[0]["start"], "end": words[1]["end"], "label": "FIXED",
         "token_start": 0, "token_end": 1}
    ]  # fmt: skip
    answered = [{**task, "answer": "accept", "_view_id": "blocks"} for task in tasks]
    corrected = tmp_path / "corrected.jsonl"
    corrected.write_text("".join(json.dumps(t) + "\n" for t in answered), encoding="utf-8")
    assert convert("prodigy", corrected, tmp_path / "gold.spacy") == len(TEXTS)
    docs = load(tmp_path / "gold.spacy")
    assert max(docs[first["text"]].cats.items(), key=lambda kv: kv[1]) == (intent, 1.0)
    fixed = docs[second["text"]]
    assert [(e.start, e.end, e.label_) for e in fixed.ents] == [(0, 2, "FIXED")]
    assert all(t.ent_iob_ in ("B", "I", "O") for doc in docs.values() for t in doc)
    # An untouched task keeps the pipeline's predictions as gold.
    third = tasks[2]
    assert [e.label_ for e in docs[third["text"]].ents] == [s["label"] for s in third["spans"]]


def test_labelstudio_round_trip(pipeline_dir, corpus, tmp_path):
    out = tmp_path / "tasks.json"
    annotate(pipeline_dir, corpus, out, output_format="labelstudio")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["text"] for t in tasks] == TEXTS  # input order without --sort-by
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] and 0.0 <= prediction["score"] <= 1.0
    # Corrected in Label Studio: the annotation starts from the prediction and is edited.
    export = []
    for i, task in enumerate(tasks):
        predicted = task["predictions"][0]["result"]
        result = [{k: v for k, v in r.items() if k != "score"} for r in predicted]
        if i == 0:
            for r in result:
                if r["type"] == "choices":
                    r["value"]["choices"] = ["weather"]
        if i == 1:
            text = task["data"]["text"]
            result = [r for r in result if r["type"] != "labels"]
            end = text.index(" ")
            value = {"start": 0, "end": end, "text": text[:end], "labels": ["FIXED"]}
            result.append(
                {"from_name": "label", "to_name": "text", "type": "labels", "value": value}
            )
        export.append({"id": i + 1, **task, "annotations": [{"result": result}]})
    corrected = tmp_path / "export.json"
    corrected.write_text(json.dumps(export), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert("labelstudio", corrected, tmp_path / "gold.spacy")
    docs = load(tmp_path / "gold.spacy")
    assert docs[TEXTS[0]].cats["weather"] == 1.0
    assert [(e.start, e.end, e.label_) for e in docs[TEXTS[1]].ents] == [(0, 1, "FIXED")]


def test_export_settings_are_checked_and_recorded(pipeline_dir, corpus, tmp_path, capsys):
    out = tmp_path / "tasks.jsonl"
    with pytest.raises(AnnotateError, match="--sort-by orders an export"):
        annotate(pipeline_dir, corpus, out, sort_by="confidence")
    with pytest.raises(AnnotateError, match=r"does not end in \.json"):
        annotate(pipeline_dir, corpus, out, output_format="labelstudio")
    args = ["annotate", pipeline_dir, str(corpus), str(out), "--format", "prodigy"]
    assert main(args) == 0
    before = out.read_bytes()
    # The same command keeps the finished export; another setting is refused, naming it.
    assert main(args) == 0 and out.read_bytes() == before
    assert main(args + ["--sort-by", "confidence"]) == 1
    assert main(["annotate", pipeline_dir, str(corpus), str(out)]) == 1
    assert out.read_bytes() == before
    err = capsys.readouterr().err
    assert "--sort-by was None, now 'confidence'" in err and "--format was 'prodigy'" in err
    # A directory of shards exports to one file; the output may not be inside it.
    (tmp_path / "shards").mkdir()
    for name in ("a", "b"):
        (tmp_path / "shards" / f"{name}.jsonl").write_bytes(corpus.read_bytes())
    shards = tmp_path / "shards"
    summary = annotate(pipeline_dir, shards, tmp_path / "all.json", output_format="labelstudio")
    assert summary.exported == 2 * len(TEXTS)
    assert len(json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))) == 2 * len(TEXTS)
    with pytest.raises(AnnotateError, match="inside it"):
        annotate(pipeline_dir, shards, shards / "x.json", output_format="labelstudio")


def changed_copy(source, target, change):
    """The pipeline at `source`, changed by `change(nlp)`, saved at `target`."""
    nlp = spacy.load(source)
    change(nlp)
    nlp.to_disk(target)
    return str(target)


@pytest.fixture(scope="session")
def rejecting_dir(pipeline_dir, tmp_path_factory):
    """The pipeline with a calibration that rejects the less sure half of TEXTS as out of scope."""
    tops = sorted(max(doc.cats.values()) for doc in spacy.load(pipeline_dir).pipe(TEXTS))
    threshold = (tops[2] + tops[3]) / 2

    def calibrate(nlp):
        calibration = {"score": "max_prob", "threshold": threshold}
        nlp.get_pipe("mtl_textcat").cfg["calibration"] = calibration

    return changed_copy(pipeline_dir, tmp_path_factory.mktemp("oos") / "pipeline", calibrate)


@pytest.fixture(scope="session")
def nan_dir(pipeline_dir, tmp_path_factory):
    return changed_copy(pipeline_dir, tmp_path_factory.mktemp("nan") / "pipeline", nan_weights)


def strict_json(text):
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} written"))


def test_out_of_scope_tasks_accepted_as_they_are_teach_no_out_of_scope_intent(
    rejecting_dir, corpus, tmp_path
):
    """Before: accept ["out_of_scope"], not among the options, and convert refused the task;
    Label Studio's choice made out_of_scope an intent of the converted corpus."""
    out = tmp_path / "tasks.jsonl"
    annotate(rejecting_dir, corpus, out, output_format="prodigy", sort_by="confidence")
    tasks = [strict_json(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rejected = [task for task in tasks if task["meta"].get("out_of_scope")]
    kept = [task for task in tasks if not task["meta"].get("out_of_scope")]
    assert len(rejected) == 3 and len(kept) == 3
    for task in rejected:
        assert task["accept"] == [] and task["meta"]["intent"] == "out_of_scope"
        assert sorted(o["id"] for o in task["options"]) == ["flight", "music", "weather"]
    assert all(task["accept"] == [task["meta"]["intent"]] for task in kept)
    answered = [{**task, "answer": "accept", "_view_id": "blocks"} for task in tasks]
    accepted = tmp_path / "accepted.jsonl"
    accepted.write_text("".join(json.dumps(t) + "\n" for t in answered), encoding="utf-8")
    assert convert("prodigy", accepted, tmp_path / "prodigy.spacy") == len(TEXTS)
    docs = load(tmp_path / "prodigy.spacy")
    assert all("out_of_scope" not in doc.cats for doc in docs.values())
    assert all(docs[task["text"]].cats == {} for task in rejected)
    for task in kept:
        cats = docs[task["text"]].cats
        assert max(cats, key=cats.get) == task["meta"]["intent"] and cats[task["accept"][0]] == 1

    out = tmp_path / "tasks.json"
    annotate(rejecting_dir, corpus, out, output_format="labelstudio")
    tasks = strict_json(out.read_text(encoding="utf-8"))
    rejected = [task for task in tasks if task["meta"].get("out_of_scope")]
    assert len(rejected) == 3
    for task in rejected:
        kinds = [r["type"] for r in task["predictions"][0]["result"]]
        assert "choices" not in kinds and task["meta"]["intent"] == "out_of_scope"
    # Accepted in Label Studio as predicted: the prediction becomes the annotation.
    export = [
        {"id": i + 1, **task, "annotations": [{"result": task["predictions"][0]["result"]}]}
        for i, task in enumerate(tasks)
    ]
    accepted = tmp_path / "export.json"
    accepted.write_text(json.dumps(export), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert("labelstudio", accepted, tmp_path / "ls.spacy")
    docs = load(tmp_path / "ls.spacy")
    assert all("out_of_scope" not in doc.cats for doc in docs.values())
    assert {label for doc in docs.values() for label in doc.cats} <= {"flight", "music", "weather"}
    assert all(docs[task["data"]["text"]].cats == {} for task in rejected)


@pytest.mark.parametrize("fmt", ["jsonl", "prodigy", "labelstudio"])
def test_a_pipeline_that_predicts_nan_gives_error_records_and_strict_json(
    nan_dir, corpus, tmp_path, fmt, capsys
):
    """Before: bare NaN in the .jsonl and the Label Studio .json (invalid JSON), intent the
    first label. Now each such row is an error record, named in the summary."""
    out = tmp_path / ("out.json" if fmt == "labelstudio" else "out.jsonl")
    args = ["annotate", nan_dir, str(corpus), str(out), "--format", fmt]
    assert main(args) == 3  # every row is an error record: the blank one, and the NaN ones
    printed = capsys.readouterr().out
    assert f"{len(TEXTS)} x the prediction is not a number (NaN or infinite)" in printed
    text = out.read_text(encoding="utf-8")
    if fmt == "jsonl":
        records = [strict_json(line) for line in text.splitlines()]
        assert len(records) == len(TEXTS) + 1
        for record in records[: len(TEXTS)]:
            assert record["intent"] is None and record["cats"] == {}
            assert "not a number" in record["error"] and "cats['flight']" in record["error"]
    elif fmt == "prodigy":
        assert text == ""  # no task: error records are left out of an export
    else:
        assert strict_json(text) == []
