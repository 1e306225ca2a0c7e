"""Viterbi decoding of the CRF's BIO tags in numpy, so that prediction runs no torch.

The tag layout is the CRF's (spacy_mtl/ml/crf.py): "O", then "B-X" and "I-X" per label.
"""

from typing import List, Tuple

import numpy


def viterbi(
    emissions: numpy.ndarray,
    lengths: List[int],
    transitions: numpy.ndarray,
    start: numpy.ndarray,
    end: numpy.ndarray,
) -> List[List[int]]:
    """Viterbi decoding of padded (batch, time, n_tags) emissions, in numpy.

    Decoding needs no gradient, and keeping torch out of prediction keeps
    `nlp.pipe(n_process=2)` safe: torch's thread pool does not survive a fork.

    The BIO layout makes each step cheap. An "I-X" may follow only "B-X" or
    "I-X": its best predecessor is one comparison. "O" and the "B-X" tags may
    follow any tag, but a tag can be their best predecessor only if its score
    plus its best transition reaches a bound every column's maximum meets;
    with a trained model that leaves one to three tags of a hundred, so the
    max runs over those (`_best_predecessors`). The result is the full
    (tags x tags) argmax's, ties to the lower tag id included, except where
    that one would take a forbidden transition (its allowed ones all 10,000
    below): this decoder never does. The backtrace runs over the batch at once.
    """
    n_docs, n_steps, n_tags = emissions.shape
    if n_docs == 0 or n_steps == 0:
        return [[] for _ in range(n_docs)]
    emissions = numpy.asarray(emissions, dtype="float32")
    transitions = numpy.asarray(transitions, dtype="float32")
    lengths_array = numpy.asarray(lengths)
    # Tag 0 is "O", 1::2 the "B-X" and 2::2 the "I-X" tags; "free" columns: "O" and "B-X".
    free = numpy.concatenate([[0], numpy.arange(1, n_tags, 2)])
    into_free = numpy.ascontiguousarray(transitions[:, free])
    into_free_min, into_free_max = into_free.min(axis=1), into_free.max(axis=1)
    begin_to_inside = numpy.diagonal(transitions[1::2, 2::2]).copy()
    inside_to_inside = numpy.diagonal(transitions[2::2, 2::2]).copy()
    begin_ids = numpy.arange(1, n_tags, 2)
    history = numpy.empty((n_steps, n_docs, n_tags), dtype="int32")
    best = numpy.empty((n_docs, n_tags), dtype="float32")
    score = (start + emissions[:, 0]).astype("float32")
    # No "I-X" first, whatever its emission: the start penalty alone is finite.
    score[:, 2::2] = -numpy.inf
    for t in range(1, n_steps):
        came_from = history[t]
        free_from, free_best = _best_predecessors(score, into_free, into_free_min, into_free_max)
        came_from[:, 0], came_from[:, 1::2] = free_from[:, 0], free_from[:, 1:]
        best[:, 0], best[:, 1::2] = free_best[:, 0], free_best[:, 1:]
        from_begin = score[:, 1::2] + begin_to_inside
        from_inside = score[:, 2::2] + inside_to_inside
        stay = from_inside > from_begin
        came_from[:, 2::2] = begin_ids + stay
        best[:, 2::2] = numpy.where(stay, from_inside, from_begin)
        active = (lengths_array > t)[:, None]
        score = numpy.where(active, best + emissions[:, t], score)
    return _backtrace(history, score + end, lengths)


def _backtrace(history: numpy.ndarray, score: numpy.ndarray, lengths: List[int]) -> List[List[int]]:
    """Each document's best path, from its last tag back: it stays put over the padding."""
    n_steps, n_docs = history.shape[:2]
    lengths_array = numpy.asarray(lengths)
    tags = numpy.zeros((n_docs, n_steps), dtype="int64")
    current = score.argmax(axis=1)
    rows = numpy.arange(n_docs)
    tags[:, n_steps - 1] = current
    for t in range(n_steps - 1, 0, -1):
        current = numpy.where(lengths_array > t, history[t][rows, current], current)
        tags[:, t - 1] = current
    return [tags[b, :length].tolist() for b, length in enumerate(lengths)]


def _best_predecessors(
    score: numpy.ndarray, into: numpy.ndarray, into_min: numpy.ndarray, into_max: numpy.ndarray
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """argmax and max over p of score[:, p] + into[p, c], for every column c.

    Each column's maximum is at least `bound`: the leader (the best-scoring
    tag) plus its smallest transition. A tag whose score plus its largest
    transition stays below the bound can win no column (rounding is
    monotonic, so this holds in float32 too). The maximum runs over the tags
    that can, in tag order with a strict comparison, so ties go to the lowest
    id as in a full argmax. When too many tags can, the dense sum is cheaper.

    score (numpy.ndarray): (batch, tags) scores of the previous step.
    into (numpy.ndarray): (tags, columns) transition scores into the columns.
    into_min (numpy.ndarray): (tags,) each row's smallest transition into the columns.
    into_max (numpy.ndarray): (tags,) each row's largest.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): (batch, columns) best tag ids and scores.
    """
    n_docs, n_tags = score.shape
    rows = numpy.arange(n_docs)
    leader = score.argmax(axis=1)
    top = score[rows, leader]
    can_win = score + into_max >= (top + into_min[leader])[:, None]
    counts = can_win.sum(axis=1)
    n_candidates = int(counts.max())
    if n_candidates * 4 > n_tags:
        totals = score[:, :, None] + into[None]
        came_from = totals.argmax(axis=1)
        return came_from, numpy.take_along_axis(totals, came_from[:, None, :], axis=1)[:, 0]
    # Row-major order lists each row's candidates in tag order; a row with fewer is padded
    # with its leader, which already came earlier and so never wins the padding's ties.
    candidate_rows, candidate_tags = numpy.nonzero(can_win)
    slots = numpy.arange(len(candidate_rows)) - (numpy.cumsum(counts) - counts)[candidate_rows]
    candidates = numpy.repeat(leader[:, None], n_candidates, axis=1)
    candidates[candidate_rows, slots] = candidate_tags
    came_from = numpy.repeat(candidates[:, :1], into.shape[1], axis=1)
    best = score[rows, candidates[:, 0], None] + into[candidates[:, 0]]
    for k in range(1, n_candidates):
        tags = candidates[:, k]
        total = score[rows, tags, None] + into[tags]
        better = total > best
        numpy.copyto(best, total, where=better)
        numpy.copyto(came_from, tags[:, None], where=better)
    return came_from, best
