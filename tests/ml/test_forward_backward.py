"""The numpy forward-backward against the CRF's torch autograd path, at training's sizes.

test_crf.py holds both against brute-force enumeration on small tag sets; here the two agree
where enumeration cannot go: 40 labels, long padded batches, partial annotation, invalid gold
sequences, extreme scores, and batches large enough to split the matrix products.
"""

import copy

import numpy
import pytest
import torch

from spacy_mtl.ml import forward_backward
from spacy_mtl.ml.crf import EXCLUDED, FORBIDDEN, MISSING, LinearChainCRF


def _crf(n_labels, seed, scale=1.0):
    torch.manual_seed(seed)
    crf = LinearChainCRF(1 + 2 * n_labels)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_().mul_(scale)
    return crf


def _batch(rng, n_tags, n_docs, n_steps, scale, missing, invalid):
    lengths = rng.integers(1, n_steps + 1, size=n_docs)
    lengths[0] = n_steps
    emissions = torch.tensor(
        rng.normal(size=(n_docs, n_steps, n_tags)) * scale, dtype=torch.float32
    )
    # Valid BIO gold: O, or B-x then I-x of the same label.
    gold = numpy.zeros((n_docs, n_steps), dtype="int64")
    for b in range(n_docs):
        label = None
        for t in range(n_steps):
            draw = rng.random()
            if label is not None and draw < 0.4:
                gold[b, t] = 2 * label + 2
            elif draw < 0.7:
                label = int(rng.integers(0, (n_tags - 1) // 2))
                gold[b, t] = 2 * label + 1
            else:
                label = None
    if invalid:
        gold[rng.random(gold.shape) < invalid] = 2  # "I-x" after anything
    gold[rng.random(gold.shape) < missing] = MISSING
    return emissions, torch.tensor(lengths), torch.tensor(gold)


def _loss_and_grads(crf, emissions, lengths, gold, method):
    emissions = emissions.clone().requires_grad_(True)
    crf.zero_grad()
    losses = method(emissions, lengths, gold)
    (losses * torch.linspace(0.5, 1.5, len(losses), dtype=losses.dtype)).sum().backward()
    grads = [emissions.grad, crf.transitions.grad, crf.start_transitions.grad]
    return losses.detach(), [g.clone() for g in grads] + [crf.end_transitions.grad.clone()]


def _autograd_nll(crf):
    def nll(emissions, lengths, gold):
        known = gold >= 0
        onehot = torch.nn.functional.one_hot(gold.clamp(min=0), crf.n_tags).bool()
        constrained = emissions.masked_fill(~(onehot | ~known.unsqueeze(-1)), EXCLUDED)
        return crf._autograd_log_partition(emissions, lengths) - crf._autograd_log_partition(
            constrained, lengths
        )

    return nll


@pytest.mark.parametrize(
    "n_docs,n_steps,scale,missing,invalid",
    [
        (7, 12, 3.0, 0.0, 0.0),  # fully annotated: log Z less the gold path's score
        (9, 15, 3.0, 0.3, 0.0),  # partial annotation: a constrained pass
        (9, 15, 3.0, 0.3, 0.1),  # invalid gold sequences, reached through forbidden moves
        (5, 9, 400.0, 0.3, 0.1),  # scores beyond float32's limit: float64
        (120, 6, 3.0, 0.2, 0.0),  # a batch whose products are split into blocks
    ],
)
def test_numpy_nll_and_gradients_equal_autograd(n_docs, n_steps, scale, missing, invalid):
    rng = numpy.random.default_rng(n_docs * 100 + n_steps)
    crf = _crf(40, seed=n_docs)
    emissions, lengths, gold = _batch(rng, crf.n_tags, n_docs, n_steps, scale, missing, invalid)
    got, got_grads = _loss_and_grads(crf, emissions, lengths, gold, crf.nll)
    want, want_grads = _loss_and_grads(crf, emissions, lengths, gold, _autograd_nll(crf))
    assert got.dtype == torch.float64
    tolerance = 1e-6 * float(want.abs().max()) + 1e-4
    assert torch.allclose(got, want, atol=tolerance, rtol=1e-5), (got - want).abs().max()
    for got_grad, want_grad in zip(got_grads, want_grads):
        assert torch.allclose(got_grad.double(), want_grad.double(), atol=2e-4), (
            (got_grad.double() - want_grad.double()).abs().max()
        )


def test_marginals_of_each_token_sum_to_one_and_padding_to_zero():
    rng = numpy.random.default_rng(3)
    crf = _crf(20, seed=3)
    emissions, lengths, _ = _batch(rng, crf.n_tags, 8, 11, 4.0, 0.0, 0.0)
    marginals = crf.marginals(emissions, lengths)
    for b, length in enumerate(lengths.tolist()):
        assert torch.allclose(marginals[b, :length].sum(-1), torch.ones(length), atol=1e-5)
        assert not marginals[b, length:].any()


def test_transitions_beyond_the_spread_take_the_autograd_path_and_stay_exact():
    """A transition spread float64's rescaled product cannot hold: torch autograd instead."""
    rng = numpy.random.default_rng(5)
    crf = _crf(3, seed=5)
    with torch.no_grad():
        crf.transitions[0, 1] = 500.0
        crf.transitions[1, 0] = -500.0
    emissions, lengths, gold = _batch(rng, crf.n_tags, 4, 6, 3.0, 0.3, 0.0)
    transitions = crf.transitions.detach().numpy()
    state = forward_backward.forward(
        emissions.numpy(), lengths.numpy(), transitions, numpy.zeros(7), numpy.zeros(7), FORBIDDEN
    )
    assert state is None
    got, got_grads = _loss_and_grads(crf, emissions, lengths, gold, crf.nll)
    want, want_grads = _loss_and_grads(crf, emissions, lengths, gold, _autograd_nll(crf))
    assert torch.allclose(got, want)
    assert all(torch.allclose(g, w) for g, w in zip(got_grads, want_grads))


def test_float32_reruns_in_float64_when_a_forbidden_move_leads():
    """An invalid gold "O I-x" whose constrained best runs through the -10,000 penalty."""
    crf = _crf(2, seed=7)
    emissions = torch.tensor(
        numpy.random.default_rng(7).normal(size=(1, 3, 5)), dtype=torch.float32
    )
    gold = torch.tensor([[0, 2, MISSING]])
    known = (gold >= 0).numpy()
    masked = emissions.numpy().copy()
    masked[0, known[0]] = EXCLUDED
    masked[0, 0, 0] = emissions[0, 0, 0]
    masked[0, 1, 2] = emissions[0, 1, 2]
    start = (crf.start_transitions + crf.start_penalty).detach().numpy()
    state = forward_backward.forward(
        masked, numpy.array([3]), crf.transitions.detach().numpy(), start,
        crf.end_transitions.detach().numpy(), FORBIDDEN,
    )  # fmt: skip
    assert state.dtype is numpy.float64
    got, got_grads = _loss_and_grads(crf, emissions, torch.tensor([3]), gold, crf.nll)
    # The reference in float64 throughout: the autograd path adds the penalty to the float32
    # transitions before it converts them, which rounds the loss by about 5e-4.
    exact = copy.deepcopy(crf).double()
    want, want_grads = _loss_and_grads(
        exact, emissions.double(), torch.tensor([3]), gold, _autograd_nll(exact)
    )
    assert got.item() > 9000
    assert got.item() == pytest.approx(want.item(), abs=1e-6)
    assert all(torch.allclose(g.double(), w, atol=1e-6) for g, w in zip(got_grads, want_grads))
