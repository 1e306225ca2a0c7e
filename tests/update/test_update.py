"""`update`: a trained pipeline learns a new intent and slot type and keeps the old ones."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from conftest import HELD_OUT, INTENTS, SENTENCES
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_mtl.__main__ import main
from spacy_mtl.atomic import OutputError, output_lock
from spacy_mtl.update import api
from spacy_mtl.update import settings as update_settings
from spacy_mtl.update.api import UpdateSettings, update_pipeline
from spacy_mtl.update.corpus import UpdateError
from spacy_mtl.update.growth import LabelCollisionError
from spacy_mtl.update.loop import TrainingDiverged

# A new intent with a new slot type (and an old one), written for these tests.
ALARM = [
    ("wake me at seven", [("seven", "TIME")]),
    ("set an alarm for six thirty", [("six thirty", "TIME")]),
    ("alarm at noon please", [("noon", "TIME")]),
    ("wake me up at five tomorrow", [("five", "TIME"), ("tomorrow", "DATE")]),
    ("set my alarm for eight", [("eight", "TIME")]),
    ("i need an alarm at nine", [("nine", "TIME")]),
    ("please wake me at ten on sunday", [("ten", "TIME"), ("sunday", "DATE")]),
    ("alarm for eleven", [("eleven", "TIME")]),
]
ALARM_HELD_OUT = [
    ("wake me at four", [("four", "TIME")]),
    ("set an alarm for two", [("two", "TIME")]),
    ("i need an alarm at six", [("six", "TIME")]),
    ("alarm at seven please", [("seven", "TIME")]),
]
STEPS = 160


def gold_docs(nlp, rows, labels):
    docs = []
    for text, intent, ents in rows:
        spans = []
        for ent, label in ents:
            start = f" {text} ".index(f" {ent} ")
            spans.append((start, start + len(ent), label))
        cats = {label: float(label == intent) for label in labels}
        example = Example.from_dict(nlp.make_doc(text), {"cats": cats, "entities": spans})
        docs.append(example.reference)
    return docs


def write(path: Path, docs) -> Path:
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    nlp = spacy.blank("en")
    folder = tmp_path_factory.mktemp("update-corpora")
    labels = INTENTS + ["alarm"]
    alarm = [(text, "alarm", ents) for text, ents in ALARM]
    return {
        "new": write(folder / "new.spacy", gold_docs(nlp, alarm, labels)),
        "old": write(folder / "old.spacy", gold_docs(nlp, SENTENCES, INTENTS)),
    }


@pytest.fixture(scope="module")
def updated(served_pipeline, corpora, tmp_path_factory):
    """The served pipeline updated on the alarm sentences, replaying the old ones."""
    output = tmp_path_factory.mktemp("updated") / "pipeline"
    summary = update_pipeline(
        served_pipeline,
        corpora["new"],
        output,
        replay_path=corpora["old"],
        dev_path=corpora["old"],
        settings=UpdateSettings(steps=STEPS, seed=0),
    )
    return output, summary


def predictions(nlp, rows):
    docs = list(nlp.pipe([text for text, *_ in rows]))
    return [(max(d.cats, key=d.cats.get), [(e.text, e.label_) for e in d.ents]) for d in docs]


def test_update_learns_the_new_intent_and_slot(updated):
    output, summary = updated
    assert summary.added == {"mtl_textcat": ["alarm"], "mtl_ner": ["TIME"]}
    assert summary.n_new == len(ALARM) and summary.n_replay == len(ALARM)
    # Targets on every replayed document, and on no alarm document's categories.
    assert summary.targets == {"cats": len(ALARM), "tags": 2 * len(ALARM)}
    # Alarms filled half the update's documents and are a fifth of old and new together: the
    # prior correction moves them below every old intent it saw.
    old_shifts = [summary.prior_shift[label] for label in INTENTS if label in summary.prior_shift]
    assert old_shifts and summary.prior_shift["alarm"] < min(old_shifts)
    nlp = spacy.load(output)
    predicted = predictions(nlp, [(text, "alarm", ents) for text, ents in ALARM_HELD_OUT])
    assert sum(intent == "alarm" for intent, _ in predicted) >= 3, predicted
    # Right before the update: 0 (TIME is new). Seeds 0-5: 4 of 4 intents, 3 or 4 of 4 slots.
    times = sum(ents == gold for (_, ents), (_, gold) in zip(predicted, ALARM_HELD_OUT))
    assert times >= 2, predicted


def test_update_keeps_the_old_predictions(updated, served_pipeline):
    output, summary = updated
    old = predictions(spacy.load(served_pipeline), HELD_OUT)
    new = predictions(spacy.load(output), HELD_OUT)
    gold = [(intent, ents) for _, intent, ents in HELD_OUT]
    old_intents = sum(p[0] == g[0] for p, g in zip(old, gold))
    new_intents = sum(p[0] == g[0] for p, g in zip(new, gold))
    assert new_intents >= old_intents - 1, (old, new)
    old_ents = sum(p[1] == g[1] for p, g in zip(old, gold))
    new_ents = sum(p[1] == g[1] for p, g in zip(new, gold))
    assert new_ents >= old_ents - 1, (old, new)
    # On the old dev sentences, from 1.0 each: fine-tuning on the alarm sentences alone (no
    # replay, no soft targets) fell to cats_acc 0.5 and ents_f 0.76-0.88 (seeds 0, 1, two
    # runs); the update kept cats_acc 0.83-0.94 and ents_f 0.98-1.0 over seeds 0-5 (0.89-1.0
    # and 0.89-1.0 at the full learning rate, without the prior correction; floats move with
    # torch's threads). Intents separate the two; slots only guard a collapse.
    before, after = summary.scores_before, summary.scores_after
    assert after["cats_acc"] >= before["cats_acc"] - 0.2, (before, after)
    assert after["ents_f"] >= before["ents_f"] - 0.15, (before, after)


def test_updated_pipeline_round_trips(updated, served_pipeline, tmp_path):
    output, _ = updated
    nlp = spacy.load(output)
    assert "spacy-mtl-update" not in (output / "config.cfg").read_text()
    assert (output / "config.cfg").read_text() == (served_pipeline / "config.cfg").read_text()
    nlp.to_disk(tmp_path / "again")
    texts = [text for text, *_ in HELD_OUT + [(t, "alarm", e) for t, e in ALARM_HELD_OUT]]
    first = [(d.cats, d.ents) for d in nlp.pipe(texts)]
    second = [(d.cats, d.ents) for d in spacy.load(tmp_path / "again").pipe(texts)]
    assert [c for c, _ in first] == [c for c, _ in second]
    assert [[(e.start, e.end, e.label_) for e in ents] for _, ents in first] == [
        [(e.start, e.end, e.label_) for e in ents] for _, ents in second
    ]
    assert not list(output.parent.glob("*.spacy-mtl-*"))


def test_output_may_not_be_an_input_or_inside_a_pipeline(served_pipeline, corpora, tmp_path):
    other = tmp_path / "other"
    spacy.blank("en").to_disk(other)
    cases = {
        served_pipeline: f"is the input {served_pipeline}",
        served_pipeline / "inside": f"lies inside the input {served_pipeline}",
        corpora["new"]: f"is the input {corpora['new']}",
        corpora["new"].parent: f"would hold the input {corpora['new']}",
        other / "inside": f"lies inside the pipeline folder {other}",
    }
    before = sorted(served_pipeline.rglob("*"))
    for output, message in cases.items():
        with pytest.raises(OutputError, match=message):
            update_pipeline(served_pipeline, corpora["new"], output)
    with pytest.raises(OutputError, match=f"is the input {corpora['old']}"):
        update_pipeline(served_pipeline, corpora["new"], corpora["old"], replay_path=corpora["old"])
    assert sorted(served_pipeline.rglob("*")) == before
    assert not (other / "inside").exists() and not list(tmp_path.glob("*.lock"))


def test_bad_corpora_are_refused_with_the_file(served_pipeline, corpora, tmp_path):
    out = tmp_path / "out"
    garbage = tmp_path / "garbage.spacy"
    garbage.write_bytes("\ufeffnot a docbin \ud800".encode("utf-8", "surrogatepass"))
    (tmp_path / "folder").mkdir()
    cases = {
        tmp_path / "missing.spacy": "no such file",
        tmp_path / "folder": "is a folder",
        garbage: "not a .spacy file",
        write(tmp_path / "empty.spacy", []): "holds no documents",
    }
    for path, message in cases.items():
        with pytest.raises(UpdateError, match=message) as error:
            update_pipeline(served_pipeline, path, out)
        assert str(path) in str(error.value)
    assert not out.exists()


def test_another_tokenization_is_refused(served_pipeline, tmp_path):
    vocab = spacy.blank("zh").vocab
    docs = []
    for text in ["我要去长沙", "明天早上七点叫我起床", "播放音乐"]:
        doc = Doc(vocab, words=list(text), spaces=[False] * len(text))
        doc.cats = {"flight": 1.0, "music": 0.0, "weather": 0.0}
        docs.append(doc)
    path = write(tmp_path / "zh.spacy", docs)
    with pytest.raises(UpdateError, match="zh.spacy \\(NEW\\): the pipeline's tokenizer"):
        update_pipeline(served_pipeline, path, tmp_path / "out")


def test_labels_differing_in_case_are_refused(served_pipeline, tmp_path):
    nlp = spacy.blank("en")
    docs = gold_docs(nlp, [("fly to oslo", "Flight", [])], ["Flight", "music"])
    path = write(tmp_path / "case.spacy", docs)
    with pytest.raises(LabelCollisionError, match="'Flight' differs from an existing label"):
        update_pipeline(served_pipeline, path, tmp_path / "out")


def test_pipeline_without_heads_and_unwritable_output(corpora, tmp_path):
    plain = spacy.blank("en")
    plain.add_pipe("sentencizer")
    plain.to_disk(tmp_path / "plain")
    with pytest.raises(UpdateError, match="has no mtl_textcat or mtl_ner"):
        update_pipeline(tmp_path / "plain", corpora["new"], tmp_path / "out")
    with pytest.raises(UpdateError, match="Cannot load the pipeline"):
        update_pipeline(tmp_path / "nothing", corpora["new"], tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot be written"):
        update_pipeline(tmp_path / "plain", corpora["new"], tmp_path / "file" / "out")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(OutputError, match="does not hold a spaCy pipeline"):
        update_pipeline(tmp_path / "plain", corpora["new"], tmp_path / "notes")
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["a.txt"]


def test_command_line_errors_are_one_paragraph(served_pipeline, corpora, capsys):
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", str(served_pipeline)])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("update failed: ") and "Traceback" not in err
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", "x", "--steps", "0"])
    assert status == 2 and "--steps" in capsys.readouterr().err


def test_spacy_mtl_update_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "update", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["PIPELINE", "NEW", "--output", "-o", "--dev", "--replay", "--replay-share",
                   "--distill-weight", "--steps", "--learn-rate", "--seed",
                   "--no-prior-correction", "--verbose", "-V"]:  # fmt: skip
        assert option in shown


def test_the_prior_correction_is_on_by_default_and_can_be_turned_off(
    served_pipeline, corpora, tmp_path, capsys
):
    common = [str(served_pipeline), str(corpora["new"]), "--replay", str(corpora["old"])]
    assert main(["update", *common, "-o", str(tmp_path / "a"), "--steps", "3"]) == 0
    assert "intent prior moved to the old and new data's" in capsys.readouterr().out
    off = ["--steps", "3", "--no-prior-correction"]
    assert main(["update", *common, "-o", str(tmp_path / "b"), *off]) == 0
    assert "intent prior moved" not in capsys.readouterr().out
    # Without a replay corpus the old data's size is unknown: nothing is moved.
    assert main(["update", *common[:2], "-o", str(tmp_path / "c"), "--steps", "3"]) == 0
    assert "intent prior moved" not in capsys.readouterr().out


def test_the_update_trains_at_half_the_pipelines_rate_unless_told(served_pipeline, tmp_path):
    from spacy_mtl.update.loop import _set_training_config

    paths = {"train": tmp_path / "train.spacy", "dev": tmp_path / "dev.spacy"}
    nlp = spacy.load(served_pipeline)
    rate = nlp.config["training"]["optimizer"]["learn_rate"]
    assert isinstance(rate, float) and rate > 0
    _set_training_config(nlp, paths, UpdateSettings(steps=5))
    assert nlp.config["training"]["optimizer"]["learn_rate"] == pytest.approx(rate / 2)
    nlp = spacy.load(served_pipeline)
    _set_training_config(nlp, paths, UpdateSettings(steps=5, learn_rate=0.01))
    assert nlp.config["training"]["optimizer"]["learn_rate"] == 0.01


@pytest.mark.parametrize(
    "options,option",
    [
        (["--steps", "0"], "--steps"),
        (["--steps", "-3"], "--steps"),
        (["--steps", str(10**20)], "--steps"),
        (["--steps", "x"], "--steps"),
        (["--learn-rate", "inf"], "--learn-rate"),
        (["--learn-rate", "nan"], "--learn-rate"),
        (["--learn-rate", "-0.001"], "--learn-rate"),
        (["--learn-rate", "1e6"], "--learn-rate"),
        (["--learn-rate", "1e308"], "--learn-rate"),
        (["--replay", "OLD", "--replay-share", "-0.1"], "--replay-share"),
        (["--replay", "OLD", "--replay-share", "1.5"], "--replay-share"),
        (["--replay", "OLD", "--replay-share", "nan"], "--replay-share"),
        (["--distill-weight", "nan"], "--distill-weight"),
        (["--distill-weight", "inf"], "--distill-weight"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(10**20)], "--seed"),
        (["--replay", "missing.spacy"], "--replay"),
        (["--dev", "missing.spacy"], "--dev"),
    ],
)
def test_options_out_of_range_are_usage_errors_naming_the_option(
    served_pipeline, corpora, tmp_path, capsys, options, option
):
    out = tmp_path / "out"
    options = [str(corpora["old"]) if option == "OLD" else option for option in options]
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", str(out), *options])
    err = capsys.readouterr().err
    assert status == 2 and option in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_output_and_new_corpus_are_required(served_pipeline, corpora, tmp_path, capsys):
    assert main(["update", str(served_pipeline), str(corpora["new"])]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["update", str(served_pipeline), "-o", str(tmp_path / "out")]) == 2
    assert "NEW" in capsys.readouterr().err
    assert main(["update", str(served_pipeline), str(tmp_path / "no.spacy"), "-o", "x"]) == 2
    assert "NEW" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options,message",
    [
        # Past what Typer's closed ranges refuse: their open ends, and a share without a replay.
        (["--learn-rate", "0"], "--learn-rate must be a finite number .* not 0.0"),
        (["--replay-share", "0.3"], "--replay-share 0.3 needs --replay OLD.spacy"),
        (["--replay", "OLD", "--replay-share", "1"], r"--replay-share must .* in \[0, 1\)"),
    ],
)
def test_settings_typer_cannot_check_are_refused_naming_the_option(
    served_pipeline, corpora, tmp_path, capsys, options, message
):
    out = tmp_path / "out"
    options = [str(corpora["old"]) if option == "OLD" else option for option in options]
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", str(out), *options])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err and "E961" not in err
    assert err.startswith("update failed: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "given,message",
    [
        ({"steps": 0}, "--steps must be a whole number from 1 to 1,000,000, not 0"),
        ({"steps": 10**20}, f"--steps must be a whole number .* not {10**20}"),
        ({"steps": True}, "--steps must be a whole number .* not True"),
        (
            {"learn_rate": float("inf")},
            r"--learn-rate must be a finite number in \(0, 1.0\], not inf",
        ),
        ({"learn_rate": 1e6}, "--learn-rate must be a finite number .* not 1000000.0"),
        ({"replay_share": -0.1}, "--replay-share must .* not -0.1"),
        ({"distill_weight": float("inf")}, r"--distill-weight must .* in \[0, 1\], not inf"),
        ({"seed": -1}, "--seed must be a whole number from 0 to 4,294,967,295, not -1"),
    ],
)
def test_settings_out_of_range_are_refused_from_python_too(given, message):
    with pytest.raises(UpdateError, match=message):
        UpdateSettings(**given).check(replay=True)


def test_training_that_diverges_stops_and_writes_nothing(
    served_pipeline, corpora, tmp_path, monkeypatch
):
    # Within the bound a tiny pipeline does not diverge in a few steps: lift the bound to make
    # it (before, a learning rate of 1e6 failed with an IndexError from ml/viterbi.py).
    monkeypatch.setattr(update_settings, "MAX_LEARN_RATE", 1e9)
    out = tmp_path / "out"
    settings = UpdateSettings(steps=4, learn_rate=1e6)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+: .*NaN or inf"):
        update_pipeline(served_pipeline, corpora["new"], out, settings=settings)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TrainingDiverged, match=r"Lower --learn-rate \(it was 1000000.0\)"):
        update_pipeline(served_pipeline, corpora["new"], out, settings=settings)


def test_bad_gold_is_refused_naming_the_file_and_document(served_pipeline, corpora, tmp_path):
    nlp = spacy.blank("en")
    rows = [(text, intent, ents) for text, intent, ents in SENTENCES[:4]]

    def corpus(name, value):
        docs = gold_docs(nlp, rows, INTENTS)
        docs[2].cats = {"flight": value, "music": 0.0, "weather": 0.0}
        return write(tmp_path / f"{name}.spacy", docs)

    first_words = "'i need a plane ticket from accra to kyot..."
    out = tmp_path / "out"
    cases = [
        (corpus("nan", float("nan")), "'flight' = nan, where a number in \\[0, 1\\] is needed"),
        (corpus("inf", float("inf")), "'flight' = inf"),
        (corpus("huge", 1e308), "'flight' = 1e\\+308"),
        (corpus("negative", -1.0), "'flight' = -1.0"),
    ]
    for path, problem in cases:
        with pytest.raises(UpdateError) as error:
            update_pipeline(served_pipeline, path, out)
        message = str(error.value)
        assert message.startswith(f"{path} (NEW): document 2 of the file ({first_words}')")
        assert re.search(problem, message), message
    # A replayed corpus is named as such; so is the dev corpus.
    bad = cases[0][0]
    with pytest.raises(UpdateError, match=f"{bad} \\(--replay\\): document 2 of the file"):
        update_pipeline(served_pipeline, corpora["new"], out, replay_path=bad)
    with pytest.raises(UpdateError, match=f"{bad} \\(--dev\\): document 2 of the file"):
        update_pipeline(served_pipeline, corpora["new"], out, dev_path=bad)
    # Two positive intents for an exclusive classifier: the head's own check, with the file.
    docs = gold_docs(nlp, rows, INTENTS)
    docs[1].cats = {"flight": 1.0, "music": 1.0, "weather": 0.0}
    path = write(tmp_path / "two.spacy", docs)
    with pytest.raises(UpdateError, match="two.spacy \\(NEW\\): document 1 of the file .* 2 pos"):
        update_pipeline(served_pipeline, path, out)
    assert not out.exists() and not list(tmp_path.glob("out*"))


def test_a_second_run_on_the_output_is_refused_before_any_work(
    served_pipeline, corpora, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"

    def load(_pipeline):
        raise AssertionError("the pipeline was loaded")

    monkeypatch.setattr(api, "load_heads", load)
    with output_lock(out, "update"):
        status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1 and "another update run (pid" in err and str(out) in err
    assert not out.exists()


def test_a_killed_runs_scratch_folder_is_removed_by_the_next_run(
    served_pipeline, corpora, tmp_path, monkeypatch, capsys
):
    from spacy_mtl.update import loop

    out = tmp_path / "out"
    # What `kill -9` leaves: the scratch folder beside OUT, with spaCy's corpora in it.
    leftover = tmp_path / "out.spacy-mtl-update"
    leftover.mkdir()
    (leftover / "train.spacy").write_bytes(b"from a killed run")
    seen = []

    def train(nlp, output_path, **kwargs):
        seen.append(sorted(p.name for p in leftover.iterdir()))
        assert nlp.config["paths"]["train"] == str(leftover / "train.spacy")
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train", train)
    argv = ["update", str(served_pipeline), str(corpora["new"]), "-o", str(out), "--steps", "1"]
    assert main(argv) == 130
    assert "interrupted; no output was written" in capsys.readouterr().err
    assert seen == [["dev.spacy", "train.spacy"]]
    # Ctrl-C left no output, no scratch folder, no partial folder, no lock.
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    leftover.mkdir()
    (leftover / "train.spacy").write_bytes(b"from a killed run")
    assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # OUT is now a pipeline: a next run replaces it.
    assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
