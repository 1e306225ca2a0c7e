"""Slot errors by kind, on hand-made documents, against spaCy's own entity counts."""

import spacy
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_mtl.evaluate.slot_errors import classify, slot_error_counts


def example():
    nlp = spacy.blank("en")
    words = "a b c d e f g h".split()
    # Token h carries no gold annotation: a prediction there is neither right nor wrong.
    gold = Doc(nlp.vocab, words=words, ents=["O", "B-X", "B-Y", "I-Y", "O", "B-Z", "B-W", None])
    pred = Doc(nlp.vocab, words=words)
    pred.set_ents(
        [
            Span(pred, 0, 1, "X"),  # spurious
            Span(pred, 1, 2, "Q"),  # gold X: wrong type
            Span(pred, 2, 3, "Y"),  # gold Y is c d: wrong boundary
            Span(pred, 4, 6, "Q"),  # gold Z is f: wrong type and boundary
            Span(pred, 7, 8, "X"),  # on the unannotated token: not counted
        ]
    )
    return Example(pred, gold)


def test_each_kind_is_found_once():
    kinds = sorted(kind for kind, _, _ in classify(example()))
    assert kinds == [
        "missed",
        "spurious",
        "wrong_boundary",
        "wrong_type",
        "wrong_type_and_boundary",
    ]


def test_gold_side_errors_are_the_scorers_false_negatives_and_all_errors_its_false_positives():
    eg = example()
    counts = slot_error_counts([eg])
    per_type = get_ner_prf([eg])["ents_per_type"]
    errors = counts["slot_errors"]
    # spaCy's per-type scores: recall 0 on every gold type, no true positive anywhere.
    assert all(per_type[label]["r"] == 0.0 for label in ("X", "Y", "Z", "W"))
    gold_side = errors["wrong_type"] + errors["wrong_boundary"]
    gold_side += errors["wrong_type_and_boundary"] + errors["missed"]
    assert gold_side == 4  # the four gold entities, none predicted exactly
    # Four predictions are counted (the one on the unannotated token is not): all wrong.
    assert per_type["Q"]["p"] == 0.0 and per_type["X"]["p"] == 0.0
    assert counts["ents_support"] == {"W": 1, "X": 1, "Y": 1, "Z": 1}
    assert counts["slot_errors_per_type"]["X"] == {"wrong_type": 1, "spurious": 1}
