"""The numpy Viterbi decoder against the full (tags x tags) argmax it replaced."""

import numpy
import pytest

from spacy_mtl.ml.crf import FORBIDDEN, bio_constraints
from spacy_mtl.ml.viterbi import _best_predecessors, viterbi


def _full_argmax_viterbi(emissions, lengths, transitions, start, end):
    """The decoder before the constrained one: a full (tags x tags) argmax at every step."""
    score = start + emissions[:, 0]
    history = []
    for t in range(1, emissions.shape[1]):
        candidates = score[:, :, None] + transitions[None]
        best_prev = candidates.argmax(axis=1)
        best = numpy.take_along_axis(candidates, best_prev[:, None, :], axis=1)[:, 0]
        active = (numpy.asarray(lengths) > t)[:, None]
        score = numpy.where(active, best + emissions[:, t], score)
        history.append(best_prev)
    score = score + end
    paths = []
    for b, length in enumerate(lengths):
        tag = int(score[b].argmax())
        path = [tag]
        for t in range(length - 1, 0, -1):
            tag = int(history[t - 1][b, tag])
            path.append(tag)
        paths.append(path[::-1])
    return paths


def _random_decoding_case(rng, n_tags, emission_scale, transition_scale, rounded):
    allowed, start_allowed = (c.numpy() for c in bio_constraints(n_tags))
    n_docs, n_steps = int(rng.integers(1, 12)), int(rng.integers(1, 25))
    emissions = rng.normal(size=(n_docs, n_steps, n_tags)) * emission_scale
    transitions = rng.normal(size=(n_tags, n_tags)) * transition_scale
    if rounded:  # many exact ties
        emissions, transitions = numpy.round(emissions), numpy.round(transitions)
    transitions = transitions + ~allowed * FORBIDDEN
    start = rng.normal(size=n_tags) * transition_scale + ~start_allowed * FORBIDDEN
    end = rng.normal(size=n_tags) * transition_scale
    lengths = [int(n) for n in rng.integers(1, n_steps + 1, size=n_docs)]
    return (
        emissions.astype("float32"),
        lengths,
        transitions.astype("float32"),
        start.astype("float32"),
        end.astype("float32"),
    )


@pytest.mark.parametrize("n_tags", [1, 3, 7, 41, 161])
def test_constrained_viterbi_equals_the_full_argmax(n_tags):
    """Peaked emissions with small transitions (a trained model: few candidates) and flat
    ones with large transitions (the dense fallback); rounded scores make ties."""
    rng = numpy.random.default_rng(n_tags)
    for case in range(60):
        emission_scale, transition_scale = [(10.0, 0.3), (0.5, 3.0), (1.0, 1.0)][case % 3]
        args = _random_decoding_case(rng, n_tags, emission_scale, transition_scale, case % 2)
        assert viterbi(*args) == _full_argmax_viterbi(*args), case


@pytest.mark.parametrize("spread", [0.1, 30.0])
def test_best_predecessors_equal_the_dense_max(spread):
    """Both branches: a wide spread of scores leaves a few candidates, a narrow one all."""
    rng = numpy.random.default_rng(7)
    n_tags, n_columns = 81, 41
    for rounded in (False, True):
        score = rng.normal(size=(16, n_tags)) * spread
        into = rng.normal(size=(n_tags, n_columns))
        if rounded:
            score, into = numpy.round(score), numpy.round(into)
        score, into = score.astype("float32"), into.astype("float32")
        came_from, best = _best_predecessors(score, into, into.min(axis=1), into.max(axis=1))
        totals = score[:, :, None] + into[None]
        assert numpy.array_equal(came_from, totals.argmax(axis=1))
        assert numpy.array_equal(best, totals.max(axis=1))


def test_viterbi_of_empty_inputs():
    transitions, start, end = numpy.zeros((3, 3), "f"), numpy.zeros(3, "f"), numpy.zeros(3, "f")
    assert viterbi(numpy.zeros((0, 0, 3), "f"), [], transitions, start, end) == []
