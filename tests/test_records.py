"""spacy_mtl.records: a predicted document as the record `serve` answers and `annotate` writes."""

import pickle

import pytest
import spacy
from spacy.tokens import Span

from spacy_mtl.pipeline.intent_confidence import set_intent_state
from spacy_mtl.records import RECORD_FIELDS, Record, doc_to_record


def test_record_has_the_intent_scores_and_character_offsets():
    nlp = spacy.blank("en")
    doc = nlp("Fly  from Zürich to São Paulo!")
    doc.cats = {"weather": 0.1, "flight": 0.85, "music": 0.05}
    # Tokens: Fly, " ", from, Zürich, to, São, Paulo, !
    doc.ents = [Span(doc, 3, 4, label="from_city"), Span(doc, 5, 7, label="to_city")]
    record = doc_to_record(doc)
    confidences = [e.pop("confidence") for e in record["entities"]]
    assert record == {
        "text": "Fly  from Zürich to São Paulo!",
        "intent": "flight",
        "intent_confidence": 0.85,
        "out_of_scope": False,
        "cats": {"weather": 0.1, "flight": 0.85, "music": 0.05},
        "entities": [
            {"start": 10, "end": 16, "label": "from_city", "text": "Zürich"},
            {"start": 20, "end": 29, "label": "to_city", "text": "São Paulo"},
        ],
    }
    # Without Span._.confidence (or one the pipeline did not set) an entity's confidence is None.
    assert all(c is None or 0.0 <= c <= 1.0 for c in confidences)
    for entity in record["entities"]:
        assert record["text"][entity["start"] : entity["end"]] == entity["text"]
    assert all(type(score) is float for score in record["cats"].values())


def test_record_without_categories_or_entities():
    doc = spacy.blank("en")("hello there")
    assert doc_to_record(doc) == {
        "text": "hello there",
        "intent": None,
        "intent_confidence": None,
        "out_of_scope": False,
        "cats": {},
        "entities": [],
    }


def test_a_rejected_document_has_the_out_of_scope_intent_and_keeps_its_cats():
    doc = spacy.blank("en")("what is the meaning of life")
    doc.cats = {"flight": 0.55, "music": 0.45}
    set_intent_state(doc, "out_of_scope", 0.12, True)
    record = doc_to_record(doc)
    assert record["intent"] == "out_of_scope" == doc._.intent
    assert record["out_of_scope"] is True and record["intent_confidence"] == pytest.approx(0.12)
    assert record["cats"] == {"flight": 0.55, "music": 0.45}
    # The verdict travels with the Doc (nlp.pipe(n_process=2) sends docs as bytes).
    copy = pickle.loads(pickle.dumps(doc))
    assert (copy._.intent, copy._.out_of_scope) == ("out_of_scope", True)
    assert doc_to_record(copy) == record


def test_entity_confidence_comes_from_the_span_attribute():
    doc = spacy.blank("en")("fly to oslo")
    doc.ents = [Span(doc, 2, 3, label="to_city")]
    if not Span.has_extension("confidence"):
        Span.set_extension("confidence", default=None)
    doc.ents[0]._.confidence = None
    assert doc_to_record(doc)["entities"][0]["confidence"] is None
    span = doc.ents[0]
    try:
        span._.confidence = 0.875
    except (AttributeError, TypeError):  # a getter-only attribute: its value comes from the CRF
        pytest.skip("Span._.confidence is computed by mtl_ner, not settable")
    assert doc_to_record(doc)["entities"][0]["confidence"] == 0.875


def test_a_record_has_the_declared_fields_in_order():
    record = doc_to_record(spacy.blank("en")("hi"))
    assert tuple(record) == RECORD_FIELDS == tuple(Record.__annotations__)
    assert RECORD_FIELDS[:5] == ("text", "intent", "intent_confidence", "out_of_scope", "cats")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_score_that_is_not_a_number_gives_no_record(bad):
    """Before: NaN cats made a record with the first label as intent (and bare NaN in JSON)."""
    from spacy_mtl.records import NonFinitePrediction

    doc = spacy.blank("en")("fly to oslo")
    doc.cats = {"flight": bad, "music": 0.2}
    with pytest.raises(NonFinitePrediction, match=r"not a number.*cats\['flight'\]") as err:
        doc_to_record(doc)
    assert "cats['flight']" in err.value.scores and "cats['music']" not in err.value.scores
    doc.cats = {"flight": 0.8, "music": 0.2}
    set_intent_state(doc, "out_of_scope", bad, True)
    with pytest.raises(NonFinitePrediction) as err:
        doc_to_record(doc)
    assert err.value.scores == ["intent_confidence"]
