"""Calibrated intent probabilities, an out-of-scope score, and the Doc attributes that show them.

`python -m spacy_mtl calibrate` fits a calibration on held-out data and stores
it in `mtl_textcat`'s cfg (`cfg["calibration"]`, an `IntentCalibration` as its dict, so it
travels with to_disk, to_bytes and `spacy package`). This module applies it: the logits
are scaled (z * scale + bias: one temperature, or one scale and bias a label),
the out-of-scope score of each document is computed from the calibrated
logits or the pooled features, and a document whose score falls below the
stored threshold is rejected. A head without a calibration is untouched.

Registered attributes (on every Doc, with or without a calibration):

- `doc._.intent` (Optional[str]): the top category, or the head's
  `rejected_intent` (default "out_of_scope") when the document is rejected;
  None when the document has no categories.
- `doc._.intent_confidence` (Optional[float]): the chosen score mapped to [0, 1]
  (the calibrated top probability, or for a score that is not a probability its
  rank among the in-scope dev documents'); the top probability without a calibration.
- `doc._.out_of_scope` (bool): whether the score is below the threshold; False
  when no threshold is stored.

The values are kept in one plain Doc attribute, so they travel with the Doc
through `nlp.pipe(n_process=...)` and `Doc.to_bytes`.
"""

import math
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy
from spacy.tokens import Doc

# The scores a calibration may choose, each higher for a more in-scope document.
SCORES = ("max_prob", "energy", "mahalanobis")
# The plain attribute that holds {"intent", "confidence", "out_of_scope"} for a document.
STATE_ATTR = "spacy_mtl_intent"
# The temperatures calibrate fits within (spacy_mtl/calibrate/scaling.py): a dev set without
# errors drives the NLL's optimum to T -> 0. A stored scale (1 / T) outside them was not
# written by calibrate, and a huge one overflows the float32 logits to inf, then NaN.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 100.0
# A bias beyond this makes a probability 0 or 1 in float32 whatever the logit: no fit gives one.
MAX_BIAS = 1e4
# Slack for the rounding of the bounds through the cfg's JSON.
_ROUNDING = 1e-6


class IntentScores(NamedTuple):
    """What a calibration makes of a batch (`IntentCalibration.scores`): probabilities and,
    per document, its confidence in [0, 1] and whether it is rejected as out of scope."""

    probs: numpy.ndarray
    confidence: numpy.ndarray
    out_of_scope: numpy.ndarray


def _state(doc: Doc) -> Optional[Dict[str, Any]]:
    return doc._.get(STATE_ATTR)


def get_intent(doc: Doc) -> Optional[str]:
    state = _state(doc)
    if state is not None and state["out_of_scope"]:
        return state["intent"]
    return max(doc.cats, key=doc.cats.__getitem__) if doc.cats else None


def get_intent_confidence(doc: Doc) -> Optional[float]:
    state = _state(doc)
    if state is not None:
        return state["confidence"]
    return float(max(doc.cats.values())) if doc.cats else None


def get_out_of_scope(doc: Doc) -> bool:
    state = _state(doc)
    return bool(state is not None and state["out_of_scope"])


def register_extensions() -> None:
    """Register the Doc attributes (once; a reload keeps the first registration)."""
    if not Doc.has_extension(STATE_ATTR):
        Doc.set_extension(STATE_ATTR, default=None)
    for name, getter in (
        ("intent", get_intent),
        ("intent_confidence", get_intent_confidence),
        ("out_of_scope", get_out_of_scope),
    ):
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)


register_extensions()


def set_intent_state(doc: Doc, rejected_intent: str, confidence: float, rejected: bool) -> None:
    """Store a calibrated head's verdict on a document."""
    doc._.set(
        STATE_ATTR,
        {
            "intent": rejected_intent,
            "confidence": float(confidence),
            "out_of_scope": bool(rejected),
        },
    )


def activate(logits: numpy.ndarray, exclusive: bool) -> numpy.ndarray:
    """Softmax (exclusive) or sigmoid (multi-label) of logits, in numpy."""
    if exclusive:
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = numpy.exp(shifted)
        return (exp / exp.sum(axis=1, keepdims=True)).astype("f")
    return (1.0 / (1.0 + numpy.exp(-logits))).astype("f")


def raw_score(
    kind: str,
    logits: numpy.ndarray,
    features: Optional[numpy.ndarray],
    exclusive: bool,
    stats: Optional[Dict[str, Any]] = None,
) -> numpy.ndarray:
    """One out-of-scope score a document, higher when more in scope.

    kind (str): "max_prob" (the top calibrated probability), "energy" (the
        log-sum-exp of the calibrated logits, Liu et al. 2020; for multi-label the
        sum of softplus) or "mahalanobis" (minus the smallest squared Mahalanobis
        distance of the pooled features to a class mean, shared covariance, Lee
        et al. 2018).
    logits (numpy.ndarray): Calibrated logits, one row a document.
    features (Optional[numpy.ndarray]): Pooled features (for "mahalanobis").
    exclusive (bool): Softmax or sigmoid head.
    stats (Optional[Dict[str, Any]]): {"means", "whiten"} for "mahalanobis".
    RETURNS (numpy.ndarray): The scores.
    """
    logits = numpy.asarray(logits, dtype="f8")
    if kind == "max_prob":
        return activate(logits, exclusive).max(axis=1).astype("f8")
    if kind == "energy":
        if exclusive:
            top = logits.max(axis=1, keepdims=True)
            return (top[:, 0] + numpy.log(numpy.exp(logits - top).sum(axis=1))).astype("f8")
        return numpy.logaddexp(0.0, logits).sum(axis=1)
    if kind == "mahalanobis":
        if stats is None or features is None:
            raise ValueError("The Mahalanobis score needs the class means of the training data.")
        whiten = numpy.asarray(stats["whiten"], dtype="f8")
        means = numpy.asarray(stats["means"], dtype="f8")
        projected = numpy.asarray(features, dtype="f8") @ whiten
        # ||a - b||^2 = |a|^2 - 2ab + |b|^2, for every document and class at once.
        dist = (
            (projected**2).sum(axis=1, keepdims=True)
            - 2 * projected @ means.T
            + (means**2).sum(axis=1)[None, :]
        )
        return -dist.min(axis=1)
    raise ValueError(f"Unknown out-of-scope score {kind!r}: choose one of {', '.join(SCORES)}.")


class CalibrationError(ValueError):
    """A stored intent calibration that cannot be used; `problems` lists what is wrong."""

    problems: List[str] = []


@dataclass(frozen=True)
class IntentCalibration:
    """An `mtl_textcat` head's fitted calibration: the logit scaling, the out-of-scope score
    and its threshold. The head keeps it in cfg["calibration"] as `to_dict()` gives it.

    method (str): How the scaling was fitted: "none", "temperature", "vector" or "per_label".
    scale (List[float]): One scale (1 / temperature) or one a label.
    bias (Optional[List[float]]): One bias a label, or None.
    temperature (Optional[float]): The fitted temperature of the "temperature" method.
    score (str): The out-of-scope score, one of SCORES.
    threshold (Optional[float]): A document scoring below it is rejected; None: none is.
    chosen_for (Optional[str]): What the threshold was chosen for, in words.
    score_quantiles (Optional[List[float]]): The in-scope dev documents' scores at even
        levels, which map a score that is no probability to a confidence.
    mahalanobis (Optional[Dict[str, Any]]): {"means", "whiten"} of the training classes,
        for the "mahalanobis" score.
    """

    method: str = "none"
    scale: List[float] = field(default_factory=lambda: [1.0])
    bias: Optional[List[float]] = None
    temperature: Optional[float] = None
    score: str = "max_prob"
    threshold: Optional[float] = None
    chosen_for: Optional[str] = None
    score_quantiles: Optional[List[float]] = None
    mahalanobis: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        """The calibration as JSON-serialisable data, as the cfg keeps it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any, *, n_labels: int, where: str) -> "IntentCalibration":
        """A stored calibration, checked for a head with n_labels labels.

        Every number the head computes with is checked: one infinite or NaN scale (a
        hand-edited cfg, a value of 1e400) would otherwise make every probability NaN,
        silently.

        data (Any): The stored dict (cfg["calibration"]); missing keys take the defaults.
        n_labels (int): The head's number of labels.
        where (str): The component (and file), as the error names it.
        RETURNS (IntentCalibration): The calibration.
        RAISES (CalibrationError): Naming the component, and each bad key and value.
        """
        problems = _problems(data, n_labels)
        if problems:
            err = CalibrationError(
                f"{where}: {'; '.join(problems)}. Run python -m spacy_mtl calibrate again on "
                "the trained pipeline."
            )
            err.problems = problems
            raise err
        return cls(
            method=data.get("method", "none"),
            scale=[float(v) for v in data.get("scale") or [1.0]],
            bias=[float(v) for v in data["bias"]] if data.get("bias") else None,
            temperature=data.get("temperature"),
            score=data.get("score", "max_prob"),
            threshold=data.get("threshold"),
            chosen_for=data.get("chosen_for"),
            score_quantiles=data.get("score_quantiles"),
            mahalanobis=data.get("mahalanobis"),
        )

    @property
    def needs_features(self) -> bool:
        """Whether the score is computed from the pooled features, not only the logits."""
        return self.score == "mahalanobis"

    def calibrated_logits(self, logits: numpy.ndarray) -> numpy.ndarray:
        """z * scale + bias: one temperature (scale = 1/T) or a scale and bias per label."""
        scale, bias = self._scaling
        return (numpy.asarray(logits, dtype="f") * scale + bias).astype("f")

    def scores(
        self, logits: numpy.ndarray, features: Optional[numpy.ndarray], exclusive: bool
    ) -> IntentScores:
        """Calibrated probabilities, confidences and rejections for a batch.

        logits (numpy.ndarray): The head's raw logits.
        features (Optional[numpy.ndarray]): Its pooled features (needed for "mahalanobis").
        exclusive (bool): Softmax or sigmoid head.
        RETURNS (IntentScores): The probabilities, confidences and rejections.
        """
        z = self.calibrated_logits(logits)
        probs = activate(z, exclusive)
        if self.score == "max_prob":
            scores = probs.max(axis=1).astype("f8")
        else:
            scores = raw_score(self.score, z, features, exclusive, self._class_statistics)
        if self.threshold is None:
            rejected = numpy.zeros(len(scores), dtype=bool)
        else:
            rejected = scores < self.threshold
        return IntentScores(probs, self.confidence(scores), rejected)

    def confidence(self, scores: numpy.ndarray) -> numpy.ndarray:
        """Scores mapped to [0, 1]: a probability as it is, another score by its rank among
        the in-scope dev documents' scores (the stored quantiles, interpolated)."""
        quantiles = self._quantiles
        if self.score == "max_prob" or quantiles is None or not len(quantiles):
            return numpy.clip(scores, 0.0, 1.0)
        return numpy.interp(scores, quantiles, numpy.linspace(0.0, 1.0, len(quantiles)))

    # The lists as arrays, made once per calibration, not per batch.
    @cached_property
    def _scaling(self) -> Tuple[numpy.ndarray, numpy.ndarray]:
        bias = [0.0] if self.bias is None else self.bias
        return numpy.asarray(self.scale, dtype="f"), numpy.asarray(bias, dtype="f")

    @cached_property
    def _quantiles(self) -> Optional[numpy.ndarray]:
        if self.score_quantiles is None:
            return None
        return numpy.asarray(self.score_quantiles, dtype="f8")

    @cached_property
    def _class_statistics(self) -> Optional[Dict[str, numpy.ndarray]]:
        if not self.mahalanobis:
            return None
        return {key: numpy.asarray(value, dtype="f8") for key, value in self.mahalanobis.items()}


def _problems(calibration: Any, n_labels: int) -> List[str]:
    """One sentence per problem of a stored calibration, naming the key and the bad value."""
    if not isinstance(calibration, dict):
        return [f"calibration must be a mapping, got {type(calibration).__name__}"]
    problems = _scaling_problems(calibration, n_labels)
    threshold = calibration.get("threshold")
    if threshold is not None:
        problems.extend(filter(None, [_bad_numbers("threshold", [threshold], scalar=True)]))
    quantiles = calibration.get("score_quantiles")
    if quantiles is not None:
        problem = _bad_numbers("score_quantiles", quantiles)
        if problem is None and numpy.any(numpy.diff(numpy.asarray(quantiles, dtype="f8")) < 0):
            problem = 'cfg["calibration"]["score_quantiles"] must not decrease'
        problems.extend(filter(None, [problem]))
    score = calibration.get("score", "max_prob")
    if score not in SCORES:
        problems.append(f"calibration score {score!r} is not one of {SCORES}")
    elif score == "mahalanobis":
        problems.extend(_mahalanobis_problems(calibration.get("mahalanobis")))
    return problems


def _scaling_problems(calibration: Dict[str, Any], n_labels: int) -> List[str]:
    problems = []
    low, high = 1 / MAX_TEMPERATURE, 1 / MIN_TEMPERATURE
    bounds = {
        "scale": (low * (1 - _ROUNDING), high * (1 + _ROUNDING), f"between {low:g} and {high:g}"),
        "bias": (-MAX_BIAS, MAX_BIAS, f"between {-MAX_BIAS:g} and {MAX_BIAS:g}"),
    }
    for key, (lowest, highest, between) in bounds.items():
        values = calibration.get(key) or [1.0]
        problem = _bad_numbers(key, values)
        if problem is None:
            outside = [(i, v) for i, v in enumerate(values) if not lowest <= v <= highest]
            if outside:
                i, value = outside[0]
                problem = (
                    f'cfg["calibration"]["{key}"][{i}] is {value!r}: it must lie {between}, '
                    "where calibrate fits it"
                )
        if problem:
            problems.append(problem)
        elif len(values) not in (1, n_labels):
            problems.append(f"calibration {key} has {len(values)} values for {n_labels} labels")
    return problems


def _bad_numbers(key: str, values: Any, *, scalar: bool = False) -> Optional[str]:
    """A sentence naming the first value of `values` that is not a finite number, or None."""
    shown = f'cfg["calibration"]["{key}"]'
    if not isinstance(values, (list, tuple)):
        return f"{shown} must be a list of numbers, got {values!r}"
    for i, value in enumerate(values):
        where = shown if scalar else f"{shown}[{i}]"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{where} must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"{where} is {value!r}: it must be a finite number"
    return None


def _mahalanobis_problems(stats: Any) -> List[str]:
    if not isinstance(stats, dict) or "means" not in stats or "whiten" not in stats:
        return [
            'cfg["calibration"]["mahalanobis"] must hold the "means" and "whiten" of the '
            "training classes for the mahalanobis score"
        ]
    problems = []
    shapes = {}
    for key in ("means", "whiten"):
        try:
            array = numpy.asarray(stats[key], dtype="f8")
        except (TypeError, ValueError):
            problems.append(f'cfg["calibration"]["mahalanobis"]["{key}"] is not a table of numbers')
            continue
        if array.ndim != 2 or not array.size:
            problems.append(f'cfg["calibration"]["mahalanobis"]["{key}"] is not a table of numbers')
        elif not numpy.isfinite(array).all():
            bad = array[~numpy.isfinite(array)][0]
            problems.append(
                f'cfg["calibration"]["mahalanobis"]["{key}"] holds {float(bad)!r}: every '
                "value must be a finite number"
            )
        else:
            shapes[key] = array.shape
    if len(shapes) == 2 and shapes["means"][1] != shapes["whiten"][1]:
        problems.append(
            f'cfg["calibration"]["mahalanobis"]: "means" has {shapes["means"][1]} columns and '
            f'"whiten" {shapes["whiten"][1]}; they must agree'
        )
    return problems
