"""Every `debug data` check, on a small corpus planted with its problem; silence on a clean one.

The checks run on corpora built in memory (run_checks), so no config is loaded here;
test_debug_data_cli.py reads real configs."""

import numpy
import pytest
from conftest import HELD_OUT, SENTENCES, build_nlp, make_examples
from spacy.attrs import ENT_IOB, ENT_TYPE
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_mtl.debug_data.corpora import Corpora, SourceData
from spacy_mtl.debug_data.findings import ERROR, INFO, WARNING
from spacy_mtl.debug_data.run import run_checks
from spacy_mtl.pipeline.teacher_targets import set_teacher_targets


def corpora(nlp, train_cats, train_ents, dev, shares=(0.5, 0.5)):
    sources = [
        SourceData(
            "train", "cats", "cats.spacy", train_cats, ["cats"], share=shares[0], per_epoch=9
        ),
        SourceData(
            "train", "ents", "ents.spacy", train_ents, ["ents"], share=shares[1], per_epoch=9
        ),
        SourceData("dev", "dev", "dev.spacy", dev, share=1.0),
    ]
    return Corpora(nlp=nlp, config=None, sources=sources, warnings=[])


def clean(nlp=None):
    nlp = nlp or build_nlp()
    return (
        nlp,
        make_examples(nlp, SENTENCES, entities=False),
        make_examples(nlp, SENTENCES, cats=False),
        make_examples(nlp, HELD_OUT),
    )


def found(result, check, level=None):
    return [
        f for f in result["findings"] if f.check == check and (level is None or f.level == level)
    ]


def test_a_clean_corpus_has_no_error_and_no_warning():
    result = run_checks(corpora(*clean()), rare=1)
    assert result["errors"] == 0
    assert [f.message for f in result["findings"] if f.level != INFO] == []
    summary = {(s["corpus"], s["source"]): s for s in result["sources"]}
    assert (
        summary["train", "cats"]["cats"] == len(SENTENCES) and summary["train", "cats"]["ents"] == 0
    )
    assert summary["dev", "dev"]["ents"] == len(HELD_OUT)
    assert result["labels"]["cats"]["flight"] == {"train": 6, "dev": 2}
    (shares,) = found(result, "epoch_shares", INFO)
    assert shares.data["cats"]["share"] == 0.5


def test_rare_labels_below_the_setting_are_named():
    result = run_checks(corpora(*clean()), rare=20)
    (intents,) = [f for f in found(result, "rare_labels", WARNING) if f.task == "cats"]
    assert intents.data["labels"] == {"flight": 6, "music": 6, "weather": 6}


@pytest.mark.parametrize("task", ["cats", "ents"])
def test_a_dev_label_unseen_in_training_is_an_error(task):
    nlp, cats, ents, _ = clean()
    if task == "cats":
        doc = nlp.make_doc("wake me at seven")
        doc.cats = {"alarm": 1.0, "flight": 0.0}
    else:
        doc = nlp.make_doc("fly with lufthansa")
        doc.set_ents([Span(doc, 2, 3, "AIRLINE")], default="outside")
    dev = make_examples(nlp, HELD_OUT) + [Example(nlp.make_doc(doc.text), doc)]
    result = run_checks(corpora(nlp, cats, ents, dev), rare=1)
    (finding,) = [f for f in found(result, "unseen_dev_labels", ERROR) if f.task == task]
    assert [d.text for d in finding.docs] == [doc.text] and result["errors"] == 1


def test_training_labels_absent_from_dev_and_imbalance_are_warned():
    nlp, cats, ents, dev = clean()
    alarm = nlp.make_doc("set an alarm")
    alarm.cats = {"alarm": 1.0, "flight": 0.0, "music": 0.0, "weather": 0.0}
    many = make_examples(nlp, SENTENCES * 20, entities=False)
    extra = [Example(nlp.make_doc(alarm.text), alarm)]
    result = run_checks(corpora(nlp, many + extra, ents, dev), rare=1)
    assert [f.data["labels"] for f in found(result, "absent_from_dev", WARNING)] == [["alarm"]]
    (imbalance,) = [f for f in found(result, "imbalance", WARNING) if f.task == "cats"]
    assert imbalance.data["smallest"] == ["alarm", 1] and imbalance.data["ratio"] == 120


def misaligned_example(nlp):
    # The gold tokens split "lima" in two; the tokenizer's do not: the entity cannot align.
    ref = Doc(nlp.vocab, words=["fly", "to", "li", "ma"], spaces=[True, True, False, False])
    ref.set_ents([Span(ref, 2, 3, "TO")], default="outside")
    return Example(nlp.make_doc("fly to lima"), ref)


def overlapping_example(nlp):
    eg = make_examples(nlp, SENTENCES[:1], cats=False)[0]
    eg.reference.spans["sc"] = [Span(eg.reference, 2, 5, "TRIP"), Span(eg.reference, 4, 6, "LEG")]
    return eg


def invalid_bio_example(nlp):
    ref = nlp.make_doc("fly to lima now")
    # IOB codes: 1 = I, 2 = O, 3 = B. "lima" is I-TO after O.
    array = numpy.array([[2, 0], [2, 0], [1, nlp.vocab.strings.add("TO")], [2, 0]], dtype="uint64")
    ref.from_array([ENT_IOB, ENT_TYPE], array)
    return Example(nlp.make_doc(ref.text), ref)


@pytest.mark.parametrize(
    "check,level,make",
    [
        ("misaligned_entities", ERROR, misaligned_example),
        ("overlapping_spans", WARNING, overlapping_example),
        ("invalid_bio", ERROR, invalid_bio_example),
    ],
)
def test_entity_problems_name_their_documents(check, level, make):
    nlp, cats, ents, dev = clean()
    planted = make(nlp)
    result = run_checks(corpora(nlp, cats, ents + [planted], dev), rare=1)
    (finding,) = found(result, check, level)
    assert [(d.corpus, d.source, d.index) for d in finding.docs] == [("train", "ents", len(ents))]
    assert finding.docs[0].detail
    assert result["errors"] == (1 if level == ERROR else 0)


@pytest.mark.parametrize("task", ["cats", "ents"])
def test_the_same_text_with_different_annotations_is_a_conflict(task):
    nlp, cats, ents, dev = clean()
    text, intent, slots = SENTENCES[0]
    if task == "cats":
        other = make_examples(nlp, [(text, "weather", slots)], entities=False)
        cats = cats + other
    else:
        other = make_examples(nlp, [(text, intent, [("oslo", "TO")])], cats=False)
        ents = ents + other
    result = run_checks(corpora(nlp, cats, ents, dev), rare=1)
    (conflict,) = found(result, "conflicts", ERROR)
    assert conflict.task == task and {d.text for d in conflict.docs} == {text}
    assert len(conflict.docs) == 2


def test_dev_texts_also_in_training_are_warned():
    nlp, cats, ents, dev = clean()
    dev = dev + make_examples(nlp, SENTENCES[:2])
    (overlap,) = found(run_checks(corpora(nlp, cats, ents, dev), rare=1), "train_dev_overlap")
    assert overlap.level == WARNING and len(overlap.docs) == 2


def test_distillation_without_teacher_targets_is_an_error_and_with_them_info():
    nlp = build_nlp(distill_weight=0.5)
    nlp, cats, ents, dev = clean(nlp)
    (finding,) = found(run_checks(corpora(nlp, cats, ents, dev), rare=1), "teacher_targets")
    assert finding.level == ERROR and finding.data == {"with_targets": 0, "docs": len(cats)}
    for eg in cats:
        set_teacher_targets(eg.reference, cats={"flight": 0.2, "music": 0.3, "weather": 0.5})
    (finding,) = found(run_checks(corpora(nlp, cats, ents, dev), rare=1), "teacher_targets")
    assert finding.level == INFO


def _with_cats(nlp, text, cats):
    doc = nlp.make_doc(text)
    doc.cats = cats
    return Example(nlp.make_doc(text), doc)


def test_documents_with_no_positive_category_count_under_no_label_and_are_an_error():
    """All 0.0 or NaN: no intent. Before, each counted under the first label and nothing was
    flagged, though training, evaluate, calibrate and update refuse them."""
    nlp, cats, ents, dev = clean()
    nan = float("nan")
    planted = [
        _with_cats(nlp, "add a reminder", {"flight": 0.0, "music": 0.0, "weather": 0.0}),
        _with_cats(nlp, "remind me later", {"flight": nan, "music": nan, "weather": nan}),
    ]
    result = run_checks(corpora(nlp, cats + planted, ents, dev), rare=1)
    assert result["labels"]["cats"]["flight"] == {"train": 6, "dev": 2}
    (finding,) = found(result, "not_one_positive", ERROR)
    n = len(cats)
    assert [(d.source, d.index) for d in finding.docs] == [("cats", n), ("cats", n + 1)]
    assert f"train/cats (cats.spacy) documents {n}, {n + 1}" in finding.message
    assert "exactly one positive category" in finding.message
    (values,) = found(result, "category_values", ERROR)
    assert [d.index for d in values.docs] == [n + 1] and "NaN is not a category value" in (
        values.message
    )
    assert result["errors"] == 2


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e308, -1.0])
def test_multi_label_categories_that_are_no_value_name_the_document(value):
    nlp = build_nlp(exclusive_classes=False)
    nlp, cats, ents, dev = clean(nlp)
    planted = _with_cats(nlp, "play it loud", {"flight": 0.0, "music": value, "weather": 0.0})
    result = run_checks(corpora(nlp, cats + [planted], ents, dev), rare=1)
    (finding,) = found(result, "category_values", ERROR)
    assert [d.index for d in finding.docs] == [len(cats)] and "music=" in finding.docs[0].detail
    assert found(result, "not_one_positive") == [] and result["errors"] == 1


def test_two_positive_intents_under_exclusive_classes_are_an_error_counted_under_both():
    nlp, cats, ents, dev = clean()
    planted = _with_cats(nlp, "fly to jazz", {"flight": 1.0, "music": 1.0, "weather": 0.0})
    result = run_checks(corpora(nlp, cats + [planted], ents, dev), rare=1)
    (finding,) = found(result, "not_one_positive", ERROR)
    assert finding.docs[0].detail == "2 positive: ['flight', 'music']"
    assert result["labels"]["cats"]["music"]["train"] == 7
