"""The update's prior correction: the log-ratio of the two label distributions, centred, added
to the classifier's output bias, so that every pair of intents' log-odds moves by exactly the
difference of their shifts and nothing else changes."""

import math

import numpy
import pytest
import spacy
from conftest import HELD_OUT, INTENTS
from spacy.tokens import Doc

from spacy_mtl.update.prior import adjust_prior, label_counts, prior_shift


def docs_with(vocab, counts, labels):
    docs = []
    for label, n in counts.items():
        for _ in range(n):
            doc = Doc(vocab, words=["x"])
            doc.cats = {other: float(other == label) for other in labels}
            docs.append(doc)
    return docs


def test_the_shift_is_the_centred_log_ratio_of_the_priors():
    vocab = spacy.blank("en").vocab
    labels = ["flight", "fare", "alarm", "unseen"]
    # The update trained on 50 old and 50 new documents; the data it is meant for has 400 old.
    trained = docs_with(vocab, {"flight": 40, "fare": 10, "alarm": 50}, labels)
    meant = docs_with(vocab, {"flight": 320, "fare": 80, "alarm": 50}, labels)
    unlabelled = Doc(vocab, words=["y"])  # no cats: counted nowhere
    shift = prior_shift(labels, trained + [unlabelled], meant + [unlabelled])
    assert set(shift) == {"flight", "fare", "alarm"}  # "unseen": in neither, not moved
    raw = {
        "flight": math.log((320 / 450) / (40 / 100)),
        "fare": math.log((80 / 450) / (10 / 100)),
        "alarm": math.log((50 / 450) / (50 / 100)),
    }
    mean = sum(raw.values()) / 3
    for label, value in raw.items():
        assert shift[label] == pytest.approx(value - mean)
    # flight against the oversampled alarm: 6.4 times as frequent where the pipeline is meant
    # for, 0.8 times in the update's documents; its log-odds rise by log(6.4 / 0.8) = log 8.
    assert shift["flight"] - shift["alarm"] == pytest.approx(math.log(8.0))
    assert label_counts(trained, labels) == {"flight": 40, "fare": 10, "alarm": 50}


def test_the_bias_moves_every_log_odds_by_the_shift(served_pipeline):
    nlp = spacy.load(served_pipeline)
    head = nlp.get_pipe("mtl_textcat")
    texts = [text for text, *_ in HELD_OUT]
    before = [dict(doc.cats) for doc in nlp.pipe(texts)]
    shift = {INTENTS[0]: 1.5, INTENTS[1]: -0.5}
    adjust_prior(head, shift)
    after = [dict(doc.cats) for doc in nlp.pipe(texts)]
    moved = {label: shift.get(label, 0.0) for label in head.labels}
    for b, a in zip(before, after):
        for x in head.labels:
            for y in head.labels:
                change = math.log(a[x] / a[y]) - math.log(b[x] / b[y])
                assert change == pytest.approx(moved[x] - moved[y], abs=1e-4)
    # The shift is stored with the pipeline: it is the output layer's own bias.
    bias = numpy.asarray(head.model.get_ref("output_layer").get_param("b"))
    reloaded = spacy.load(served_pipeline).get_pipe("mtl_textcat")
    old_bias = numpy.asarray(reloaded.model.get_ref("output_layer").get_param("b"))
    assert bias - old_bias == pytest.approx([moved[label] for label in head.labels], abs=1e-6)
