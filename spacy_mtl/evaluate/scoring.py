"""Score one system (a pipeline, or a textcat and a ner pipeline together) on a gold corpus.

The task scores are the heads' own `score` (spacy_mtl.scorers), called exactly as
`spacy train` calls them on the dev set: intents only on documents with gold
categories, slots only on documents with entity annotation, a prediction on a
token without gold annotation neither right nor wrong. What this module adds
(support, confusion, slot errors by kind, confidence) is computed beside them.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import has_cats, has_ents
from ..records import NonFinitePrediction, doc_to_record
from ..scorers import sentence_accuracy
from .confidence import confidence_scores
from .inputs import EvaluateError, heads
from .intents import intent_details
from .slot_errors import slot_error_counts


@dataclass
class System:
    """A scored system: its pipelines, its predictions and its scores.

    name (str): "pipeline" or "compare", its key in scores.json.
    paths (List[str]): The pipelines: one, or the intent and the slot pipeline.
    predicted (List[Doc]): One document per gold document: the categories of the
        intent pipeline, the entities of the slot pipeline.
    scores (Dict[str, Any]): The scores by key, as fractions.
    """

    name: str
    paths: List[str]
    predicted: List[Doc] = field(default_factory=list)
    scores: Dict[str, Any] = field(default_factory=dict)
    multi_label: bool = False
    threshold: float = 0.5

    def examples(self, references: Sequence[Doc]) -> List[Example]:
        return pair(self.predicted, references)


def predict(
    nlp: Language, references: Sequence[Doc], gold_tokens: bool, batch_size: int = 256
) -> List[Doc]:
    """Run a pipeline over unannotated copies of the gold documents.

    gold_tokens (bool): Read the corpus's own tokens (pre-tokenized corpora such as
        ATIS); otherwise the pipeline's tokenizer splits the text again.
    """
    if gold_tokens:
        inputs = (
            Doc(nlp.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])
            for ref in references
        )
    else:
        inputs = (nlp.make_doc(ref.text) for ref in references)
    return list(nlp.pipe(inputs, batch_size=batch_size))


def check_predictions(path: str, predicted: Sequence[Doc]) -> None:
    """Refuse a pipeline whose predictions are not numbers (NaN, infinite), naming the
    documents: nothing can be scored or binned from them (spacy_mtl.records' check).

    path (str): The pipeline, for the message.
    predicted (Sequence[Doc]): Its predictions, one per gold document, in corpus order.
    """
    bad = []
    for i, doc in enumerate(predicted):
        try:
            doc_to_record(doc)
        except NonFinitePrediction as err:
            bad.append((i, doc.text, err.scores))
    if not bad:
        return
    shown = "; ".join(
        f"document {i} ({text[:40]!r}: {', '.join(scores[:3])})" for i, text, scores in bad[:5]
    )
    more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
    raise EvaluateError(
        f"The pipeline {path!r} predicts scores that are not numbers (NaN or infinite) for "
        f"{len(bad)} of {len(predicted)} documents: {shown}{more}. Its weights may be broken "
        "(a training that diverged): retrain it."
    )


def pair(predicted: Sequence[Doc], references: Sequence[Doc]) -> List[Example]:
    """Examples of predicted documents against their gold documents, in order."""
    return [Example(pred, ref) for pred, ref in zip(predicted, references, strict=True)]


def score_system(
    name: str,
    paths: Sequence[str],
    nlps: Sequence[Language],
    references: Sequence[Doc],
    *,
    gold_tokens: bool = True,
    batch_size: int = 256,
) -> System:
    """Predict with each pipeline and score each task with the head that does it.

    With two pipelines the intents come from the first that has mtl_textcat and
    the slots from the first that has mtl_ner; sentence accuracy judges their
    predictions put together.
    """
    runs = [predict(nlp, references, gold_tokens, batch_size) for nlp in nlps]
    for path, run in zip(paths, runs):
        check_predictions(str(path), run)
    cats_at = _first_with(nlps, "cats")
    ents_at = _first_with(nlps, "ents")
    system = System(name=name, paths=list(paths))
    scores: Dict[str, Any] = {}
    if cats_at is not None:
        head = nlps[cats_at].get_pipe(heads(nlps[cats_at])["cats"])
        settings = head.scorer_settings()
        system.multi_label, system.threshold = settings["multi_label"], settings["threshold"]
        scores.update(head.score(pair(runs[cats_at], references)))
    if ents_at is not None:
        head = nlps[ents_at].get_pipe(heads(nlps[ents_at])["ents"])
        scores.update(head.score(pair(runs[ents_at], references)))
    system.predicted = _joined(runs, cats_at, ents_at)
    examples = system.examples(references)
    if cats_at is None or ents_at is None:
        scores["joint_sentence_acc"] = None
    elif cats_at != ents_at:
        scores["joint_sentence_acc"] = sentence_accuracy(
            examples, multi_label=system.multi_label, threshold=system.threshold
        )
    system.scores = {**scores, **_details(system, examples, cats_at, ents_at)}
    return system


def _details(
    system: System, examples: List[Example], cats_at: Optional[int], ents_at: Optional[int]
) -> Dict[str, Any]:
    """What the report adds to the heads' scores."""
    details: Dict[str, Any] = {
        "multi_label": system.multi_label if cats_at is not None else None,
        "threshold": system.threshold if cats_at is not None else None,
    }
    if cats_at is not None:
        details.update(intent_details(examples, system.multi_label, system.threshold))
    if ents_at is not None:
        details.update(slot_error_counts(examples))
    details["confidence"] = confidence_scores(
        examples, system.multi_label, system.threshold, cats_at is not None, ents_at is not None
    )
    return details


def _first_with(nlps: Sequence[Language], task: str) -> Optional[int]:
    for i, nlp in enumerate(nlps):
        if task in heads(nlp):
            return i
    return None


def _joined(runs: List[List[Doc]], cats_at: Optional[int], ents_at: Optional[int]) -> List[Doc]:
    """One document per gold document: the intent run's, with the slot run's entities."""
    if cats_at is None or ents_at is None or cats_at == ents_at:
        return runs[cats_at if cats_at is not None else ents_at]
    return [combine(c, e) for c, e in zip(runs[cats_at], runs[ents_at], strict=True)]


def combine(cat_doc: Doc, ent_doc: Doc) -> Doc:
    """A copy of the intent pipeline's document with the slot pipeline's entities.

    The entities move by character offsets, so the two tokenizers may differ.
    """
    doc = cat_doc.copy()
    spans = []
    for ent in ent_doc.ents:
        span = doc.char_span(ent.start_char, ent.end_char, label=ent.label_)
        if span is None:
            raise EvaluateError(
                f"The slot pipeline's entity {ent.text!r} in {ent_doc.text!r} does not align "
                "with the intent pipeline's tokens: compare pipelines of the same language."
            )
        spans.append(span)
    doc.set_ents(spans, default="outside")
    return doc


def corpus_counts(references: Sequence[Doc]) -> Dict[str, int]:
    """How many gold documents there are, and how many are annotated for each task."""
    return {
        "n_docs": len(references),
        "n_docs_cats": sum(has_cats(doc) for doc in references),
        "n_docs_ents": sum(has_ents(doc) for doc in references),
    }
