"""Growing trained heads for new labels: every old weight and every old prediction kept."""

import numpy
import pytest
import spacy
from conftest import HELD_OUT, SENTENCES, build_nlp, make_examples
from spacy.tokens import Doc

from spacy_mtl.ml.tagger import crf_module
from spacy_mtl.update.growth import (
    LabelCollisionError,
    check_label_case,
    grow_ner,
    grow_textcat,
)


def _weights(nlp):
    textcat, ner = nlp.get_pipe("mtl_textcat"), nlp.get_pipe("mtl_ner")
    crf = crf_module(ner.model)
    return {
        "cats_W": textcat.model.get_ref("output_layer").get_param("W").copy(),
        "cats_b": textcat.model.get_ref("output_layer").get_param("b").copy(),
        "tags_W": ner.model.get_ref("output_layer").get_param("W").copy(),
        "tags_b": ner.model.get_ref("output_layer").get_param("b").copy(),
        "transitions": crf.transitions.detach().numpy().copy(),
        "start": crf.start_transitions.detach().numpy().copy(),
        "end": crf.end_transitions.detach().numpy().copy(),
    }


def _predict(nlp):
    texts = [text for text, _, _ in SENTENCES + HELD_OUT]
    docs = list(nlp.pipe(texts))
    return [(dict(d.cats), [(e.start, e.end, e.label_) for e in d.ents]) for d in docs]


def _assert_same_predictions(before, after, old_labels):
    """Same intent and entities; old labels' probabilities the same once renormalised."""
    for (cats0, ents0), (cats1, ents1) in zip(before, after):
        assert ents1 == ents0
        assert max(cats1, key=cats1.get) == max(cats0, key=cats0.get)
        old = numpy.array([cats1[label] for label in old_labels])
        numpy.testing.assert_allclose(
            old / old.sum(), [cats0[label] for label in old_labels], atol=1e-5
        )
        assert sum(p for label, p in cats1.items() if label not in old_labels) < 1e-3


def test_growth_keeps_every_weight_and_prediction(served_pipeline, tmp_path):
    nlp = spacy.load(served_pipeline)
    before, weights = _predict(nlp), _weights(nlp)
    old_cats = list(nlp.get_pipe("mtl_textcat").labels)
    old_ents = list(nlp.get_pipe("mtl_ner").labels)
    assert grow_textcat(nlp.get_pipe("mtl_textcat"), ["flight", "alarm", "timer"]) == [
        "alarm",
        "timer",
    ]
    assert grow_ner(nlp.get_pipe("mtl_ner"), ["TIME", "DATE"]) == ["TIME"]
    assert list(nlp.get_pipe("mtl_textcat").labels) == old_cats + ["alarm", "timer"]
    assert list(nlp.get_pipe("mtl_ner").labels) == old_ents + ["TIME"]
    grown = _weights(nlp)
    n_cats, n_tags = len(old_cats), 1 + 2 * len(old_ents)
    for key, rows in (("cats", n_cats), ("tags", n_tags)):
        assert numpy.array_equal(grown[f"{key}_W"][:rows], weights[f"{key}_W"])
        assert numpy.array_equal(grown[f"{key}_b"][:rows], weights[f"{key}_b"])
        assert grown[f"{key}_W"].shape[0] == rows + (2 if key == "cats" else 2)
        assert not grown[f"{key}_W"][rows:].any()
    assert numpy.array_equal(grown["transitions"][:n_tags, :n_tags], weights["transitions"])
    assert numpy.array_equal(grown["start"][:n_tags], weights["start"])
    assert numpy.array_equal(grown["end"][:n_tags], weights["end"])
    # The CRF's BIO constraints follow: I-TIME only after B-TIME or I-TIME.
    crf = crf_module(nlp.get_pipe("mtl_ner").model)
    assert crf.n_tags == n_tags + 2
    assert crf.start_penalty[n_tags + 1] < 0 and crf.transition_penalty[0, n_tags + 1] < 0
    assert crf.transition_penalty[n_tags, n_tags + 1] == 0
    _assert_same_predictions(before, _predict(nlp), old_cats)
    # Saved and loaded, the grown pipeline predicts the same and passes its load checks.
    nlp.to_disk(tmp_path / "grown")
    _assert_same_predictions(before, _predict(spacy.load(tmp_path / "grown")), old_cats)


def test_growth_of_a_recogniser_conditioned_on_the_intent():
    """The intent-context features get the new intents' columns, with zero weights."""
    nlp = build_nlp(order=("mtl_textcat",))
    listener = {"@architectures": "spacy_mtl.SharedTok2VecListener.v1", "width": 32}
    nlp.add_pipe("mtl_ner", config={"model": {"tok2vec": listener, "context": "mtl_textcat"}})
    nlp.config["training"]["annotating_components"] = ["mtl_textcat"]
    examples = make_examples(nlp, SENTENCES)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(8):
        nlp.update(examples, sgd=optimizer, annotates=["mtl_textcat"])
    before = _predict(nlp)
    textcat, ner = nlp.get_pipe("mtl_textcat"), nlp.get_pipe("mtl_ner")
    old_cats = list(textcat.labels)
    grow_textcat(textcat, ["alarm"])
    grow_ner(ner, ["TIME"], context_labels=list(textcat.labels))
    features = [n for n in ner.model.walk() if n.name == "doc_cats_features"][0]
    assert features.attrs["labels"] == old_cats + ["alarm"]
    assert ner.model.get_ref("output_layer").get_dim("nI") == 32 + len(old_cats) + 1
    _assert_same_predictions(before, _predict(nlp), old_cats)


@pytest.mark.parametrize(
    "old,new,clash",
    [
        (["flight", "music"], ["Flight"], "'Flight' differs from an existing label, 'flight'"),
        (["flight"], ["alarm", "ALARM"], "'ALARM' differs from another new label, 'alarm'"),
    ],
)
def test_labels_that_differ_in_case_only_are_refused(old, new, clash):
    with pytest.raises(LabelCollisionError, match=clash):
        check_label_case(old, new, "mtl_textcat", "new.spacy")
    check_label_case(old, [f"{label}_{i}" for i, label in enumerate(new)], "mtl_textcat", "x")


def test_growth_needs_no_new_label():
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: examples)
    doc = nlp(Doc(nlp.vocab, words=["play", "jazz"]))
    assert grow_textcat(nlp.get_pipe("mtl_textcat"), ["music"]) == []
    assert grow_ner(nlp.get_pipe("mtl_ner"), ["DATE"]) == []
    assert nlp(Doc(nlp.vocab, words=["play", "jazz"])).cats == doc.cats
