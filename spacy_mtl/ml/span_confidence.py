"""The exact probability, under the CRF, that a span of tokens is one entity of a label.

For a span of tokens i..j (inclusive) labelled L, the event is y_i = B-L, y_{i+1..j} = I-L
and y_{j+1} != I-L (or j is the last token): exactly these tokens form one entity of
this label, whatever the other tokens do. The CRF has start and end scores and forbids
"I-x" after anything but "B-x" and "I-x" by a finite penalty, so its probability is

    alpha_i(B-L) * prod_{t=i+1..j} exp(T[y_{t-1}, I-L] + e_t(I-L)) * tail / Z

where alpha_i(B-L) sums every prefix that ends in B-L at i (its emission and, at the first
token, the start score included), and the tail sums every suffix after j whose first tag is
not I-L (exp(T[y_j, y] + e_{j+1}(y)) times beta_{j+1}(y)), or is exp(end[y_j]) at the last
token. Every path of the event goes through B-L at i and I-L at i+1..j, and the moves
inside the span are the allowed B-L -> I-L and I-L -> I-L: no penalty enters but the
tail's. alpha, beta and Z come from the one forward-backward of the CRF, that of training
(`forward_backward.posteriors`), in log space: O(span length) per entity after it. A
product of per-token maximum marginals is not this probability: it ignores that the tags
of neighbouring tokens are dependent.

All the spans of a padded batch are computed at once: one forward and one backward pass,
then gathers.
"""

import numpy

from .forward_backward import forbidden_moves, posteriors

__all__ = ["forbidden_moves", "span_log_probabilities"]


def span_log_probabilities(
    emissions: numpy.ndarray,
    lengths: numpy.ndarray,
    spans: numpy.ndarray,
    transitions: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
    penalty: float,
) -> numpy.ndarray:
    """log P(exactly these tokens form one entity of this label | x) for each span.

    A document's values are the same bits in any batch (see `forward_backward.BLOCK_ROWS`).

    emissions (numpy.ndarray): (batch, time, tags) scores, padded.
    lengths (numpy.ndarray): (batch,) lengths, each at least 1.
    spans (numpy.ndarray): (spans, 4) ints: row in the batch, first token, end token
        (exclusive), label index (tags 2k+1 "B-k" and 2k+2 "I-k").
    transitions (numpy.ndarray): (tags, tags) scores, from x to, without the penalty.
    start (numpy.ndarray): (tags,) first-tag scores, penalty included.
    end (numpy.ndarray): (tags,) last-tag scores.
    penalty (float): The score added to a forbidden move (negative).
    RETURNS (numpy.ndarray): (spans,) log probabilities, float64, at most 0.
    """
    spans = numpy.asarray(spans, dtype="int64").reshape(-1, 4)
    if not len(spans):
        return numpy.zeros((0,))
    emissions = numpy.asarray(emissions)
    lengths = numpy.asarray(lengths, dtype="int64")
    transitions = numpy.asarray(transitions, dtype="float64")
    start, end = numpy.asarray(start, "float64"), numpy.asarray(end, "float64")
    scored = transitions + penalty * forbidden_moves(transitions.shape[0])
    passes = posteriors(emissions, lengths, transitions, start, end, penalty)
    rows, first, stop, label = spans.T
    begin_tag, inside_tag = 2 * label + 1, 2 * label + 2
    head = passes.log_alpha[first, rows, begin_tag]
    inner = _inside_run(emissions, scored, spans)
    last_tag = numpy.where(stop - first > 1, inside_tag, begin_tag)
    tail = _tail(emissions, lengths, scored, end, passes.log_beta, spans, last_tag)
    return numpy.minimum(head + inner + tail - passes.log_z[rows], 0.0)


def _inside_run(emissions, scored, spans) -> numpy.ndarray:
    """Each span's score from its second token to its last: the moves into I-L and their
    emissions (0 for a one-token span)."""
    rows, first, stop, label = spans.T
    sizes = stop - first - 1
    owner = numpy.repeat(numpy.arange(len(spans)), sizes)
    if not len(owner):
        return numpy.zeros((len(spans),))
    position = numpy.arange(len(owner)) - numpy.repeat(numpy.cumsum(sizes) - sizes, sizes)
    inside_tag = 2 * label[owner] + 2
    previous_tag = numpy.where(position == 0, inside_tag - 1, inside_tag)
    steps = first[owner] + 1 + position
    moves = scored[previous_tag, inside_tag] + emissions[rows[owner], steps, inside_tag]
    return numpy.bincount(owner, weights=moves.astype("float64"), minlength=len(spans))


def _tail(emissions, lengths, scored, end, log_beta, spans, last_tag) -> numpy.ndarray:
    """Each span's suffix score: the end score at a row's last token, else the sum over the
    next token's tags other than I-L of move, emission and beta."""
    rows, _, stop, label = spans.T
    at_end = stop >= lengths[rows]
    following = numpy.minimum(stop, emissions.shape[1] - 1)
    ahead = scored[last_tag] + emissions[rows, following].astype("float64")
    ahead += log_beta[following, rows]
    ahead[numpy.arange(len(spans)), 2 * label + 2] = -numpy.inf
    top = ahead.max(axis=1)
    summed = top + numpy.log(numpy.exp(ahead - top[:, None]).sum(axis=1))
    return numpy.where(at_end, end[last_tag], summed)
