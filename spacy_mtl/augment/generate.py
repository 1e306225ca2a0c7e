"""New sentences: a template's slots filled with other values of their intent and type."""

import random
from typing import Dict, Iterator, List, Set, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from .templates import IntentKey, Template, Tokens

# Draws per asked sentence before giving up: past this, the corpus has few new sentences left.
TRIES_PER_SENTENCE = 50


def sentence_key(text: str) -> str:
    """What makes two sentences the same: their text, whitespace runs counted as one space."""
    return " ".join(text.split())


def generate(
    templates: List[Template],
    values: Dict[Tuple[IntentKey, str], List[Tokens]],
    n_sentences: int,
    *,
    seed: int,
    seen: Set[str],
) -> Iterator[Tuple[Template, List[Tokens]]]:
    """Draw up to `n_sentences` new fillings of the templates, none seen before.

    The same templates, values and seed give the same sentences in the same order.

    templates (List[Template]): The corpus's templates, in its order.
    values (Dict): Each (intent, slot label)'s values (templates.slot_values).
    n_sentences (int): How many to make.
    seed (int): The random seed.
    seen (Set[str]): sentence_key of every sentence not to make (the training
        sentences); the new ones are added to it.
    YIELDS (Tuple[Template, List[Tokens]]): A template and its slots' new values.
    """
    usable = [t for t in templates if any(len(values[(t.intent, s)]) > 1 for s in t.slots())]
    rng = random.Random(seed)
    made = 0
    for _ in range(TRIES_PER_SENTENCE * n_sentences if usable else 0):
        if made >= n_sentences:
            return
        template = usable[rng.randrange(len(usable))]
        fill = [rng.choice(values[(template.intent, label)]) for label in template.slots()]
        words, spaces, _ = assemble(template, fill)
        key = sentence_key("".join(w + (" " if s else "") for w, s in zip(words, spaces)))
        if key not in seen:
            seen.add(key)
            made += 1
            yield template, fill


def assemble(
    template: Template, fill: List[Tokens]
) -> Tuple[List[str], List[bool], List[Tuple[int, int, str]]]:
    """The words, spaces and slot spans of a template with these values in its slots.

    A value takes the space after it from the slot it fills.
    """
    words: List[str] = []
    spaces: List[bool] = []
    spans: List[Tuple[int, int, str]] = []
    values = iter(fill)
    for part in template.parts:
        if isinstance(part[0], str):
            label, original = part
            value = next(values)
            start = len(words)
            words.extend(text for text, _ in value)
            spaces.extend(space for _, space in value[:-1])
            spaces.append(original[-1][1])
            spans.append((start, len(words), label))
        else:
            words.extend(text for text, _ in part)
            spaces.extend(space for _, space in part)
    return words, spaces, spans


def make_doc(vocab: Vocab, template: Template, fill: List[Tokens]) -> Doc:
    """The new sentence as a Doc with the template's categories and its slots as entities.

    Every token is annotated: the slots B/I, the rest O, as in the template.
    """
    words, spaces, spans = assemble(template, fill)
    doc = Doc(vocab, words=words, spaces=spaces)
    doc.set_ents([Span(doc, start, end, label) for start, end, label in spans], default="outside")
    doc.cats = dict(template.cats)
    return doc
