"""The scorers: each task judged on its annotated documents, and the joint sentence accuracy
judged by the same rules as the two task scores it combines."""

import pytest
import spacy
from spacy.tokens import Span
from spacy.training import Example

from spacy_mtl.scorers import score_cats, score_ents

TEXT = "fly from oslo to lima"


def _example(gold_cats, pred_cats, *, gold_tags=None, pred_ents=()):
    """An example of TEXT: gold categories and BILUO tags ("-": missing), and predictions.

    pred_ents (Iterable[Tuple[int, int, str]]): Predicted entities as token start, end, label.
    """
    nlp = spacy.blank("en")
    tags = gold_tags or ["O", "O", "U-FROM", "O", "U-TO"]
    reference = {"cats": gold_cats, "entities": tags}
    eg = Example.from_dict(nlp.make_doc(TEXT), reference)
    eg.predicted.cats = dict(pred_cats)
    eg.predicted.ents = [Span(eg.predicted, s, e, label=label) for s, e, label in pred_ents]
    return eg


RIGHT_ENTS = [(2, 3, "FROM"), (4, 5, "TO")]


@pytest.mark.parametrize(
    "gold,pred,threshold,right",
    [
        # the exact gold set, though the top predicted label is not the first gold one
        (
            {"flight": 1.0, "fare": 1.0, "music": 0.0},
            {"flight": 0.8, "fare": 0.9, "music": 0.1},
            0.5,
            True,
        ),
        # the top label right, but a negative label predicted too
        ({"flight": 1.0, "fare": 0.0}, {"flight": 0.9, "fare": 0.7}, 0.5, False),
        # "fare" is absent from the gold cats: masked, so its prediction does not count
        ({"flight": 1.0}, {"flight": 0.9, "fare": 0.95}, 0.5, True),
        # the threshold in use decides the predicted set
        ({"flight": 1.0, "fare": 1.0}, {"flight": 0.9, "fare": 0.4}, 0.3, True),
        ({"flight": 1.0, "fare": 1.0}, {"flight": 0.9, "fare": 0.4}, 0.5, False),
    ],
)
def test_joint_sentence_accuracy_takes_multi_label_sets_at_the_threshold(
    gold, pred, threshold, right
):
    eg = _example(gold, pred, pred_ents=RIGHT_ENTS)
    scores = score_cats([eg], labels=sorted(pred), multi_label=True, threshold=threshold)
    assert scores["cats_acc"] == float(right)
    assert scores["joint_sentence_acc"] == float(right)


def test_joint_sentence_accuracy_exclusive_is_the_top_label():
    gold = {"flight": 1.0, "music": 0.0}
    right = _example(gold, {"flight": 0.7, "music": 0.3}, pred_ents=RIGHT_ENTS)
    wrong = _example(gold, {"flight": 0.3, "music": 0.7}, pred_ents=RIGHT_ENTS)
    scores = score_cats([right, wrong], labels=["flight", "music"])
    assert scores["cats_acc"] == scores["joint_sentence_acc"] == 0.5


def test_joint_sentence_accuracy_ignores_entities_predicted_on_missing_tokens():
    """The token "fly" is unannotated (ent_iob 0): the entity scorer ignores a prediction
    there, and so does the sentence accuracy; a wrong one on annotated tokens still counts."""
    tags = ["-", "O", "U-FROM", "O", "U-TO"]
    gold = {"flight": 1.0, "music": 0.0}
    pred = {"flight": 0.9, "music": 0.1}
    on_missing = _example(gold, pred, gold_tags=tags, pred_ents=[(0, 1, "TO")] + RIGHT_ENTS)
    assert on_missing.reference[0].ent_iob == 0
    on_outside = _example(gold, pred, gold_tags=tags, pred_ents=[(1, 2, "TO")] + RIGHT_ENTS)
    for eg, right in ((on_missing, True), (on_outside, False)):
        ents = score_ents([eg])
        assert (ents["ents_p"] == 1.0) == right
        scores = score_cats([eg], labels=["flight", "music"])
        assert scores["joint_sentence_acc"] == float(right)


def test_joint_sentence_accuracy_counts_a_missed_entity():
    eg = _example({"flight": 1.0, "music": 0.0}, {"flight": 0.9}, pred_ents=RIGHT_ENTS[:1])
    assert score_ents([eg])["ents_r"] < 1.0
    assert score_cats([eg], labels=["flight", "music"])["joint_sentence_acc"] == 0.0
