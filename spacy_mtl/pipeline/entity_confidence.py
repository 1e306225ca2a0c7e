"""`Span._.confidence`: how sure `mtl_ner` is of each entity it predicts, and its calibration.

The confidence is the probability under the CRF that exactly the entity's tokens form one
entity of its label (spacy_mtl/ml/span_confidence.py), calibrated when the head's cfg holds
a calibration (`spacy_mtl.calibrate.entities.fit_entity_calibration` fits and stores it):

- `{"method": "temperature", "temperature": T}`: every CRF score is divided by T before
  the span probability is computed. The best path, so the entities, stay as they are.
- `{"method": "platt", "slope": a, "intercept": b}`: sigmoid(a * logit(p) + b) of the
  span probability p.

The values live in `doc.user_data` (spaCy keeps a Span extension's value there, by the
span's character offsets), so they travel with `Doc.to_bytes`, `DocBin(store_user_data=
True)` and `nlp.pipe(n_process=N)`. A span the head did not predict reads None.
"""

import math
from typing import Any, Dict, Iterable, Optional, Sequence

import numpy
from spacy.tokens import Doc, Span

EXTENSION = "confidence"
# Where mtl_ner keeps its calibration, in its cfg (saved with the pipeline).
CALIBRATION_KEY = "confidence_calibration"
METHODS = {"temperature": ("temperature",), "platt": ("slope", "intercept")}
# What to do about a stored calibration that cannot be used.
REFIT = (
    "Restore the file, or run `python -m spacy_mtl calibrate` again on the trained pipeline "
    "(or set it to null for uncalibrated confidences)."
)
# logit(p) is taken at most this far from 0: the float32 forward pass keeps log p to about
# 1e-6, so 1 - p below that is noise.
MAX_LOGIT = 13.0

if not Span.has_extension(EXTENSION):
    Span.set_extension(EXTENSION, default=None)


def entity_confidence(span: Span) -> Optional[float]:
    """The confidence `mtl_ner` gave an entity, or None (not predicted by it, or off)."""
    return span._.get(EXTENSION)


def set_confidences(doc: Doc, spans: Sequence[Span], values: Optional[Iterable[float]]) -> None:
    """Give each span its confidence; values from an earlier run on the document go first."""
    stale = [key for key in doc.user_data if _is_confidence_key(key)]
    for key in stale:
        del doc.user_data[key]
    if values is None:
        return
    for span, value in zip(spans, values):
        span._.set(EXTENSION, float(value))


def _is_confidence_key(key: Any) -> bool:
    return isinstance(key, tuple) and len(key) == 4 and key[:2] == ("._.", EXTENSION)


def check_calibration(calibration: Any, where: str) -> None:
    """Raise ValueError, naming `where`, the key and the value, if a stored calibration is not
    one this module reads: a NaN or infinite slope (1e400 in a hand-edited cfg) would make
    every confidence NaN."""
    if calibration is None:
        return
    method = calibration.get("method") if isinstance(calibration, dict) else None
    if method not in METHODS:
        raise ValueError(
            f"{where}: {CALIBRATION_KEY} must be null or a dict with a 'method' of "
            f"{sorted(METHODS)}, got {calibration!r}. {REFIT}"
        )
    for key in METHODS[method]:
        value = calibration.get(key)
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise ValueError(
                f"{where}: {CALIBRATION_KEY}[{key!r}] of the {method} calibration must be a "
                f"finite number, got {value!r}. {REFIT}"
            )
    if method == "temperature" and calibration["temperature"] <= 0:
        raise ValueError(
            f"{where}: {CALIBRATION_KEY}['temperature'] is {calibration['temperature']!r}: the "
            f"temperature must be above 0. {REFIT}"
        )


def check_confidence_settings(
    name: str, confidences: bool, confidence_threshold: Optional[float]
) -> None:
    """Raise ValueError naming the setting if the confidence settings cannot work."""
    key = f"[components.{name}]"
    if confidence_threshold is None:
        return
    if isinstance(confidence_threshold, bool) or not 0.0 <= confidence_threshold <= 1.0:
        raise ValueError(
            f"{key} confidence_threshold must be null or a probability in [0, 1], "
            f"got {confidence_threshold!r}."
        )
    if not confidences:
        raise ValueError(
            f"{key} confidence_threshold = {confidence_threshold} drops entities by their "
            "confidence, which confidences = false does not compute: set confidences = true "
            "or confidence_threshold = null."
        )


def temperature_of(calibration: Optional[Dict[str, Any]]) -> float:
    """The temperature the CRF's scores are divided by: 1 unless the calibration is one."""
    if calibration and calibration.get("method") == "temperature":
        return float(calibration["temperature"])
    return 1.0


def calibrated(log_probs: numpy.ndarray, calibration: Optional[Dict[str, Any]]) -> numpy.ndarray:
    """The confidences of spans with these log probabilities (at `temperature_of` already).

    log_probs (numpy.ndarray): (spans,) log probabilities under the CRF.
    calibration (Optional[Dict[str, Any]]): The head's stored calibration, or None.
    RETURNS (numpy.ndarray): (spans,) confidences in [0, 1].
    """
    log_probs = numpy.minimum(numpy.asarray(log_probs, dtype="float64"), 0.0)
    if not calibration or calibration.get("method") != "platt":
        return numpy.exp(log_probs)
    logits = span_logits(log_probs)
    return _sigmoid(calibration["slope"] * logits + calibration["intercept"])


def span_logits(log_probs: numpy.ndarray) -> numpy.ndarray:
    """logit(p) from log p, exact near p = 1 (log(1 - p) by expm1), within +-MAX_LOGIT."""
    log_probs = numpy.minimum(numpy.asarray(log_probs, dtype="float64"), -1e-300)
    with numpy.errstate(divide="ignore"):
        logits = log_probs - numpy.log(-numpy.expm1(log_probs))
    return numpy.clip(logits, -MAX_LOGIT, MAX_LOGIT)


def _sigmoid(x: numpy.ndarray) -> numpy.ndarray:
    return 0.5 * (1.0 + numpy.tanh(0.5 * x))
