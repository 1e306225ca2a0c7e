"""New sentences: a template's slots filled with other values of their intent and type."""

import bisect
import math
import random
from array import array
from typing import Dict, Iterator, List, Set, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from .templates import IntentKey, Template, Tokens

# Draws per asked sentence before giving up: past this, the corpus has few new sentences left.
TRIES_PER_SENTENCE = 50
# Fillings are drawn at random while at least this many times as many exist as are asked;
# with fewer, random draws would mostly repeat, so every filling is listed in the seed's order.
LIST_BELOW = 4

Values = Dict[Tuple[IntentKey, str], List[Tokens]]


def sentence_key(text: str) -> str:
    """What makes two sentences the same: their text, whitespace runs counted as one space."""
    return " ".join(text.split())


def usable_templates(templates: List[Template], values: Values) -> List[Template]:
    """The templates with a slot that has another value to take."""
    return [t for t in templates if any(len(values[(t.intent, s)]) > 1 for s in t.slots())]


def count_fillings(templates: List[Template], values: Values) -> int:
    """How many fillings the usable templates have: at most this many new sentences (fewer
    where a filling is a training sentence or another template's filling)."""
    return sum(_n_fillings(t, values) for t in usable_templates(templates, values))


def _n_fillings(template: Template, values: Values) -> int:
    return math.prod(len(values[(template.intent, label)]) for label in template.slots())


def generate(
    templates: List[Template],
    values: Values,
    n_sentences: int,
    *,
    seed: int,
    seen: Set[str],
) -> Iterator[Tuple[Template, List[Tokens]]]:
    """Make up to `n_sentences` new fillings of the templates, none seen before.

    The same templates, values and seed give the same sentences in the same order. Where
    the templates have fewer than LIST_BELOW times as many fillings as are asked, every
    filling is listed once, shuffled by the seed (memory: one integer a filling), so the run
    ends once they are used up; otherwise they are drawn at random.

    templates (List[Template]): The corpus's templates, in its order.
    values (Dict): Each (intent, slot label)'s values (templates.slot_values).
    n_sentences (int): How many to make.
    seed (int): The random seed.
    seen (Set[str]): sentence_key of every sentence not to make (the training
        sentences); the new ones are added to it.
    YIELDS (Tuple[Template, List[Tokens]]): A template and its slots' new values.
    """
    usable = usable_templates(templates, values)
    rng = random.Random(seed)
    possible = count_fillings(usable, values)
    if possible < LIST_BELOW * n_sentences:
        fillings = _listed(usable, values, possible, rng)
    else:
        fillings = _drawn(usable, values, TRIES_PER_SENTENCE * n_sentences, rng)
    made = 0
    for template, fill in fillings:
        if made >= n_sentences:
            return
        words, spaces, _ = assemble(template, fill)
        key = sentence_key("".join(w + (" " if s else "") for w, s in zip(words, spaces)))
        if key not in seen:
            seen.add(key)
            made += 1
            yield template, fill


def _drawn(
    usable: List[Template], values: Values, tries: int, rng: random.Random
) -> Iterator[Tuple[Template, List[Tokens]]]:
    for _ in range(tries if usable else 0):
        template = usable[rng.randrange(len(usable))]
        yield template, [rng.choice(values[(template.intent, label)]) for label in template.slots()]


def _listed(
    usable: List[Template], values: Values, possible: int, rng: random.Random
) -> Iterator[Tuple[Template, List[Tokens]]]:
    """Every filling once, in a random order: filling i is template t's (i - start of t)-th,
    its slots' values read as the digits of that number."""
    starts = []
    total = 0
    for template in usable:
        starts.append(total)
        total += _n_fillings(template, values)
    order = array("q", range(possible))
    rng.shuffle(order)
    for i in order:
        t = bisect.bisect_right(starts, i) - 1
        template, rest = usable[t], i - starts[t]
        fill = []
        for label in reversed(template.slots()):
            options = values[(template.intent, label)]
            rest, digit = divmod(rest, len(options))
            fill.append(options[digit])
        yield template, fill[::-1]


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
