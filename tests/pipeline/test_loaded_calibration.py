"""A stored calibration is checked when the pipeline loads: a value that is not a finite number
(1e400 in a hand-edited cfg reads as inf) fails to load, naming the component, the key and the
value, instead of making every probability NaN."""

import json
import math
import shutil

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_mtl.pipeline.checked_loading import ComponentLoadError
from spacy_mtl.pipeline.entity_confidence import check_calibration as check_entity_calibration
from spacy_mtl.pipeline.intent_confidence import CalibrationError, IntentCalibration

TEXT = "fly from oslo to lima tomorrow"
# What JSON writes for a number beyond float64: srsly reads it as inf (NaN is no JSON at all).
HUGE = "1e400"


def _calibration(**changes):
    calibration = {
        "method": "temperature",
        "scale": [1.0],
        "bias": None,
        "temperature": 1.0,
        "score": "max_prob",
        "threshold": 0.2,
        "chosen_for": "a test",
        "score_quantiles": None,
        "mahalanobis": None,
    }
    calibration.update(changes)
    return calibration


@pytest.fixture
def pipeline(served_pipeline, tmp_path):
    """A copy of the session's trained pipeline, free to edit."""
    path = tmp_path / "pipeline"
    shutil.copytree(served_pipeline, path)
    return path


def _store(path, component, key, calibration):
    """Write `calibration` into the component's cfg, the text "HUGE" as the number 1e400."""
    cfg_path = path / component / "cfg"
    cfg = json.loads(cfg_path.read_text(encoding="utf8"))
    cfg[key] = calibration
    text = json.dumps(cfg).replace('"-HUGE"', f"-{HUGE}").replace('"HUGE"', HUGE)
    cfg_path.write_text(text, encoding="utf8")


def test_a_good_stored_calibration_loads_and_predicts(pipeline):
    _store(pipeline, "mtl_textcat", "calibration", _calibration(scale=[0.5]))
    platt = {"method": "platt", "slope": 0.5, "intercept": 0.1}
    _store(pipeline, "mtl_ner", "confidence_calibration", platt)
    doc = spacy.load(pipeline)(TEXT)
    assert all(math.isfinite(p) for p in doc.cats.values())
    assert 0.0 <= doc._.intent_confidence <= 1.0


@pytest.mark.parametrize(
    "changes,named",
    [
        ({"scale": ["HUGE"]}, 'cfg["calibration"]["scale"][0] is inf'),
        ({"scale": [0.0]}, '["scale"][0] is 0.0: it must lie between 0.01 and 10'),
        ({"scale": [1e308]}, 'cfg["calibration"]["scale"][0] is 1e+308: it must lie between'),
        ({"bias": [0.0, "-HUGE", 0.0]}, 'cfg["calibration"]["bias"][1] is -inf'),
        ({"threshold": "HUGE"}, 'cfg["calibration"]["threshold"] is inf'),
        (
            {"score": "energy", "score_quantiles": [0.0, "HUGE"]},
            'cfg["calibration"]["score_quantiles"][1] is inf',
        ),
        (
            {"score": "energy", "score_quantiles": [2.0, 1.0]},
            'cfg["calibration"]["score_quantiles"] must not decrease',
        ),
        (
            {"score": "mahalanobis", "mahalanobis": {"means": [["HUGE"]], "whiten": [[1.0]]}},
            'cfg["calibration"]["mahalanobis"]["means"] holds inf',
        ),
        ({"score": "mahalanobis"}, 'cfg["calibration"]["mahalanobis"] must hold'),
    ],
)
def test_a_non_finite_intent_calibration_fails_to_load_naming_the_key(pipeline, changes, named):
    _store(pipeline, "mtl_textcat", "calibration", _calibration(**changes))
    with pytest.raises(ComponentLoadError) as err:
        spacy.load(pipeline)
    message = str(err.value)
    assert "'mtl_textcat'" in message and str(pipeline / "mtl_textcat") in message
    assert named in message, message
    assert "python -m spacy_mtl calibrate again" in message


@pytest.mark.parametrize(
    "calibration,named",
    [
        ({"method": "platt", "slope": "HUGE", "intercept": 0.0}, "['slope']"),
        ({"method": "temperature", "temperature": "HUGE"}, "['temperature']"),
    ],
)
def test_a_non_finite_entity_calibration_fails_to_load_naming_the_key(pipeline, calibration, named):
    _store(pipeline, "mtl_ner", "confidence_calibration", calibration)
    with pytest.raises(ComponentLoadError) as err:
        spacy.load(pipeline)
    message = str(err.value)
    assert "'mtl_ner'" in message and f"confidence_calibration{named}" in message
    assert "got inf" in message and "python -m spacy_mtl calibrate" in message, message


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e308, -1e308, 10**20, float("nan"), float("inf")]),
    st.integers(min_value=-(10**20), max_value=10**20),
)


@settings(max_examples=200, deadline=None)
@given(
    scale=st.lists(NUMBERS, min_size=1, max_size=3),
    bias=st.one_of(st.none(), st.lists(NUMBERS, min_size=3, max_size=3)),
    threshold=st.one_of(st.none(), NUMBERS),
)
def test_a_calibration_is_refused_by_name_or_gives_finite_probabilities(scale, bias, threshold):
    calibration = _calibration(scale=scale, bias=bias, threshold=threshold)
    values = scale + (bias or []) + ([] if threshold is None else [threshold])
    try:
        checked = IntentCalibration.from_dict(calibration, n_labels=3, where="Component 'c'")
    except CalibrationError as err:
        assert str(err).startswith("Component 'c': ") and err.problems, calibration
        assert all('cfg["calibration"]' in p or "values for 3 labels" in p for p in err.problems)
        return
    assert all(math.isfinite(v) for v in values) and len(scale) != 2, calibration
    assert checked.to_dict() == calibration
    logits = [[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [30.0, -30.0, 0.0]]
    scores = checked.scores(logits, None, True)
    assert all(math.isfinite(p) for row in scores.probs.tolist() for p in row), calibration
    assert all(0.0 <= c <= 1.0 for c in scores.confidence.tolist())


@settings(max_examples=100, deadline=None)
@given(slope=NUMBERS, intercept=NUMBERS)
def test_an_entity_calibration_is_finite_or_refused_by_name(slope, intercept):
    calibration = {"method": "platt", "slope": slope, "intercept": intercept}
    if math.isfinite(slope) and math.isfinite(intercept):
        check_entity_calibration(calibration, "Component 'mtl_ner'")
    else:
        with pytest.raises(ValueError, match=r"Component 'mtl_ner'.*confidence_calibration\["):
            check_entity_calibration(calibration, "Component 'mtl_ner'")
