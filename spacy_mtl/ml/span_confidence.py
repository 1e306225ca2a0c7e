"""The exact probability, under the CRF, that a span of tokens is one entity of a label.

For a span of tokens i..j (inclusive) labelled L, the event is y_i = B-L, y_{i+1..j} = I-L
and y_{j+1} != I-L (or j is the last token): exactly these tokens form one entity of
this label, whatever the other tokens do. Its probability is

    alpha_i(B-L) * prod_{t=i+1..j} exp(T[y_{t-1}, I-L] + e_t(I-L)) * tail / Z

where alpha_i(B-L) sums every prefix that ends in B-L at i (its emission included), and the
tail sums every suffix after j whose first tag is not I-L (exp(T[y_j, y] + e_{j+1}(y)) times
beta_{j+1}(y)), or is exp(end[y_j]) at the last token. alpha, beta and Z come from one
forward and one backward pass in numpy (no torch, as decoding), in probability space and
rescaled at every token (`_scaled_passes`: a matrix product into the "O" and "B-x" tags
a token; the training pass in `forward_backward.py` keeps log space for what its gradient
needs, which costs more), or in log space for extreme scores (`_dense_passes`). Forbidden BIO
moves weigh e^-10,000 in the model: 0 in float64 next to any allowed path. A product
of per-token maximum marginals is not this probability: it ignores that the tags of
neighbouring tokens are dependent.

All the spans of a padded batch are computed at once: one forward and one backward pass,
then gathers.
"""

from typing import Tuple

import numpy

# Above this `_spread`, values flushed to 0 in the rescaled passes could matter again
# (float64 flushes below e^-708): the log-space passes run instead.
MAX_SCALED_SPREAD = 600.0
# BLAS may sum a row's products in another order when the matrix has another number of
# rows (its kernels work in tiles of 4 to 16 rows, the rest in edge kernels), which moves
# the last bits of a confidence with the document's batch-mates. Every product runs on
# blocks of exactly this many rows, the last padded with zeros, so a document's
# confidences are the same bits in any batch (annotate and serve promise that).
BLOCK_ROWS = 32


def blocked_matmul(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    """a @ b, computed on blocks of BLOCK_ROWS rows: each row's result is independent of the
    other rows of `a` (small enough blocks also keep OpenBLAS on the calling thread)."""
    n_rows = a.shape[0]
    padded = -(-n_rows // BLOCK_ROWS) * BLOCK_ROWS
    if padded != n_rows:
        a = numpy.concatenate([a, numpy.zeros((padded - n_rows, a.shape[1]), dtype=a.dtype)])
    out = numpy.empty((padded, b.shape[1]), dtype=numpy.result_type(a, b))
    for begin in range(0, padded, BLOCK_ROWS):
        numpy.matmul(a[begin : begin + BLOCK_ROWS], b, out=out[begin : begin + BLOCK_ROWS])
    return out[:n_rows]


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
    forbidden = forbidden_moves(transitions.shape[0])
    scored = transitions + penalty * forbidden
    spread = _spread(
        emissions, lengths, transitions[~forbidden], numpy.delete(start, numpy.s_[2::2]), end
    )
    # Each document takes its own path, so its batch-mates cannot move its confidences.
    dense = spread > MAX_SCALED_SPREAD
    if not dense.any() or dense.all():
        return _span_log_probabilities(emissions, lengths, spans, scored, start, end, dense[0])
    result = numpy.empty((len(spans),))
    for group in (~dense, dense):
        docs = numpy.flatnonzero(group)
        new_row = numpy.full(len(lengths), -1)
        new_row[docs] = numpy.arange(len(docs))
        mine = numpy.flatnonzero(group[spans[:, 0]])
        sub_spans = spans[mine].copy()
        sub_spans[:, 0] = new_row[sub_spans[:, 0]]
        result[mine] = _span_log_probabilities(
            emissions[docs], lengths[docs], sub_spans, scored, start, end, group is dense
        )
    return result


def _span_log_probabilities(emissions, lengths, spans, scored, start, end, dense: bool):
    """`span_log_probabilities` on one path: log space (dense) or rescaled."""
    log_alpha, log_beta, log_z = _passes(emissions, lengths, scored, start, end, dense)
    rows, first, stop, label = spans.T
    begin_tag, inside_tag = 2 * label + 1, 2 * label + 2
    head = log_alpha(first, rows, begin_tag)
    inner = _inside_run(emissions, scored, spans)
    last_tag = numpy.where(stop - first > 1, inside_tag, begin_tag)
    tail = _tail(emissions, lengths, scored, end, log_beta, spans, last_tag)
    return numpy.minimum(head + inner + tail - log_z[rows], 0.0)


def _passes(emissions, lengths, scored, start, end, dense: bool):
    """Gatherers of log alpha and log beta, and log Z (see `_scaled_passes`); in log space
    where `dense` (the scores spread too far for the rescaled passes).

    RETURNS: log_alpha(steps, rows, tags) -> values, log_beta(steps, rows) -> (n, tags)
        rows, and log Z (batch,), all float64.
    """
    if dense:
        log_alpha, log_beta, log_z = _dense_passes(emissions, lengths, scored, start, end)
        return (
            (lambda steps, rows, tags: log_alpha[steps, rows, tags]),
            (lambda steps, rows: log_beta[steps, rows]),
            log_z,
        )
    alpha, offsets, beta, b_offsets, log_z = _scaled_passes(emissions, lengths, scored, start, end)

    def scaled_log_alpha(steps, rows, tags):
        with numpy.errstate(divide="ignore"):
            return numpy.log(alpha[steps, rows, tags]) + offsets[steps, rows]

    def scaled_log_beta(steps, rows):
        with numpy.errstate(divide="ignore"):
            return numpy.log(beta[steps, rows]) + b_offsets[steps, rows][:, None]

    return scaled_log_alpha, scaled_log_beta, log_z


def _spread(emissions, lengths, allowed, starts, end) -> numpy.ndarray:
    """How far the scores can pull two paths of a document apart and back: twice the largest
    spread of one token's emissions and of the allowed transitions, plus the spreads of the
    allowed start scores and of the end scores. RETURNS: (batch,) float64."""
    real = numpy.arange(emissions.shape[1])[None, :] < lengths[:, None]
    per_token = numpy.where(real, emissions.max(axis=2) - emissions.min(axis=2), 0.0)
    return (
        2 * (per_token.max(axis=1) + numpy.ptp(allowed)) + numpy.ptp(starts) + numpy.ptp(end)
    ).astype("float64")


def _scaled_passes(emissions, lengths, scored, start, end):
    """Forward and backward in probability space, in float64, each token's row rescaled by
    its largest value (kept in the offsets).

    The BIO layout makes a step cheap: "O" and "B-x" may follow any tag (a matrix product
    into those columns), "I-x" only "B-x" and "I-x" (two products of vectors). Forbidden
    moves are left out: they weigh e^-10,000 in the model, 0 in float64 next to any
    allowed path. A value flushed to 0 (e^-700 below its row's best) could regain at most
    `_spread` later, so it stays negligible while that is below MAX_SCALED_SPREAD;
    otherwise `_dense_passes` runs.

    RETURNS: alpha (time, batch, tags) and its (time, batch) offsets, beta and its offsets
        (log alpha = log(alpha) + offsets; beta leaves out its token's emission and is the
        end scores at a row's last token), and log Z (batch,).
    """
    emissions = emissions.astype("float64")
    n_docs, n_steps, n_tags = emissions.shape
    e_top = emissions.max(axis=2)
    exp_e = numpy.exp(emissions - e_top[:, :, None])
    moves = _Moves(scored)
    alpha = numpy.empty((n_steps, n_docs, n_tags))
    offsets = numpy.empty((n_steps, n_docs))
    first = numpy.exp(start - start.max()) * exp_e[:, 0]
    top = first.max(axis=1)
    alpha[0], offsets[0] = first / top[:, None], numpy.log(top) + start.max() + e_top[:, 0]
    for t in range(1, n_steps):
        step = moves.forward(alpha[t - 1]) * exp_e[:, t]
        top = step.max(axis=1)
        active = t < lengths
        alpha[t] = numpy.where(active[:, None], step / top[:, None], alpha[t - 1])
        offsets[t] = offsets[t - 1] + numpy.where(
            active, numpy.log(top) + moves.shift + e_top[:, t], 0
        )
    end_top = float(end.max())
    exp_end = numpy.exp(end - end_top)
    log_z = offsets[-1] + numpy.log((alpha[-1] * exp_end).sum(axis=1)) + end_top
    beta = numpy.empty_like(alpha)
    b_offsets = numpy.empty_like(offsets)
    beta[-1], b_offsets[-1] = exp_end, end_top
    for t in range(n_steps - 2, -1, -1):
        step = moves.backward(exp_e[:, t + 1] * beta[t + 1])
        top = step.max(axis=1)
        active = t + 1 < lengths
        beta[t] = numpy.where(active[:, None], step / top[:, None], exp_end)
        b_offsets[t] = numpy.where(
            active, b_offsets[t + 1] + numpy.log(top) + moves.shift + e_top[:, t + 1], end_top
        )
    return alpha, offsets, beta, b_offsets, log_z


class _Moves:
    """exp(transition - shift) of the allowed moves, split as the BIO layout allows."""

    def __init__(self, scored: numpy.ndarray) -> None:
        n_tags = scored.shape[0]
        self.free = numpy.concatenate([[0], numpy.arange(1, n_tags, 2)])
        self.shift = float(scored[:, self.free].max())
        if n_tags > 1:
            into_inside = numpy.concatenate(
                [numpy.diagonal(scored[1::2, 2::2]), numpy.diagonal(scored[2::2, 2::2])]
            )
            self.shift = max(self.shift, float(into_inside.max()))
        exp_moves = numpy.exp(scored - self.shift)
        self.into_free = numpy.ascontiguousarray(exp_moves[:, self.free])
        self.into_free_t = numpy.ascontiguousarray(self.into_free.T)
        self.begin_to_inside = numpy.diagonal(exp_moves[1::2, 2::2]).copy()
        self.inside_to_inside = numpy.diagonal(exp_moves[2::2, 2::2]).copy()

    def forward(self, previous: numpy.ndarray) -> numpy.ndarray:
        """sum over x of previous[:, x] * exp(move x -> y), for every y."""
        out = numpy.empty_like(previous)
        free = blocked_matmul(previous, self.into_free)
        out[:, 0], out[:, 1::2] = free[:, 0], free[:, 1:]
        out[:, 2::2] = (
            previous[:, 1::2] * self.begin_to_inside + previous[:, 2::2] * self.inside_to_inside
        )
        return out

    def backward(self, ahead: numpy.ndarray) -> numpy.ndarray:
        """sum over y of exp(move x -> y) * ahead[:, y], for every x."""
        out = blocked_matmul(ahead[:, self.free], self.into_free_t)
        inside = ahead[:, 2::2]
        out[:, 1::2] += inside * self.begin_to_inside
        out[:, 2::2] += inside * self.inside_to_inside
        return out


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
