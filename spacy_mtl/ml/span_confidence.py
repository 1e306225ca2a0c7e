"""The exact probability, under the CRF, that a span of tokens is one entity of a label.

For a span of tokens i..j (inclusive) labelled L, the event is y_i = B-L, y_{i+1..j} = I-L
and y_{j+1} != I-L (or j is the last token): exactly these tokens form one entity of
this label, whatever the other tokens do. Its probability is

    alpha_i(B-L) * prod_{t=i+1..j} exp(T[y_{t-1}, I-L] + e_t(I-L)) * tail / Z

where alpha_i(B-L) sums every prefix that ends in B-L at i (its emission included), and the
tail sums every suffix after j whose first tag is not I-L (exp(T[y_j, y] + e_{j+1}(y)) times
beta_{j+1}(y)), or is exp(end[y_j]) at the last token. alpha, beta and Z come from the
forward-backward pass in `forward_backward.py` (numpy, no torch); the forbidden BIO moves
keep the CRF's finite penalty, as in training and decoding, so this is the model's own
distribution. A product of per-token maximum marginals is not this probability: it ignores
that the tags of neighbouring tokens are dependent.

All the spans of a padded batch are computed at once: one forward and one backward pass,
then gathers.
"""

from typing import Tuple

import numpy

from . import forward_backward


def forbidden_moves(n_tags: int) -> numpy.ndarray:
    """(tags, tags) True where the BIO layout forbids a move: into "I-x" from other than
    "B-x" or "I-x" (the layout of `crf.py`: "O", then "B-x", "I-x" per label)."""
    forbidden = numpy.zeros((n_tags, n_tags), dtype=bool)
    forbidden[:, 2::2] = True
    labels = numpy.arange((n_tags - 1) // 2)
    forbidden[2 * labels + 1, 2 * labels + 2] = False
    forbidden[2 * labels + 2, 2 * labels + 2] = False
    return forbidden


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
    log_alpha, log_beta, log_z = _passes(emissions, lengths, (transitions, scored), start, end)
    rows, first, stop, label = spans.T
    begin_tag, inside_tag = 2 * label + 1, 2 * label + 2
    head = log_alpha(first, rows, begin_tag)
    inner = _inside_run(emissions, scored, spans)
    last_tag = numpy.where(stop - first > 1, inside_tag, begin_tag)
    tail = _tail(emissions, lengths, scored, end, log_beta, spans, last_tag)
    return numpy.minimum(head + inner + tail - log_z[rows], 0.0)


def _passes(emissions, lengths, transitions, start, end):
    """Gatherers of log alpha and log beta, and log Z, from the forward-backward pass.

    transitions: the transition scores without and with the penalty on forbidden moves.
    RETURNS: log_alpha(steps, rows, tags) -> values, log_beta(steps, rows) -> (n, tags)
        rows, and log Z (batch,), all float64.
    """
    raw, scored = transitions
    penalty = float((scored - raw).min(initial=0.0))
    state = forward_backward.forward(emissions, lengths, raw, start, end, penalty)
    if state is None:  # transitions spread too far for the rescaled products
        alpha, beta, log_z = _dense_passes(emissions, lengths, scored, start, end)
        offsets = b_offsets = numpy.zeros(alpha.shape[:2])
    else:
        alpha, offsets, log_z = state.alpha, state.offsets, state.log_z
        beta, b_offsets = state.suffix_scores()

    def log_alpha(steps, rows, tags):
        return alpha[steps, rows, tags].astype("float64") + offsets[steps, rows]

    def log_beta(steps, rows):
        return beta[steps, rows].astype("float64") + b_offsets[steps, rows][:, None]

    return log_alpha, log_beta, log_z


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
    ahead += log_beta(following, rows)
    ahead[numpy.arange(len(spans)), 2 * label + 2] = -numpy.inf
    top = ahead.max(axis=1)
    summed = top + numpy.log(numpy.exp(ahead - top[:, None]).sum(axis=1))
    return numpy.where(at_end, end[last_tag], summed)


def _dense_passes(
    emissions: numpy.ndarray,
    lengths: numpy.ndarray,
    scored: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Forward and backward in log space over (batch, tags, tags): slow, for any scores.

    RETURNS: log alpha and log beta (time, batch, tags), as `forward_backward` lays them
        out, and log Z (batch,).
    """
    emissions = emissions.astype("float64")
    n_docs, n_steps, n_tags = emissions.shape
    alpha = numpy.empty((n_steps, n_docs, n_tags))
    beta = numpy.empty_like(alpha)
    alpha[0] = start + emissions[:, 0]
    for t in range(1, n_steps):
        step = _logsumexp(alpha[t - 1][:, :, None] + scored[None], axis=1) + emissions[:, t]
        alpha[t] = numpy.where((t < lengths)[:, None], step, alpha[t - 1])
    beta[-1] = end
    for t in range(n_steps - 2, -1, -1):
        ahead = emissions[:, t + 1] + beta[t + 1]
        step = _logsumexp(scored[None] + ahead[:, None, :], axis=2)
        beta[t] = numpy.where((t + 1 < lengths)[:, None], step, end)
    log_z = _logsumexp(alpha[-1] + end, axis=1)
    return alpha, beta, log_z


def _logsumexp(values: numpy.ndarray, axis: int) -> numpy.ndarray:
    top = values.max(axis=axis, keepdims=True)
    top = numpy.where(numpy.isfinite(top), top, 0.0)
    return numpy.log(numpy.exp(values - top).sum(axis=axis)) + numpy.squeeze(top, axis=axis)
