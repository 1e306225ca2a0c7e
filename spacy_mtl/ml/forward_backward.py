"""The CRF's log partition and its exact gradient by the forward-backward algorithm, in numpy.

Why not torch autograd: a loop over tokens of small torch operations costs about 10 µs an
operation forward and more backward, and torch runs them on its intra-op thread pool, whose
spinning threads contend with every other process on a busy machine. Here a token is a
handful of numpy operations on (documents, tags) arrays and matrix products kept small
enough that OpenBLAS runs them on the calling thread (`MAX_GEMM_WORK`); the backward pass
gives the marginals, which are the gradient, directly.

Exactness, under the BIO layout of `crf.py` (tag 0 "O", 2x+1 "B-x", 2x+2 "I-x"). Scores are
normalised at every step (each row's best tag at 0, what was taken out summed in float64).
A step sums its predecessors as a product in probability space: exp(scores) @
exp(transitions - their maximum). Every column of that product has the row's best tag
among its terms, so its sum is at least exp(-spread of the transitions), and nothing that
matters underflows while the spread stays below `MAX_SPREAD`. "O" and "B-x" may follow any
tag: the product is their exact sum. An "I-x" may follow "B-x" and "I-x" (two terms, added
in log space) or, at a penalty of -10,000, any other tag: that part is a product into the
"I-x" columns plus the penalty, which also counts the two allowed terms, 10,000 below their
exact value, a relative error of e^-10000. It is computed only for the rows where it can
reach within e^-MARGIN of an "I-x" score (an "I-x" whose allowed predecessors are excluded
or 10,000 down); elsewhere it is below float64's precision. So invalid gold sequences and
partial annotation are exact too, and no case needs a slower path but transitions spread
beyond `MAX_SPREAD`.

float32 keeps about 1e-6 of relative precision while emissions, transitions and end
scores stay within `FLOAT32_LIMIT`; beyond it the same passes run in float64, as does a
pass in which a row's best score came through a forbidden move (an invalid gold sequence):
float32 would keep only 1e-3 of the penalty in the offsets.
"""

from typing import Callable, NamedTuple, Optional

import numpy

# The largest span of transition scores the rescaled product takes, by precision: its column
# sums stay above e^-MAX_SPREAD, far above the smallest normal number.
MAX_SPREAD = {numpy.float32: 50.0, numpy.float64: 600.0}
# Emission, transition and end scores of at most this size run in float32.
FLOAT32_LIMIT = 200.0
# Scores this far below a row's best weigh e^-40 next to it: below float64's precision.
MARGIN = 40.0
# A score at or below this marks a tag excluded by a known gold tag (crf.EXCLUDED is -1e30).
EXCLUDED_BELOW = -1e29
# rows x inner x columns of one matrix product: below 2 x 65536 x 4, OpenBLAS (numpy's
# BLAS) computes it on the calling thread, so no BLAS thread pool spins on a busy machine
# (measured: 16 µs for 60 x 159 x 80 on one thread, 890 µs for 80 x 159 x 80 on its pool).
MAX_GEMM_WORK = 500_000


class Gradients(NamedTuple):
    emissions: numpy.ndarray  # (batch, time, tags)
    transitions: numpy.ndarray  # (tags, tags)
    start: numpy.ndarray  # (tags,)
    end: numpy.ndarray  # (tags,)


def forward(
    emissions: numpy.ndarray,
    lengths: numpy.ndarray,
    transitions: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
    penalty: float,
) -> Optional["ForwardPass"]:
    """The forward pass of padded emissions, or None when the transitions spread too far.

    emissions (numpy.ndarray): (batch, time, tags) scores; about -1e30 for excluded tags.
    lengths (numpy.ndarray): (batch,) lengths, each at least 1.
    transitions (numpy.ndarray): (tags, tags) scores, from x to, without the penalty.
    start (numpy.ndarray): (tags,) first-tag scores, penalty included.
    end (numpy.ndarray): (tags,) last-tag scores.
    penalty (float): The score added to every forbidden transition (negative).
    RETURNS (Optional[ForwardPass]): log Z in `.log_z`; `.backward` gives the gradients.
    """
    transitions = numpy.asarray(transitions, dtype="float64")
    start, end = numpy.asarray(start, "float64"), numpy.asarray(end, "float64")
    spread = float(transitions.max() - transitions.min())
    largest = max(
        float(numpy.abs(numpy.where(emissions > EXCLUDED_BELOW, emissions, 0)).max(initial=0)),
        float(numpy.abs(end).max()),
        float(numpy.abs(transitions).max()),
    )
    if largest <= FLOAT32_LIMIT and spread <= MAX_SPREAD[numpy.float32]:
        dtype = numpy.float32
    elif spread <= MAX_SPREAD[numpy.float64]:
        dtype = numpy.float64
    else:
        return None
    state = ForwardPass(emissions, numpy.asarray(lengths, "int64"), transitions, start, end)
    if not state.run(dtype, float(penalty)):
        state = ForwardPass(emissions, numpy.asarray(lengths, "int64"), transitions, start, end)
        state.run(numpy.float64, float(penalty))
    return state


class ForwardPass:
    """The forward pass of one padded batch, kept for its backward pass (see `forward`)."""

    def __init__(self, emissions, lengths, transitions, start, end) -> None:
        self.emissions = emissions
        self.lengths = lengths
        self.transitions = transitions
        self.start = start
        self.end = end
        self.log_z = numpy.zeros((emissions.shape[0],))

    def run(self, dtype, penalty: float) -> bool:
        """Fill alpha (each row's prefix scores at each step, best at 0), offsets and log Z.

        RETURNS (bool): False when float32 fell short: a row's best score at some step came
            through a forbidden transition (an invalid gold sequence), and the penalty's
            -10,000 would take float32's precision from the offsets.
        """
        self._prepare(dtype, penalty)
        emissions = self.emissions
        n_docs, n_steps, n_tags = emissions.shape
        self.alpha = alpha = numpy.empty((n_steps, n_docs, n_tags), dtype=dtype)
        self.offsets = offsets = numpy.empty((n_steps, n_docs))
        self.forbidden_used = False
        first = self.start + emissions[:, 0].astype("float64")
        top = first.max(axis=1)
        alpha[0], offsets[0] = first - top[:, None], top
        for t in range(1, n_steps):
            previous = alpha[t - 1]
            scores = numpy.empty_like(previous)
            free = numpy.log(one_thread_matmul(numpy.exp(previous), self.exp_free)) + dtype(
                self.shift
            )
            scores[:, 0], scores[:, 1::2] = free[:, 0], free[:, 1:]
            inside = _logaddexp(
                previous[:, 1::2] + self.begin_to_inside, previous[:, 2::2] + self.inside_to_inside
            )
            # Where every allowed path into an "I-x" lies near the penalty's depth, the
            # forbidden ones count: add them for those rows (invalid gold, extreme scores).
            rows = numpy.flatnonzero((inside < self.forbidden_bound + MARGIN).any(axis=1))
            if len(rows):
                mostly_forbidden = self._add_forbidden(previous, inside, rows)
            scores[:, 2::2] = inside
            scores += emissions[:, t]
            top = scores.max(axis=1)
            active = t < self.lengths
            if len(rows) and dtype is numpy.float32:
                # A row's best reached through a forbidden move (an invalid gold sequence):
                # the penalty's -10,000 would enter the offsets, where float32 keeps 1e-3.
                near_top = scores[rows, 2::2] > (top[rows] - MARGIN)[:, None]
                if (mostly_forbidden & near_top & active[rows, None]).any():
                    return False
            alpha[t] = numpy.where(active[:, None], scores - top[:, None], previous)
            offsets[t] = offsets[t - 1] + numpy.where(active, top, 0.0)
        final = alpha[-1].astype("float64") + self.end
        top = final.max(axis=1)
        self.log_z = offsets[-1] + top + numpy.log(numpy.exp(final - top[:, None]).sum(axis=1))
        return True

    def _prepare(self, dtype, penalty: float) -> None:
        """The emissions in `dtype`, and what every step takes from the transitions."""
        self.dtype, self.penalty = dtype, penalty
        self.emissions = self.emissions.astype(dtype, copy=False)
        transitions = self.transitions
        n_tags = transitions.shape[0]
        self.free = numpy.concatenate([[0], numpy.arange(1, n_tags, 2)])
        self.shift = float(transitions.max())
        exp_transitions = numpy.exp(transitions - self.shift).astype(dtype)
        self.exp_free = numpy.ascontiguousarray(exp_transitions[:, self.free])
        self.exp_inside = numpy.ascontiguousarray(exp_transitions[:, 2::2])
        self.begin_to_inside = numpy.diagonal(transitions[1::2, 2::2]).astype(dtype)
        self.inside_to_inside = numpy.diagonal(transitions[2::2, 2::2]).astype(dtype)
        # The most the forbidden transitions into an "I-x" add to a row whose best is 0.
        into_inside = transitions[:, 2::2].copy()
        labels = numpy.arange(into_inside.shape[1])
        into_inside[2 * labels + 1, labels] = into_inside[2 * labels + 2, labels] = -numpy.inf
        self.forbidden_bound = numpy.log(n_tags) + into_inside.max(initial=-1e4) + penalty
        self.forbidden_used = False

    def _add_forbidden(self, previous, inside, rows) -> numpy.ndarray:
        """Add the forbidden moves into the "I-x" scores of `rows`, in place.

        RETURNS (numpy.ndarray): (rows, labels) where those moves carry most of the score.
        """
        self.forbidden_used = True
        forbidden = numpy.log(one_thread_matmul(numpy.exp(previous[rows]), self.exp_inside))
        forbidden += self.dtype(self.shift + self.penalty)
        mostly_forbidden = inside[rows] < forbidden + MARGIN
        inside[rows] = _logaddexp(inside[rows], forbidden)
        return mostly_forbidden

    def backward(self, d_log_z: numpy.ndarray) -> Gradients:
        """The gradient of sum(d_log_z * log Z) by the emissions, transitions, start and end.

        That of the emissions is each row's tag marginals times its d_log_z; that of the
        transitions the pairwise marginals, weighted by row and summed over the tokens.
        """
        emissions, dtype, lengths, free = self.emissions, self.dtype, self.lengths, self.free
        n_docs, n_steps, n_tags = emissions.shape
        n_labels = (n_tags - 1) // 2
        beta, b_offsets, next_free, next_inside, free_top, inside_top = self._beta_pass()
        valid = numpy.arange(n_steps)[:, None] < lengths[None, :]  # (time, batch)
        weights = numpy.asarray(d_log_z, dtype="float64")
        # Each token's log of (marginal / (alpha x beta)): the same for every tag.
        norm = self.offsets + b_offsets - self.log_z[None, :]
        marginals = numpy.exp(self.alpha + beta + norm[:, :, None].astype(dtype))
        marginals *= (valid * weights[None, :])[:, :, None].astype(dtype)
        d_start = marginals[0].sum(axis=0)
        d_end = marginals[lengths - 1, numpy.arange(n_docs)].sum(axis=0)
        d_transitions = numpy.zeros((n_tags, n_tags))
        if n_steps > 1:
            pairs = valid[1:]
            # log of (pairwise marginal / (exp(alpha[t-1]) x exp(next scores) x exp(transition)))
            pair_norm = self.offsets[:-1] + b_offsets[1:] - self.log_z[None, :] + self.shift
            previous = numpy.exp(self.alpha[:-1])
            d_transitions[:, free] = self.exp_free * self._pair_sums(
                previous, next_free[1:], pair_norm + free_top[1:], pairs, weights
            )
            if n_labels and self.forbidden_used:
                # Otherwise every forbidden move weighs below e^-MARGIN of its column: 0.
                into_inside = self._pair_sums(
                    previous,
                    next_inside[1:],
                    pair_norm + inside_top[1:] + self.penalty,
                    pairs,
                    weights,
                )
                d_transitions[:, 2::2] = self.exp_inside * into_inside
            if n_labels:
                self._allowed_into_inside(
                    d_transitions, beta, pair_norm - self.shift, pairs, weights
                )
        return Gradients(marginals.transpose(1, 0, 2), d_transitions, d_start, d_end)

    def _beta_pass(self):
        """The backward pass: beta[t] holds each row's scores of the suffixes after t (its
        emission at t left out), best at 0, and b_offsets what was taken out; past a row's
        last token, its end scores. Also, for the pairwise marginals, exp(next step's scores
        less their maximum) into "O"/"B-x" and into "I-x", and those maxima.
        """
        emissions, dtype, lengths, free = self.emissions, self.dtype, self.lengths, self.free
        n_docs, n_steps, n_tags = emissions.shape
        n_labels = (n_tags - 1) // 2
        end_top = float(self.end.max())
        end = (self.end - end_top).astype(dtype)
        # The least a tag's paths into "O" and "B-x" can sum to, next to their best score.
        into_free_least = float(self.transitions[:, free].min())
        beta = numpy.empty_like(self.alpha)
        b_offsets = numpy.empty_like(self.offsets)
        beta[-1], b_offsets[-1] = end, end_top
        next_free = numpy.empty((n_steps, n_docs, len(free)), dtype=dtype)
        next_inside = numpy.empty((n_steps, n_docs, n_labels), dtype=dtype)
        free_top = numpy.zeros((n_steps, n_docs))
        inside_top = numpy.zeros((n_steps, n_docs))
        for t in range(n_steps - 1, 0, -1):
            ahead = emissions[:, t] + beta[t]
            scores = _log_matmul_t(ahead[:, free], self.exp_free, next_free[t], free_top[t])
            scores += dtype(self.shift)
            if n_labels:
                inside = ahead[:, 2::2]
                inside_top[t] = inside.max(axis=1)
                numpy.exp(inside - inside_top[t][:, None].astype(dtype), out=next_inside[t])
                # Forbidden moves count where the "I-x" ahead outscore every "O" and "B-x"
                # by nearly the penalty (a known "I-x" next).
                reach = (
                    inside_top[t] + self.forbidden_bound - numpy.log(n_tags) + numpy.log(n_labels)
                )
                rows = numpy.flatnonzero(reach > free_top[t] + into_free_least - MARGIN)
                if len(rows):
                    self.forbidden_used = True
                    forbidden = numpy.log(
                        one_thread_matmul(next_inside[t][rows], self.exp_inside.T)
                    )
                    forbidden += (inside_top[t][rows, None] + self.shift + self.penalty).astype(
                        dtype
                    )
                    scores[rows] = _logaddexp(scores[rows], forbidden)
                scores[:, 1::2] = _logaddexp(scores[:, 1::2], inside + self.begin_to_inside)
                scores[:, 2::2] = _logaddexp(scores[:, 2::2], inside + self.inside_to_inside)
            top = scores.max(axis=1)
            active = t < lengths
            beta[t - 1] = numpy.where(active[:, None], scores - top[:, None], end)
            b_offsets[t - 1] = numpy.where(active, b_offsets[t] + top, end_top)
        return beta, b_offsets, next_free, next_inside, free_top, inside_top

    def _pair_sums(self, previous, following, log_scale, pairs, weights) -> numpy.ndarray:
        """sum over tokens and rows of scale x previous^T following: (tags, columns)."""
        scale = numpy.exp(numpy.where(pairs, log_scale, -numpy.inf)) * weights[None, :]
        scaled = previous * scale[:, :, None].astype(self.dtype)
        n_tags = previous.shape[2]
        return _matmul_tn(scaled.reshape(-1, n_tags), following.reshape(-1, following.shape[2]))

    def _allowed_into_inside(self, d_transitions, beta, log_norm, pairs, weights) -> None:
        """The pairwise marginals of "B-x" -> "I-x" and "I-x" -> "I-x", in log space."""
        ahead = self.emissions[:, 1:, 2::2].transpose(1, 0, 2) + beta[1:, :, 2::2]
        log_norm = numpy.where(pairs, log_norm, -numpy.inf)[:, :, None].astype(self.dtype)
        labels = numpy.arange(ahead.shape[2])
        for source, score in ((1, self.begin_to_inside), (2, self.inside_to_inside)):
            flow = numpy.exp(self.alpha[:-1, :, source::2] + score + ahead + log_norm)
            summed = (flow * weights[None, :, None].astype(self.dtype)).sum(axis=(0, 1))
            d_transitions[2 * labels + source, 2 * labels + 2] = summed


def _log_matmul_t(log_rows, exp_matrix, exp_rows_out, top_out) -> numpy.ndarray:
    """log(exp(log_rows) @ exp_matrix.T), keeping exp(log_rows - each row's max) and that max."""
    top = log_rows.max(axis=1)
    numpy.exp(log_rows - top[:, None], out=exp_rows_out)
    top_out[:] = top
    return numpy.log(one_thread_matmul(exp_rows_out, exp_matrix.T)) + top[:, None].astype(
        log_rows.dtype
    )


def one_thread_matmul(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    """a @ b in row blocks small enough for OpenBLAS to stay on the calling thread."""
    rows = max(1, MAX_GEMM_WORK // max(1, a.shape[1] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    out = numpy.empty((a.shape[0], b.shape[1]), dtype=numpy.result_type(a, b))
    for begin in range(0, a.shape[0], rows):
        numpy.matmul(a[begin : begin + rows], b, out=out[begin : begin + rows])
    return out


def _matmul_tn(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    """a.T @ b, summed over blocks of the shared rows, each small enough for one thread."""
    rows = max(1, MAX_GEMM_WORK // max(1, a.shape[1] * b.shape[1]))
    out = numpy.zeros((a.shape[1], b.shape[1]))
    for begin in range(0, a.shape[0], rows):
        out += a[begin : begin + rows].T @ b[begin : begin + rows]
    return out


def _logaddexp(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    """log(exp(a) + exp(b)) for finite inputs (numpy's own is several times slower)."""
    top = numpy.maximum(a, b)
    return top + numpy.log1p(numpy.exp(-numpy.abs(a - b)))


class NLL(NamedTuple):
    """Each row's negative log-likelihood, and what gives its gradient."""

    losses: numpy.ndarray  # (batch,), float64
    backward: Callable[[numpy.ndarray], Gradients]


def negative_log_likelihood(
    emissions: numpy.ndarray,
    lengths: numpy.ndarray,
    gold: numpy.ndarray,
    transitions: numpy.ndarray,
    penalties: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
    excluded: float,
) -> Optional[NLL]:
    """log Z less log Z of the paths consistent with the known gold tags, row by row.

    A row whose tags are all known needs no second pass: its paths reduce to the gold
    path, whose score is a sum of gathered scores. A row with some tags missing takes a
    constrained forward pass over the rows like it only; a row with none known scores 0.

    gold (numpy.ndarray): (batch, time) tag ids, negative where missing or padding.
    penalties (numpy.ndarray): (tags, tags) added to the transitions: 0 or the penalty.
    excluded (float): The score that excludes a tag contradicting a known gold tag.
    RETURNS (Optional[NLL]): None when the transitions spread too far (see `forward`).
    """
    penalty = float(penalties.min(initial=0.0))
    unconstrained = forward(emissions, lengths, transitions, start, end, penalty)
    if unconstrained is None:
        return None
    paths = _GoldPaths(gold, numpy.asarray(lengths, dtype="int64"))
    # Rows with no known tag: every path is consistent, log Z less itself.
    constrained = numpy.where(
        paths.complete,
        paths.scores(emissions, transitions + penalties, start, end),
        unconstrained.log_z,
    )
    partial = numpy.flatnonzero(~paths.complete & paths.any_known)
    restricted = None
    if len(partial):
        masked = emissions[partial].copy()
        masked[paths.contradicting(partial, emissions.shape[2])] = excluded
        restricted = forward(masked, paths.lengths[partial], transitions, start, end, penalty)
        constrained[partial] = restricted.log_z

    def backward(d_losses: numpy.ndarray) -> Gradients:
        # A row with no known tag has a loss of 0 whatever the scores: no gradient.
        grads = unconstrained.backward(numpy.where(paths.any_known, d_losses, 0.0))
        grads = grads._replace(emissions=numpy.ascontiguousarray(grads.emissions))
        paths.subtract_counts(grads, numpy.where(paths.complete, d_losses, 0.0))
        if restricted is not None:
            sub = restricted.backward(d_losses[partial])
            grads.emissions[partial] -= sub.emissions
            for total, part in zip(grads[1:], sub[1:]):
                total -= part
        return grads

    return NLL(unconstrained.log_z - constrained, backward)


class _GoldPaths:
    """The known gold tags of a padded batch: which rows are complete, and their paths."""

    def __init__(self, gold: numpy.ndarray, lengths: numpy.ndarray) -> None:
        n_docs, n_steps = gold.shape
        self.lengths = lengths
        self.real = numpy.arange(n_steps)[None, :] < lengths[:, None]
        self.known = (gold >= 0) & self.real
        self.complete = (self.known | ~self.real).all(axis=1)
        self.any_known = self.known.any(axis=1)
        self.tags = numpy.where(self.known, gold, 0)
        self.rows = numpy.arange(n_docs)
        self.last = self.tags[self.rows, lengths - 1]

    def scores(self, emissions, scored_transitions, start, end) -> numpy.ndarray:
        """Each row's score of its gold path (meaningful for complete rows), float64."""
        tags, real = self.tags, self.real
        steps = numpy.arange(tags.shape[1])
        path = numpy.where(real, emissions[self.rows[:, None], steps, tags], 0.0)
        path = path.sum(axis=1, dtype="float64") + start[tags[:, 0]] + end[self.last]
        if tags.shape[1] > 1:
            moves = scored_transitions[tags[:, :-1], tags[:, 1:]]
            path += numpy.where(real[:, 1:], moves, 0.0).sum(axis=1)
        return path

    def contradicting(self, rows: numpy.ndarray, n_tags: int) -> numpy.ndarray:
        """(rows, time, tags): the tags a known gold tag excludes, in `rows`."""
        other = numpy.arange(n_tags) != self.tags[rows][:, :, None]
        return self.known[rows][:, :, None] & other

    def subtract_counts(self, grads: Gradients, weights: numpy.ndarray) -> None:
        """Take each row's gold path, times its weight, from the gradients, in place."""
        tags = self.tags
        on_path = self.real & (weights != 0)[:, None]
        rows = numpy.broadcast_to(self.rows[:, None], tags.shape)[on_path]
        steps = numpy.broadcast_to(numpy.arange(tags.shape[1]), tags.shape)[on_path]
        per_token = numpy.broadcast_to(weights[:, None], tags.shape)
        d_emissions = grads.emissions
        numpy.subtract.at(
            d_emissions, (rows, steps, tags[on_path]), per_token[on_path].astype(d_emissions.dtype)
        )
        numpy.subtract.at(grads.start, tags[:, 0], weights.astype(grads.start.dtype))
        numpy.subtract.at(grads.end, self.last, weights.astype(grads.end.dtype))
        if tags.shape[1] > 1:
            moves = on_path[:, 1:]
            numpy.subtract.at(
                grads.transitions,
                (tags[:, :-1][moves], tags[:, 1:][moves]),
                per_token[:, 1:][moves],
            )
