"""A predicted document as a plain record: what `serve` answers and `annotate` writes.

One shape for every tool that hands predictions to another program::

    {"text": "fly to oslo", "intent": "book_flight",
     "cats": {"book_flight": 0.97, "weather": 0.03},
     "entities": [{"start": 7, "end": 11, "label": "to_city", "text": "oslo"}]}

Offsets count characters in ``text`` (Python string indices, end exclusive), so
``text[start:end] == entity["text"]``, whatever the tokenizer did.
"""

from typing import Any, Dict, Optional

from spacy.tokens import Doc


def doc_to_record(doc: Doc) -> Dict[str, Any]:
    """The text, intent, category scores and entities of a predicted document.

    doc (Doc): A document the pipeline has processed.
    RETURNS (Dict[str, Any]): "text"; "intent", the highest-scoring category (None
        when the document has no categories); "cats", every category's score as a
        float; "entities", one {"start", "end", "label", "text"} per entity, with
        character offsets.
    """
    cats = {label: float(score) for label, score in doc.cats.items()}
    intent: Optional[str] = max(cats, key=cats.__getitem__) if cats else None
    entities = [
        {"start": ent.start_char, "end": ent.end_char, "label": ent.label_, "text": ent.text}
        for ent in doc.ents
    ]
    return {"text": doc.text, "intent": intent, "cats": cats, "entities": entities}
