"""Entity checks: entities that do not align with the tokenizer's tokens, overlapping spans a
BIO head cannot represent, and invalid BIO sequences stored in the corpus.

What can be checked here is the .spacy corpus: a DocBin's `doc.ents` never overlap, but
its span groups (`doc.spans`) may, and its stored IOB codes may hold an I that follows an
O or another type. The source files' tags are checked by `spacy_mtl convert` (`--strict`
turns its repairs into errors).
"""

from typing import List, Sequence

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..annotation import TASK_ENTS
from .corpora import SourceData
from .findings import ERROR, WARNING, DocRef, Finding


def gold_ents(doc: Doc) -> List[Span]:
    """The document's entities; none when its IOB codes are invalid (spaCy raises E093 on
    `doc.ents` then, which `invalid_bio` reports)."""
    try:
        return list(doc.ents)
    except ValueError:
        return []


def misaligned(eg: Example) -> List[str]:
    """The gold entities whose characters do not start and end on a token of the predicted
    document (the tokenizer's, unless gold_preproc): they cannot be learned."""
    pred = eg.predicted
    return [
        f"{ent.text!r} ({ent.label_})"
        for ent in gold_ents(eg.reference)
        if pred.char_span(ent.start_char, ent.end_char) is None
    ]


def overlapping(eg: Example) -> List[str]:
    """Pairs of overlapping spans within a span group of the gold document."""
    found = []
    for key, group in eg.reference.spans.items():
        spans = sorted(group, key=lambda s: (s.start, s.end))
        for a, b in zip(spans, spans[1:]):
            if b.start < a.end:
                found.append(f"{key}: {a.text!r} ({a.label_}) and {b.text!r} ({b.label_})")
    return found


def invalid_bio(eg: Example) -> List[str]:
    """Tokens tagged I whose previous token is not B or I of the same type."""
    found = []
    prev_iob, prev_type = "O", ""
    for token in eg.reference:
        iob, label = token.ent_iob_, token.ent_type_
        if iob == "I" and (prev_iob not in ("B", "I") or prev_type != label):
            found.append(f"token {token.i} {token.text!r}: I-{label} after {prev_iob or '-'}")
        prev_iob, prev_type = iob, label
    return found


CHECKS = [
    (
        "misaligned_entities",
        ERROR,
        misaligned,
        "entities do not align with the tokenizer's tokens and cannot be learned (a word "
        "segmenter on Chinese, say): use the character tokenizer, gold_preproc, or fix the spans",
    ),
    (
        "overlapping_spans",
        WARNING,
        overlapping,
        "span groups hold overlapping or nested spans, which a BIO head cannot represent: only "
        "doc.ents is trained",
    ),
    (
        "invalid_bio",
        ERROR,
        invalid_bio,
        "tokens carry an I tag that follows O or another type: spaCy refuses such a document "
        "(E093, I without B) when training reads its entities. Reconvert the source with "
        "`spacy_mtl convert`, which repairs or (--strict) names such tags",
    ),
]


def span_findings(sources: Sequence[SourceData]) -> List[Finding]:
    """Run every entity check on every source of both corpora."""
    found = []
    for check, level, find, advice in CHECKS:
        docs = [
            DocRef(s.corpus, s.name, i, eg.reference.text, "; ".join(problems))
            for s in sources
            for i, eg in enumerate(s.examples)
            for problems in [find(eg)]
            if problems
        ]
        if docs:
            where = sorted({f"{d.corpus}/{d.source}" for d in docs})
            message = f"{len(docs)} documents ({', '.join(where)}): {advice}."
            found.append(Finding(check, level, message, TASK_ENTS, docs))
    return found
