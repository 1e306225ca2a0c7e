"""Calibrating `mtl_ner`'s entity confidences on held-out data.

Each entity the pipeline predicts on the dev documents is right (the gold data has an
entity with its exact start, end and label) or wrong, and its confidence should be the
rate at which such entities are right. Two calibrations, both fitted by the binary
log-loss of those outcomes:

- "temperature": every score of the CRF divided by one T, the span probability computed
  again (the predicted entities stay the same: the best path does not change with T);
- "platt": sigmoid(a * logit(p) + b) of the raw span probability p.

Neither changes which entities are predicted. "auto" (the default) takes the one of lower
two-fold cross-validated log-loss: Platt scaling won on 5 of 6 ATIS and SNIPS pipelines
(benchmarks/README.md), the temperature on the sixth.

The expected calibration error (ECE) is measured over the predicted spans, in the
equal-width bins of `metrics.py`.
"""

import math
from typing import Any, Callable, Dict, Iterable, List, Tuple

import numpy
from spacy.language import Language
from spacy.training import Example

from ..annotation import has_ents
from ..ml.tagger import crf_span_log_probabilities
from ..pipeline.entity_confidence import calibrated, entity_confidence, span_logits
from ..pipeline.ner import MultiTaskEntityRecognizer
from .fitting import MIN_IN_SCOPE_DOCUMENTS, CalibrateError
from .metrics import ece, reliability_bins

METHODS = ("temperature", "platt")
CHOICES = ("auto",) + METHODS
# The temperatures searched, in log space: far beyond what a trained CRF needs.
LOG_TEMPERATURE_RANGE = (math.log(0.05), math.log(20.0))
# Ridge on Platt's slope and intercept: a dev set whose spans are all right stays finite.
PLATT_RIDGE = 1e-3
# The fewest right and the fewest wrong predicted spans calibrated on: as many of each as the
# intents need documents (two-fold cross-validation). With no wrong span the fit would push
# every confidence to 1, with no right one to 0 (a dev set without entities: 7.9e-10).
MIN_SPANS_PER_OUTCOME = MIN_IN_SCOPE_DOCUMENTS // 2


class TooFewSpans(CalibrateError):
    """The dev data cannot calibrate the entity confidences: too few right or wrong spans."""


def fit_entity_calibration(
    nlp: Language, ner_name: str, examples: Iterable[Example], method: str = "auto"
) -> Dict[str, Any]:
    """Fit the confidence calibration of an `mtl_ner` on dev examples and store it in the head.

    nlp (Language): The trained pipeline; its head `ner_name` is changed in place.
    ner_name (str): The name of the `mtl_ner` component.
    examples (Iterable[Example]): Dev examples; those without entity annotation are skipped.
    method (str): "auto", "temperature" or "platt".
    RETURNS (Dict[str, Any]): "method", "cv_log_loss" (each method's, with "auto"),
        "calibration" (what was stored), "n_spans",
        "n_correct", "ece_before", "ece_after", "nll_before", "nll_after", and "bins_before"
        and "bins_after" (`metrics.reliability_bins`, for a reliability diagram).
    """
    ner = _entity_head(nlp, ner_name)
    if method not in CHOICES:
        raise ValueError(f"Unknown entity calibration method {method!r}: use one of {CHOICES}.")
    spans = _SpanOutcomes.collect(nlp, ner, list(examples))
    before = numpy.exp(spans.log_probs(1.0))
    cv = _cross_validated(spans) if method == "auto" else None
    if cv is not None:
        method = min(cv, key=cv.__getitem__)
    calibration = _fit(spans, method, numpy.arange(len(spans.correct)))
    # Rounded as the cfg file's JSON keeps them (10 decimals), so a saved pipeline's
    # confidences are the ones measured here.
    calibration = {key: _rounded(value) for key, value in calibration.items()}
    after = calibrated(spans.log_probs(_temperature(calibration)), calibration)
    ner.set_calibration({**calibration, "n_spans": len(spans.correct)})
    return {
        "method": method,
        "cv_log_loss": cv,
        "calibration": calibration,
        "n_spans": int(len(spans.correct)),
        "n_correct": int(spans.correct.sum()),
        "ece_before": ece(before, spans.correct),
        "ece_after": ece(after, spans.correct),
        "nll_before": _log_loss(before, spans.correct),
        "nll_after": _log_loss(after, spans.correct),
        "bins_before": reliability_bins(before, spans.correct),
        "bins_after": reliability_bins(after, spans.correct),
    }


def _entity_head(nlp: Language, ner_name: str) -> MultiTaskEntityRecognizer:
    if ner_name not in nlp.pipe_names:
        raise ValueError(
            f"The pipeline has no component {ner_name!r} to calibrate (it has "
            f"{', '.join(nlp.pipe_names) or 'none'})."
        )
    ner = nlp.get_pipe(ner_name)
    if not isinstance(ner, MultiTaskEntityRecognizer):
        raise ValueError(
            f"Component {ner_name!r} is a {type(ner).__name__}, not an mtl_ner: only mtl_ner "
            "gives entity confidences to calibrate."
        )
    if not ner.confidences:
        raise ValueError(
            f"Component {ner_name!r} has confidences = false: it computes no entity "
            "confidence to calibrate. Load it with confidences = true."
        )
    return ner


class _SpanOutcomes:
    """The predicted spans of the dev documents, right or wrong, and their CRF scores."""

    def __init__(self, ner, emissions, spans, correct) -> None:
        self.ner, self.emissions, self.spans = ner, emissions, spans
        self.correct = numpy.asarray(correct, dtype=bool)
        # Log probabilities by temperature: the cross-validation asks for T = 1 five times
        # and the folds' searches share the first points of the golden section.
        self._by_temperature: Dict[float, numpy.ndarray] = {}

    @classmethod
    def collect(cls, nlp: Language, ner, examples: List[Example]) -> "_SpanOutcomes":
        """Run the pipeline, uncalibrated and unthresholded, on the annotated examples."""
        annotated = [eg for eg in examples if has_ents(eg.reference) and len(eg.predicted)]
        if not annotated:
            raise TooFewSpans(
                f"None of the {len(examples)} dev documents annotates entities: entity "
                "confidences need dev documents with gold entities to be calibrated on."
            )
        saved = (ner.calibration, ner.confidence_threshold)
        ner.cfg["confidence_calibration"], ner.confidence_threshold = None, None
        try:
            docs = list(nlp.pipe(eg.predicted.copy() for eg in annotated))
        finally:
            ner.cfg["confidence_calibration"], ner.confidence_threshold = saved
        label_ids = {label: i for i, label in enumerate(ner.labels)}
        spans, correct = [], []
        for doc, eg in zip(docs, annotated):
            gold = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents}
            ents = [e for e in doc.ents if entity_confidence(e) is not None]
            spans.append([(e.start, e.end, label_ids[e.label_]) for e in ents])
            correct.extend((e.start_char, e.end_char, e.label_) in gold for e in ents)
        n_right = sum(correct)
        n_gold = sum(len(eg.reference.ents) for eg in annotated)
        n_wrong = len(correct) - n_right
        if not correct:
            raise TooFewSpans(
                f"{ner.name!r} predicts no entity on the {len(annotated)} dev documents with "
                "gold entities: there is nothing to calibrate. Is it trained?"
            )
        if min(n_right, n_wrong) < MIN_SPANS_PER_OUTCOME:
            raise TooFewSpans(
                f"{ner.name!r} predicts {len(correct)} entities on the {len(annotated)} dev "
                f"documents with entity annotation, {n_right} right and {n_wrong} wrong: "
                f"calibrating needs at least {MIN_SPANS_PER_OUTCOME} of each"
                + (" (they hold no gold entity)" if not n_gold else "")
                + ". Give a dev corpus with more annotated entities."
            )
        return cls(ner, ner.model.predict(docs), spans, correct)

    def log_probs(self, temperature: float) -> numpy.ndarray:
        """Every predicted span's log probability with the CRF's scores divided by T."""
        if temperature not in self._by_temperature:
            per_doc = crf_span_log_probabilities(
                self.ner.model, self.emissions, self.spans, temperature=temperature
            )
            self._by_temperature[temperature] = numpy.concatenate(per_doc)
        return self._by_temperature[temperature]


def _rounded(value: Any) -> Any:
    return round(value, 8) if isinstance(value, float) else value


def _temperature(calibration: Dict[str, Any]) -> float:
    return float(calibration.get("temperature", 1.0))


def _fit(spans: _SpanOutcomes, method: str, rows: numpy.ndarray) -> Dict[str, Any]:
    """One method's calibration, fitted on the spans of `rows`."""
    if method == "temperature":
        return {"method": method, "temperature": _fit_temperature(spans, rows)}
    logits = span_logits(spans.log_probs(1.0))[rows]
    slope, intercept = _fit_platt(logits, spans.correct[rows])
    return {"method": method, "slope": slope, "intercept": intercept}


def _cross_validated(spans: _SpanOutcomes, seed: int = 0) -> Dict[str, float]:
    """Each method's log-loss on one half of the spans when fitted on the other, averaged."""
    order = numpy.random.default_rng(seed).permutation(len(spans.correct))
    folds = [order[: len(order) // 2], order[len(order) // 2 :]]
    cv = {}
    for method in METHODS:
        total = 0.0
        for fit_rows, test_rows in (folds, folds[::-1]):
            calibration = _fit(spans, method, fit_rows)
            probs = calibrated(spans.log_probs(_temperature(calibration)), calibration)
            total += _log_loss(probs[test_rows], spans.correct[test_rows])
        cv[method] = total / 2
    return cv


def _fit_temperature(spans: _SpanOutcomes, rows: numpy.ndarray) -> float:
    """The T of least log-loss on the spans of `rows`, by golden-section search over log T
    (unimodal in practice)."""

    def loss(log_t: float) -> float:
        probs = numpy.exp(spans.log_probs(math.exp(log_t)))
        return _log_loss(probs[rows], spans.correct[rows])

    return math.exp(_golden_section(loss, *LOG_TEMPERATURE_RANGE))


def _golden_section(f: Callable[[float], float], low: float, high: float, steps: int = 30):
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low + (1 - ratio) * (high - low), low + ratio * (high - low)
    fa, fb = f(a), f(b)
    for _ in range(steps):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = low + (1 - ratio) * (high - low)
            fa = f(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = f(b)
    return (low + high) / 2


def _fit_platt(logits: numpy.ndarray, correct: numpy.ndarray) -> Tuple[float, float]:
    """Logistic regression of the outcomes on the logits (2 weights, a small ridge), by
    Newton's method with step halving, so that a flat or inverted relation converges too."""
    features = numpy.stack([logits, numpy.ones_like(logits)], axis=1)
    targets = correct.astype("float64")

    def loss(weights: numpy.ndarray) -> float:
        z = features @ weights
        # log(1 + e^z) - target * z, stably.
        return float(
            (numpy.logaddexp(0.0, z) - targets * z).sum() + PLATT_RIDGE * weights @ weights / 2
        )

    weights = numpy.array([1.0, 0.0])
    current = loss(weights)
    for _ in range(100):
        probs = 0.5 * (1.0 + numpy.tanh(0.5 * (features @ weights)))
        gradient = features.T @ (probs - targets) + PLATT_RIDGE * weights
        hessian = (features * (probs * (1 - probs))[:, None]).T @ features
        step = numpy.linalg.solve(hessian + PLATT_RIDGE * numpy.eye(2), gradient)
        size = 1.0
        while size > 1e-6 and loss(weights - size * step) > current:
            size /= 2
        weights = weights - size * step
        previous, current = current, loss(weights)
        if previous - current < 1e-10:
            break
    return float(weights[0]), float(weights[1])


def _log_loss(probs: numpy.ndarray, correct: numpy.ndarray) -> float:
    probs = numpy.clip(probs, 1e-12, 1 - 1e-12)
    return float(-numpy.mean(numpy.where(correct, numpy.log(probs), numpy.log1p(-probs))))
