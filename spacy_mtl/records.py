"""A predicted document as a plain record: what `serve` answers and `annotate` writes.

One shape for every tool that hands predictions to another program::

    {"text": "fly to oslo", "intent": "book_flight",
     "cats": {"book_flight": 0.97, "weather": 0.03},
     "entities": [{"start": 7, "end": 11, "label": "to_city", "text": "oslo"}]}

Offsets count characters in ``text`` (Python string indices, end exclusive), so
``text[start:end] == entity["text"]``, whatever the tokenizer did.

`Record` and `Entity` are the one declaration of that shape: annotate's JSONL
lines and Arrow schema and the service's response models are derived from
them. A new field is declared here and given its value in `doc_to_record`
(and its empty value in annotate's `error_record`, for rows not annotated). A
field's ``Annotated`` string is its description in the service's OpenAPI schema.
"""

from typing import Annotated, Dict, List, Optional, Tuple, TypedDict

from spacy.tokens import Doc


class Entity(TypedDict):
    """One entity of a record, with character offsets into the text."""

    start: Annotated[int, "character offset of the first character"]
    end: Annotated[int, "character offset after the last character"]
    label: str
    text: str


class Record(TypedDict):
    """A predicted document: its text, intent, category scores and entities."""

    text: str
    intent: Annotated[Optional[str], "the highest-scoring category"]
    cats: Annotated[Dict[str, float], "every category's score"]
    entities: List[Entity]


# The record's fields, in the order every writer keeps.
RECORD_FIELDS: Tuple[str, ...] = tuple(Record.__annotations__)


def doc_to_record(doc: Doc) -> Record:
    """The text, intent, category scores and entities of a predicted document.

    doc (Doc): A document the pipeline has processed.
    RETURNS (Record): "text"; "intent", the highest-scoring category (None
        when the document has no categories); "cats", every category's score as a
        float; "entities", one {"start", "end", "label", "text"} per entity, with
        character offsets.
    """
    cats = {label: float(score) for label, score in doc.cats.items()}
    intent: Optional[str] = max(cats, key=cats.__getitem__) if cats else None
    entities = [
        Entity(start=ent.start_char, end=ent.end_char, label=ent.label_, text=ent.text)
        for ent in doc.ents
    ]
    return Record(text=doc.text, intent=intent, cats=cats, entities=entities)
