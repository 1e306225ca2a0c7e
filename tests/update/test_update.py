"""`update`: a trained pipeline learns a new intent and slot type and keeps the old ones."""

from pathlib import Path

import pytest
import spacy
from conftest import HELD_OUT, INTENTS, SENTENCES
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_mtl.__main__ import main
from spacy_mtl.update.api import UpdateSettings, update_pipeline
from spacy_mtl.update.corpus import UpdateError
from spacy_mtl.update.growth import LabelCollisionError

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


def test_output_may_not_be_the_pipeline(served_pipeline, corpora):
    for output in (served_pipeline, served_pipeline / "inside"):
        with pytest.raises(UpdateError, match="would overwrite the pipeline it updates"):
            update_pipeline(served_pipeline, corpora["new"], output)


def test_bad_corpora_are_refused_with_the_file(served_pipeline, corpora, tmp_path):
    out = tmp_path / "out"
    garbage = tmp_path / "garbage.spacy"
    garbage.write_bytes("\ufeffnot a docbin \ud800".encode("utf-8", "surrogatepass"))
    cases = {
        tmp_path / "missing.spacy": "no such file",
        tmp_path: "is a folder",
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
    with pytest.raises(UpdateError, match="cannot be written"):
        update_pipeline(tmp_path / "plain", corpora["new"], tmp_path / "file" / "out")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(UpdateError, match="does not hold a spaCy pipeline"):
        update_pipeline(tmp_path / "plain", corpora["new"], tmp_path / "notes")


def test_command_line_errors_are_one_paragraph(served_pipeline, corpora, capsys):
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", str(served_pipeline)])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("update failed: ") and "Traceback" not in err
    status = main(["update", str(served_pipeline), str(corpora["new"]), "-o", "x", "--steps", "0"])
    assert status == 1 and "--steps must be at least 1" in capsys.readouterr().err


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
