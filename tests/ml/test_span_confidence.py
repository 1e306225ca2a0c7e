"""Span probabilities under the CRF against brute-force enumeration of every tag sequence."""

import itertools

import numpy
import pytest

from spacy_mtl.ml import span_confidence
from spacy_mtl.ml.span_confidence import forbidden_moves, span_log_probabilities

PENALTY = -10000.0


def _random_crf(rng, n_labels, scale=2.0):
    n_tags = 1 + 2 * n_labels
    transitions = rng.normal(size=(n_tags, n_tags)) * scale
    start = rng.normal(size=n_tags) * scale
    start[2::2] += PENALTY  # no "I-x" first, as the CRF's start penalty says
    end = rng.normal(size=n_tags) * scale
    return transitions, start, end


def _all_spans(rows_lengths, n_labels):
    """Every (row, first, end, label) of every row: all the events a decoder could name."""
    return numpy.array(
        [
            (row, first, stop, label)
            for row, length in enumerate(rows_lengths)
            for first in range(length)
            for stop in range(first + 1, length + 1)
            for label in range(n_labels)
        ]
    )


def _brute_force(emissions, length, transitions, start, end, span):
    """P(span) by enumerating every tag sequence of one row, forbidden ones at the penalty."""
    n_tags = transitions.shape[0]
    scored = transitions + PENALTY * forbidden_moves(n_tags)
    paths = numpy.array(list(itertools.product(range(n_tags), repeat=length)))
    steps = numpy.arange(length)
    scores = start[paths[:, 0]] + end[paths[:, -1]] + emissions[steps, paths].sum(axis=1)
    if length > 1:
        scores = scores + scored[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    _, first, stop, label = span
    begin, inside = 2 * label + 1, 2 * label + 2
    event = paths[:, first] == begin
    for t in range(first + 1, stop):
        event &= paths[:, t] == inside
    if stop < length:
        event &= paths[:, stop] != inside
    top = scores.max()
    weights = numpy.exp(scores - top)
    return weights[event].sum() / weights.sum()


@pytest.mark.parametrize("n_labels", [1, 2])
@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_span_probabilities_equal_brute_force(n_labels, scale):
    """Random CRFs and batches of rows of lengths 1 to 5 (padded), every span of every row:
    first and last tokens, one-token rows, with start and end scores."""
    rng = numpy.random.default_rng(n_labels * 7 + int(scale))
    for _ in range(6):
        transitions, start, end = _random_crf(rng, n_labels, scale)
        lengths = rng.integers(1, 6, size=3)
        lengths[0] = 1
        emissions = (rng.normal(size=(3, lengths.max(), len(start))) * scale).astype("float32")
        spans = _all_spans(lengths, n_labels)
        got = numpy.exp(
            span_log_probabilities(emissions, lengths, spans, transitions, start, end, PENALTY)
        )
        expected = [
            _brute_force(emissions[row].astype("float64"), lengths[row], transitions, start, end, s)
            for s, row in zip(spans, spans[:, 0])
        ]
        numpy.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-7)


def test_the_slow_path_for_widely_spread_transitions_equals_brute_force():
    """Transitions spread beyond what the rescaled products take run in log space."""
    rng = numpy.random.default_rng(3)
    transitions, start, end = _random_crf(rng, 2, 2.0)
    transitions[0, 1] = 700.0  # spread above forward_backward's float64 limit
    lengths = numpy.array([4, 2])
    emissions = rng.normal(size=(2, 4, 5)).astype("float32")
    spans = _all_spans(lengths, 2)
    got = numpy.exp(
        span_log_probabilities(emissions, lengths, spans, transitions, start, end, PENALTY)
    )
    expected = [
        _brute_force(emissions[s[0]].astype("float64"), lengths[s[0]], transitions, start, end, s)
        for s in spans
    ]
    numpy.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_probabilities_lie_in_0_1_and_alternatives_sum_to_at_most_1():
    """Spans that share a first token (or overlap) are exclusive events: their probabilities
    sum to at most 1; all the spans that start at a token sum to P(B at that token)."""
    rng = numpy.random.default_rng(5)
    n_labels = 3
    transitions, start, end = _random_crf(rng, n_labels, 3.0)
    lengths = numpy.array([7])
    emissions = (rng.normal(size=(1, 7, 7)) * 3).astype("float32")
    spans = _all_spans(lengths, n_labels)
    probs = numpy.exp(
        span_log_probabilities(emissions, lengths, spans, transitions, start, end, PENALTY)
    )
    assert ((probs >= 0) & (probs <= 1)).all()
    for token in range(7):
        covering = (spans[:, 1] <= token) & (spans[:, 2] > token)
        # Spans covering a token are disjoint events (the token has one tag and one entity).
        assert probs[covering].sum() <= 1 + 1e-5


def test_extreme_scores_give_certain_spans_and_no_nan():
    """Emissions of +-1e4 (forced tags) give probabilities of 1 and 0, never NaN."""
    transitions = numpy.zeros((3, 3))
    start = numpy.array([0.0, 0.0, PENALTY])
    end = numpy.zeros(3)
    emissions = numpy.full((1, 3, 3), -1e4, dtype="float32")
    emissions[0, 0, 1] = emissions[0, 1, 2] = emissions[0, 2, 0] = 1e4  # B I O
    spans = numpy.array([[0, 0, 2, 0], [0, 0, 1, 0], [0, 1, 2, 0]])
    probs = numpy.exp(
        span_log_probabilities(emissions, numpy.array([3]), spans, transitions, start, end, PENALTY)
    )
    assert not numpy.isnan(probs).any()
    numpy.testing.assert_allclose(probs, [1.0, 0.0, 0.0], atol=1e-6)


def test_no_spans_give_an_empty_result():
    out = span_log_probabilities(
        numpy.zeros((1, 2, 3), "float32"),
        numpy.array([2]),
        numpy.zeros((0, 4), "int64"),
        numpy.zeros((3, 3)),
        numpy.zeros(3),
        numpy.zeros(3),
        PENALTY,
    )
    assert out.shape == (0,)


def test_forbidden_moves_are_the_bio_layout():
    forbidden = forbidden_moves(5)  # O B-x I-x B-y I-y
    assert forbidden[0, 2] and forbidden[3, 2] and forbidden[4, 2] and forbidden[0, 4]
    assert not forbidden[1, 2] and not forbidden[2, 2] and not forbidden[3, 4]
    assert not forbidden[:, [0, 1, 3]].any()
    assert span_confidence.forbidden_moves(1).shape == (1, 1)


def test_a_documents_probabilities_do_not_depend_on_its_batch_mates():
    """The same bits alone and in batches of other sizes and mates, including a mate whose
    scores spread far enough for the log-space path: annotate and serve promise identical
    records whatever the batching, and BLAS sums a row differently in matrices of other shapes."""
    rng = numpy.random.default_rng(3)
    n_labels = 30  # 61 tags: products big enough for BLAS's blocked kernels
    transitions, start, end = _random_crf(rng, n_labels, scale=1.0)
    n_docs, width = 45, 9
    lengths = rng.integers(1, width + 1, size=n_docs)
    emissions = (rng.normal(size=(n_docs, width, len(start))) * 3).astype("float32")
    emissions[7] *= 200  # far spread: this document alone takes the log-space path
    spans = _all_spans(lengths, 2)

    def alone(doc):
        mine = spans[spans[:, 0] == doc].copy()
        mine[:, 0] = 0
        one = emissions[doc : doc + 1, : lengths[doc]]
        return span_log_probabilities(
            one, lengths[doc : doc + 1], mine, transitions, start, end, PENALTY
        )

    batched = span_log_probabilities(emissions, lengths, spans, transitions, start, end, PENALTY)
    for doc in range(n_docs):
        assert batched[spans[:, 0] == doc].tobytes() == alone(doc).tobytes(), doc
    # A batch of other mates, in another order.
    order = numpy.array([9, 7, 3, 44, 0])
    remap = {doc: i for i, doc in enumerate(order)}
    mine = spans[numpy.isin(spans[:, 0], order)].copy()
    expected = batched[numpy.isin(spans[:, 0], order)]
    mine[:, 0] = [remap[d] for d in mine[:, 0]]
    got = span_log_probabilities(
        emissions[order], lengths[order], mine, transitions, start, end, PENALTY
    )
    assert got.tobytes() == expected.tobytes()
