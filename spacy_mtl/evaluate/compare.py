"""Two systems on the same corpus: where their predictions differ, and which one is right."""

from typing import Any, Dict, List, Sequence

from spacy.tokens import Doc

from ..annotation import has_cats, has_ents
from .browse import describe
from .scoring import System


def _decision(doc: Doc, system: System) -> Any:
    """What a system decided on a document: its intents and its entities by characters."""
    cats = doc.cats
    if system.multi_label:
        intents = tuple(sorted(k for k, v in cats.items() if v >= system.threshold))
    else:
        intents = (max(cats, key=cats.get),) if cats else ()
    ents = tuple((e.label_, e.start_char, e.end_char) for e in doc.ents)
    return intents, ents


def differences(first: System, second: System, references: Sequence[Doc]) -> List[Dict]:
    """The documents on which the two systems decide differently, each as both see it.

    RETURNS (List[Dict]): {"index", "text", "pipeline": record, "compare": record}, with
        the records of `browse.describe` (intents, slot errors, renderings).
    """
    found = []
    first_egs, second_egs = first.examples(references), second.examples(references)
    for i, ref in enumerate(references):
        if not (has_cats(ref) or has_ents(ref)):
            continue
        if _decision(first.predicted[i], first) == _decision(second.predicted[i], second):
            continue
        found.append(
            {
                "index": i,
                "text": ref.text,
                first.name: _record(i, first_egs[i], first),
                second.name: _record(i, second_egs[i], second),
            }
        )
    return found


def _record(i: int, eg, system: System) -> Dict[str, Any]:
    cats = system.scores.get("cats_acc", None) is not None or "cats_support" in system.scores
    ents = "slot_errors" in system.scores
    return describe(i, eg, system.multi_label, system.threshold, cats, ents)
