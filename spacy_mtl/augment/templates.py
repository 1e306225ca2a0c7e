"""Templates and slot values: what a training corpus offers for new sentences."""

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from spacy.tokens import Doc

from ..annotation import has_ents

# A run of tokens: each token's text and whether a space follows it.
Tokens = Tuple[Tuple[str, bool], ...]
# Which sentences share slot values: their positive intents, () when the intent is missing.
IntentKey = Tuple[str, ...]


@dataclass(frozen=True)
class Template:
    """A sentence cut at its slots: text runs between (label, value) slots.

    parts (Tuple): Tokens for text, or (label, Tokens) for a slot, in order.
    intent (IntentKey): The sentence's positive categories.
    cats (Tuple[Tuple[str, float], ...]): Its categories as they were, for the new sentences.
    """

    parts: tuple
    intent: IntentKey
    cats: Tuple[Tuple[str, float], ...]

    def slots(self) -> List[str]:
        """The slot labels, in order."""
        return [part[0] for part in self.parts if isinstance(part[0], str)]


def intent_key(doc: Doc) -> IntentKey:
    """The labels a document's categories mark positive (0.5 or more)."""
    return tuple(sorted(label for label, value in doc.cats.items() if value >= 0.5))


def make_template(doc: Doc) -> Optional[Template]:
    """The document as a template, or None when it cannot be one.

    It must be annotated for entities on every token (a token without annotation
    could be an unmarked slot) and have at least one entity to swap.
    """
    if not doc.ents or not all(token.ent_iob != 0 for token in doc):
        return None
    parts: list = []
    start = 0
    for ent in doc.ents:
        if ent.start > start:
            parts.append(_tokens(doc[start : ent.start]))
        parts.append((ent.label_, _tokens(ent)))
        start = ent.end
    if start < len(doc):
        parts.append(_tokens(doc[start:]))
    cats = tuple(sorted(doc.cats.items()))
    return Template(tuple(parts), intent_key(doc), cats)


def _tokens(span) -> Tokens:
    return tuple((token.text, bool(token.whitespace_)) for token in span)


def slot_values(templates: List[Template]) -> Dict[Tuple[IntentKey, str], List[Tokens]]:
    """Each (intent, slot label)'s distinct values, sorted: the same for every run.

    A value's last space is left out: the slot it fills decides it.
    """
    values: Dict[Tuple[IntentKey, str], set] = defaultdict(set)
    for template in templates:
        for part in template.parts:
            if isinstance(part[0], str):
                label, tokens = part
                values[(template.intent, label)].add(_strip_last_space(tokens))
    return {key: sorted(found) for key, found in values.items()}


def _strip_last_space(tokens: Tokens) -> Tokens:
    return tokens[:-1] + ((tokens[-1][0], False),)


def category_problem(doc: Doc) -> Optional[str]:
    """Why a document's categories give no intent to copy, or None when they do (or it has
    none, a missing intent): a value that is not a number from 0 to 1 (NaN), or no category
    at 0.5 or more. Such a document would pass its categories on to the new sentences, and
    pool its slot values with those of the sentences without an intent."""
    odd = [f"{k}={v!r}" for k, v in doc.cats.items() if not (math.isfinite(v) and 0 <= v <= 1)]
    if odd:
        return f"not a category value: {', '.join(odd)}"
    if doc.cats and not intent_key(doc):
        return "no positive category (every value below 0.5)"
    return None


def read_templates(docs: List[Doc]) -> Tuple[List[Template], List[Tuple[int, str]]]:
    """The templates of a corpus, in its order, and the documents left out for their
    categories (their index in the corpus and category_problem's reason)."""
    kept, refused = [], []
    for i, doc in enumerate(docs):
        if not has_ents(doc):
            continue
        problem = category_problem(doc)
        if problem is not None:
            refused.append((i, problem))
            continue
        template = make_template(doc)
        if template is not None:
            kept.append(template)
    return kept, refused
