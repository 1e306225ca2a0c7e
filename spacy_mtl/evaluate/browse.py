"""The sentences a system gets wrong, or on which two systems differ, for the error browser.

Each record carries the gold and predicted intents, the slot errors by kind and
the slot types involved (what the page filters on), and both documents drawn by
displaCy (which escapes their text).
"""

import zlib
from html import escape
from typing import Any, Dict, List, Sequence

from spacy import displacy
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import has_cats, has_ents
from ..scorers import cats_right
from .intents import gold_intents, predicted_intents
from .slot_errors import classify


def error_records(
    examples: Sequence[Example], multi_label: bool, threshold: float, cats: bool, ents: bool
) -> List[Dict[str, Any]]:
    """One record per document with a wrong intent or a slot error, in corpus order."""
    records = []
    for i, eg in enumerate(examples):
        record = describe(i, eg, multi_label, threshold, cats, ents)
        if record["intent_wrong"] or record["slot_errors"]:
            records.append(record)
    return records


def describe(
    index: int, eg: Example, multi_label: bool, threshold: float, cats: bool, ents: bool
) -> Dict[str, Any]:
    """What the browser shows of one document: intents, slot errors, both renderings."""
    scored_cats = cats and has_cats(eg.reference)
    scored_ents = ents and has_ents(eg.reference)
    errors = classify(eg) if scored_ents else []
    slot_types = sorted({(gold or pred)[0] for _, gold, pred in errors})
    return {
        "index": index,
        "text": eg.reference.text,
        "gold_intents": list(gold_intents(eg, multi_label)) if scored_cats else [],
        "predicted_intents": list(predicted_intents(eg, multi_label, threshold))
        if scored_cats
        else [],
        "intent_wrong": scored_cats and not cats_right(eg, multi_label, threshold),
        "slot_errors": [
            {"kind": kind, "gold": _span(eg.y, gold), "predicted": _span(eg.y, pred)}
            for kind, gold, pred in errors
        ],
        "slot_types": slot_types,
        "gold_html": render(eg.reference) if scored_ents else "",
        "predicted_html": render(eg.predicted) if ents else "",
    }


def _span(doc: Doc, ent) -> Any:
    if ent is None:
        return None
    label, start, end = ent
    return {"label": label, "text": doc[start:end].text, "start": start, "end": end}


def render(doc: Doc) -> str:
    """The document's entities drawn by displaCy, as a fragment (escaped by displaCy)."""
    if not doc.ents:
        # displaCy warns of a document without entities; the text alone says the same.
        return f'<div class="entities">{escape(doc.text)}</div>'
    colors = {ent.label_: label_color(ent.label_) for ent in doc.ents}
    return displacy.render(doc, style="ent", page=False, jupyter=False, options={"colors": colors})


def label_color(label: str) -> str:
    """A pale colour of its own for each slot type, the same on every page (crc32 of the name);
    displaCy draws labels it does not know all in one grey."""
    return f"hsl({zlib.crc32(label.encode('utf8')) % 360},70%,82%)"
