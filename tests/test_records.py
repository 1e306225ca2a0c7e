"""spacy_mtl.records: a predicted document as the record `serve` answers and `annotate` writes."""

import spacy
from spacy.tokens import Span

from spacy_mtl.records import RECORD_FIELDS, Record, doc_to_record


def test_record_has_the_intent_scores_and_character_offsets():
    nlp = spacy.blank("en")
    doc = nlp("Fly  from Zürich to São Paulo!")
    doc.cats = {"weather": 0.1, "flight": 0.85, "music": 0.05}
    # Tokens: Fly, " ", from, Zürich, to, São, Paulo, !
    doc.ents = [Span(doc, 3, 4, label="from_city"), Span(doc, 5, 7, label="to_city")]
    record = doc_to_record(doc)
    assert record == {
        "text": "Fly  from Zürich to São Paulo!",
        "intent": "flight",
        "cats": {"weather": 0.1, "flight": 0.85, "music": 0.05},
        "entities": [
            {"start": 10, "end": 16, "label": "from_city", "text": "Zürich"},
            {"start": 20, "end": 29, "label": "to_city", "text": "São Paulo"},
        ],
    }
    for entity in record["entities"]:
        assert record["text"][entity["start"] : entity["end"]] == entity["text"]
    assert all(type(score) is float for score in record["cats"].values())


def test_record_without_categories_or_entities():
    doc = spacy.blank("en")("hello there")
    assert doc_to_record(doc) == {"text": "hello there", "intent": None, "cats": {}, "entities": []}


def test_a_record_has_the_declared_fields_in_order():
    record = doc_to_record(spacy.blank("en")("hi"))
    assert tuple(record) == RECORD_FIELDS == tuple(Record.__annotations__)
