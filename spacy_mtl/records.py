"""A predicted document as a plain record: what `serve` answers and `annotate` writes.

One shape for every tool that hands predictions to another program::

    {"text": "fly to oslo", "intent": "book_flight", "intent_confidence": 0.97,
     "out_of_scope": false, "cats": {"book_flight": 0.97, "weather": 0.03},
     "entities": [{"start": 7, "end": 11, "label": "to_city", "text": "oslo",
                   "confidence": 0.93}]}

Offsets count characters in ``text`` (Python string indices, end exclusive), so
``text[start:end] == entity["text"]``, whatever the tokenizer did.

`Record` and `Entity` are the one declaration of that shape: annotate's JSONL
lines and Arrow schema and the service's response models are derived from
them. A new field is declared here and given its value in `doc_to_record`
(and its empty value in annotate's `error_record`, for rows not annotated). A
field's ``Annotated`` string is its description in the service's OpenAPI schema.

Every score of a record is a finite number: a document whose predictions are NaN or
infinite (a pipeline whose weights are broken) has no record, and `doc_to_record`
raises `NonFinitePrediction` naming the scores, which each command reports as that
document's error. Strict JSON cannot hold NaN, and a NaN category made the first
label the intent.
"""

import math
from typing import Annotated, Dict, List, Optional, Tuple, TypedDict

from spacy.tokens import Doc, Span


class Entity(TypedDict):
    """One entity of a record, with character offsets into the text."""

    start: Annotated[int, "character offset of the first character"]
    end: Annotated[int, "character offset after the last character"]
    label: str
    text: str
    confidence: Annotated[
        Optional[float],
        "the probability that exactly these tokens form one entity of this label "
        "(Span._.confidence, calibrated by calibrate); null when the pipeline gives none",
    ]


class Record(TypedDict):
    """A predicted document: its text, intent, category scores and entities."""

    text: str
    intent: Annotated[
        Optional[str],
        "the highest-scoring category, or the out-of-scope label (default out_of_scope) when "
        "the calibrated pipeline rejects the text (Doc._.intent)",
    ]
    intent_confidence: Annotated[
        Optional[float],
        "the confidence in the intent, in [0, 1]: the calibrated top probability, or the "
        "out-of-scope score's rank among in-scope dev texts (Doc._.intent_confidence)",
    ]
    out_of_scope: Annotated[
        bool, "whether the text was rejected as out of scope (Doc._.out_of_scope)"
    ]
    cats: Annotated[Dict[str, float], "every category's score"]
    entities: List[Entity]


# The record's fields, in the order every writer keeps.
RECORD_FIELDS: Tuple[str, ...] = tuple(Record.__annotations__)


class NonFinitePrediction(ValueError):
    """A document whose predicted scores are not all numbers (NaN or infinite).

    scores (List[str]): The scores that are not, e.g. ["cats['flight']", "intent_confidence"].
    """

    def __init__(self, scores: List[str]):
        self.scores = list(scores)
        shown = ", ".join(self.scores[:6]) + (" and more" if len(self.scores) > 6 else "")
        super().__init__(
            f"the prediction is not a number (NaN or infinite): {shown}. The pipeline's "
            "weights may be broken (a training that diverged): retrain it."
        )


def doc_to_record(doc: Doc) -> Record:
    """The text, intent, category scores and entities of a predicted document.

    doc (Doc): A document the pipeline has processed.
    RETURNS (Record): "text"; "intent", Doc._.intent: the highest-scoring
        category, or the out-of-scope label when a calibrated pipeline rejects the
        document (None when the document has no categories); "intent_confidence"
        and "out_of_scope" (spacy_mtl/pipeline/intent_confidence.py); "cats",
        every category's score as a float; "entities", one {"start", "end",
        "label", "text", "confidence"} per entity, with character offsets.
    RAISES (NonFinitePrediction): Where a score is NaN or infinite.
    """
    cats = {label: float(score) for label, score in doc.cats.items()}
    if Doc.has_extension("intent"):
        intent, confidence = doc._.intent, _float(doc._.intent_confidence)
        out_of_scope = bool(doc._.out_of_scope)
    else:  # spacy_mtl's heads never ran in this process: the plain top category
        intent = max(cats, key=cats.__getitem__) if cats else None
        confidence, out_of_scope = (max(cats.values()) if cats else None), False
    with_confidence = Span.has_extension("confidence")
    entities = [
        Entity(
            start=ent.start_char,
            end=ent.end_char,
            label=ent.label_,
            text=ent.text,
            confidence=_float(ent._.confidence) if with_confidence else None,
        )
        for ent in doc.ents
    ]
    record = Record(
        text=doc.text,
        intent=intent,
        intent_confidence=confidence,
        out_of_scope=out_of_scope,
        cats=cats,
        entities=entities,
    )
    problems = non_finite_scores(record)
    if problems:
        raise NonFinitePrediction(problems)
    return record


def non_finite_scores(record: Record) -> List[str]:
    """The scores of a record that are not finite numbers (NaN, infinite).

    record (Record): What doc_to_record builds.
    RETURNS (List[str]): Each such score by name: "cats['label']", "intent_confidence",
        "entities[i].confidence"; empty when every score is a number.
    """
    found = [f"cats[{label!r}]" for label, score in record["cats"].items() if not _finite(score)]
    if not _finite(record["intent_confidence"]):
        found.append("intent_confidence")
    found += [
        f"entities[{i}].confidence"
        for i, entity in enumerate(record["entities"])
        if not _finite(entity["confidence"])
    ]
    return found


def _finite(value: Optional[float]) -> bool:
    return value is None or math.isfinite(value)


def _float(value: Optional[float]) -> Optional[float]:
    return None if value is None else float(value)
