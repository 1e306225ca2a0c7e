"""The CRF against brute force: partition, partial-annotation NLL, decoding, distillation."""

import itertools

import numpy
import pytest
import torch

from spacy_mtl.ml.crf import (
    MISSING,
    LinearChainCRF,
    bio_constraints,
    bio_tag_names,
)
from spacy_mtl.ml.viterbi import viterbi

LABELS = ["CITY", "DATE"]
N_TAGS = len(bio_tag_names(LABELS))


def _is_valid(path):
    allowed, start = bio_constraints(N_TAGS)
    if not start[path[0]]:
        return False
    return all(allowed[a, b] for a, b in zip(path, path[1:]))


def _score(crf, emissions, path):
    s = crf.start_transitions[path[0]] + emissions[0, path[0]]
    for t in range(1, len(path)):
        s = s + crf.transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    return s + crf.end_transitions[path[-1]]


@pytest.fixture
def crf():
    torch.manual_seed(0)
    model = LinearChainCRF(N_TAGS)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model


def test_tag_layout():
    assert bio_tag_names(LABELS) == ["O", "B-CITY", "I-CITY", "B-DATE", "I-DATE"]
    allowed, start = bio_constraints(N_TAGS)
    assert allowed[1, 2] and allowed[2, 2] and not allowed[0, 2] and not allowed[3, 2]
    assert not start[2] and not start[4] and start[0] and start[1]


def test_nll_matches_brute_force_over_valid_paths(crf):
    torch.manual_seed(1)
    emissions = torch.randn(1, 4, N_TAGS)
    lengths = torch.tensor([4])
    gold = torch.tensor([[1, 2, 0, MISSING]])
    valid = [p for p in itertools.product(range(N_TAGS), repeat=4) if _is_valid(p)]
    log_z = torch.logsumexp(torch.stack([_score(crf, emissions[0], p) for p in valid]), 0)
    consistent = [p for p in valid if p[:3] == (1, 2, 0)]
    log_z_gold = torch.logsumexp(torch.stack([_score(crf, emissions[0], p) for p in consistent]), 0)
    nll = crf(emissions, lengths, gold)
    assert nll.shape == (1,)
    assert nll[0].item() == pytest.approx((log_z - log_z_gold).item(), abs=1e-3)


def test_fully_missing_sequence_has_zero_loss(crf):
    emissions = torch.randn(2, 3, N_TAGS)
    gold = torch.full((2, 3), MISSING)
    nll = crf(emissions, torch.tensor([3, 2]), gold)
    assert torch.allclose(nll, torch.zeros(2), atol=1e-4)


def test_padding_does_not_change_the_loss(crf):
    emissions = torch.randn(1, 3, N_TAGS)
    gold = torch.tensor([[0, 3, 4]])
    alone = crf(emissions, torch.tensor([3]), gold)
    padded = torch.cat([emissions, torch.randn(1, 2, N_TAGS)], dim=1)
    gold_padded = torch.cat([gold, torch.tensor([[1, 2]])], dim=1)
    assert torch.allclose(alone, crf(padded, torch.tensor([3]), gold_padded), atol=1e-5)


def test_viterbi_is_the_best_valid_path(crf):
    torch.manual_seed(2)
    # Emissions that favour the invalid sequence O I-CITY I-CITY: decoding must refuse it.
    emissions = torch.randn(1, 3, N_TAGS)
    emissions[0, :, 2] += 5.0
    best = max(
        (p for p in itertools.product(range(N_TAGS), repeat=3) if _is_valid(p)),
        key=lambda p: _score(crf, emissions[0], p).item(),
    )
    path = crf.decode(emissions, torch.tensor([3]))[0]
    assert tuple(path) == best
    assert _is_valid(path)


def test_decode_respects_lengths(crf):
    paths = crf.decode(torch.randn(2, 5, N_TAGS), torch.tensor([5, 2]))
    assert [len(p) for p in paths] == [5, 2]


def test_state_dict_resizes_an_empty_crf(crf):
    fresh = LinearChainCRF()
    fresh.load_state_dict(crf.state_dict())
    assert fresh.n_tags == N_TAGS
    assert torch.equal(fresh.transitions, crf.transitions)


def test_odd_tag_count_required():
    with pytest.raises(ValueError, match="odd number"):
        LinearChainCRF(4)


def _brute_force_nll(crf, emissions, length, gold):
    """log Z - log Z(consistent paths) by enumerating every tag sequence, in float64.

    Forbidden transitions and first tags carry the CRF's finite penalty, so invalid
    gold sequences have a (large) finite loss, as in the model.
    """
    n_tags = crf.n_tags
    transitions = (crf.transitions + crf.transition_penalty).double()
    start = (crf.start_transitions + crf.start_penalty).double()
    end = crf.end_transitions.double()
    e = emissions[:length].double()
    paths = torch.tensor(list(itertools.product(range(n_tags), repeat=length)))
    steps = torch.arange(length)
    scores = start[paths[:, 0]] + end[paths[:, -1]] + e[steps, paths].sum(dim=1)
    if length > 1:
        scores = scores + transitions[paths[:, :-1], paths[:, 1:]].sum(dim=1)
    known = gold[:length] >= 0
    consistent = ((paths == gold[:length]) | ~known).all(dim=1)
    return torch.logsumexp(scores, 0) - torch.logsumexp(scores[consistent], 0)


def _grad(param):
    return torch.zeros_like(param) if param.grad is None else param.grad.clone()


def _random_case(rng, n_tags, extreme):
    batch = int(rng.integers(1, 4))
    max_len = int(rng.integers(1, 6))
    lengths = rng.integers(1, max_len + 1, size=batch)
    lengths[0] = max_len
    scale = 1e4 if extreme else 3.0
    emissions = torch.tensor(rng.normal(size=(batch, max_len, n_tags)) * scale, dtype=torch.float32)
    if extreme:  # some scores at exactly +-1e4
        emissions[torch.tensor(rng.random((batch, max_len, n_tags)) < 0.3)] = 1e4
    gold = torch.tensor(rng.integers(0, n_tags, size=(batch, max_len)))
    gold[torch.tensor(rng.random((batch, max_len)) < 0.4)] = MISSING
    return emissions, torch.tensor(lengths), gold


@pytest.mark.parametrize("n_labels", [1, 2])
@pytest.mark.parametrize("extreme", [False, True])
def test_loss_and_gradient_match_brute_force_on_random_cases(n_labels, extreme):
    """Random emissions, transitions, missing tokens and (often invalid) gold sequences."""
    import numpy

    rng = numpy.random.default_rng(n_labels * 10 + extreme)
    n_tags = 1 + 2 * n_labels
    for _ in range(25):
        crf = LinearChainCRF(n_tags)
        with torch.no_grad():
            for p in crf.parameters():
                p.copy_(torch.tensor(rng.normal(size=p.shape) * 3.0))
        emissions, lengths, gold = _random_case(rng, n_tags, extreme)
        emissions.requires_grad_(True)
        nll = crf(emissions, lengths, gold)
        assert torch.isfinite(nll).all()
        nll.sum().backward()
        got_e, got_t = emissions.grad.clone(), _grad(crf.transitions)
        assert torch.isfinite(got_e).all() and torch.isfinite(got_t).all()
        emissions.grad = None
        crf.zero_grad()
        expected = torch.stack(
            [
                _brute_force_nll(crf, emissions[b], int(lengths[b]), gold[b])
                for b in range(len(lengths))
            ]
        )
        expected.sum().backward()
        tolerance = 1e-5 * float(expected.detach().abs().max()) + 1e-4
        assert torch.allclose(nll.double(), expected, atol=tolerance, rtol=1e-5), (nll, expected)
        assert torch.allclose(got_e, emissions.grad, atol=1e-4)
        assert torch.allclose(got_t, _grad(crf.transitions), atol=1e-4)


def test_gold_inside_tag_after_a_missing_token_far_below_the_best_is_exact():
    """Every allowed predecessor of the gold I-X lies 200 below the row maximum: a forward
    pass clamped at 1e-30 overestimates the constrained partition and the loss collapses."""
    crf = LinearChainCRF(N_TAGS)
    emissions = torch.zeros(1, 2, N_TAGS)
    emissions[0, 0, 0] = 200.0  # O at the missing first token
    gold = torch.tensor([[MISSING, 2]])  # then a gold I-CITY
    nll = crf(emissions.clone().requires_grad_(True), torch.tensor([2]), gold)
    expected = _brute_force_nll(crf, emissions[0], 2, gold[0])
    assert expected.item() > 199.0
    assert nll.item() == pytest.approx(expected.item(), rel=1e-5)


def test_viterbi_never_starts_with_an_inside_tag_whatever_its_emission():
    """The start penalty is -10,000: an "I-X" emission 10,001 above the rest outbid it."""
    crf = LinearChainCRF(N_TAGS)
    emissions = numpy.zeros((2, 2, N_TAGS), dtype="float32")
    emissions[:, :, 2] = 10001.0
    emissions[1, 0, 4] = 1e30
    paths = viterbi(emissions, [2, 1], *crf.decode_scores())
    assert paths[0][0] not in (2, 4) and paths[1][0] not in (2, 4)
    assert all(_is_valid(path) for path in paths)


def _valid_paths(length):
    return [p for p in itertools.product(range(N_TAGS), repeat=length) if _is_valid(p)]


def test_marginals_match_brute_force_with_padding(crf):
    torch.manual_seed(3)
    emissions = torch.randn(2, 4, N_TAGS)
    marginals = crf.marginals(emissions, torch.tensor([4, 3]))
    for b, length in enumerate((4, 3)):
        paths = _valid_paths(length)
        scores = torch.stack([_score(crf, emissions[b], p) for p in paths]).detach()
        probs = torch.softmax(scores.double(), 0)
        expected = torch.zeros(length, N_TAGS, dtype=torch.float64)
        for p, prob in zip(paths, probs):
            for t, tag in enumerate(p):
                expected[t, tag] += prob
        assert torch.allclose(marginals[b, :length].double(), expected, atol=1e-5)
        assert marginals[b, length:].abs().sum() == 0


def _brute_force_soft_loss(crf, emissions, length, soft, temperature):
    """T^2 (log Z at T - E_q[score] / T - H(q)), the pairs drawn independently and only
    the allowed transitions counted."""
    allowed, _ = bio_constraints(N_TAGS)
    paths = _valid_paths(length)
    e = emissions[:length]
    log_z = torch.logsumexp(torch.stack([_score(crf, e, p) / temperature for p in paths]), 0)
    q = soft[:length]
    expected = (q * e).sum() + q[0] @ crf.start_transitions + q[-1] @ crf.end_transitions
    for t in range(1, length):
        expected = expected + q[t - 1] @ (crf.transitions * allowed) @ q[t]
    entropy = -(q * torch.log(q.clamp_min(1e-30))).sum()
    return temperature**2 * (log_z - expected / temperature - entropy)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_soft_loss_and_gradient_match_brute_force(crf, temperature):
    torch.manual_seed(4)
    emissions = torch.randn(2, 3, N_TAGS)
    lengths = torch.tensor([3, 2])
    soft = torch.softmax(torch.randn(2, 3, N_TAGS), -1)
    soft[1, 2] = 0.0
    leaf = emissions.clone().requires_grad_(True)
    loss = crf.soft_loss(leaf, lengths, soft, temperature)
    loss.sum().backward()
    crf_grads = [p.grad.clone() for p in crf.parameters()]
    crf.zero_grad()
    brute_leaf = emissions.clone().requires_grad_(True)
    brute = torch.stack(
        [
            _brute_force_soft_loss(crf, brute_leaf[b], int(n), soft[b], temperature)
            for b, n in enumerate(lengths)
        ]
    )
    brute.sum().backward()
    assert torch.allclose(loss.float(), brute.float(), atol=1e-4)
    assert torch.allclose(leaf.grad, brute_leaf.grad, atol=1e-5)
    for ours, theirs in zip(crf_grads, [p.grad for p in crf.parameters()]):
        assert torch.allclose(ours, theirs, atol=1e-5)
    # No path uses a forbidden transition, so none learns from the targets (nor drifts).
    allowed, _ = bio_constraints(N_TAGS)
    assert crf_grads[0][~allowed].abs().max() == 0 and crf_grads[0][allowed].abs().max() > 0
    # The emissions' gradient is T * (marginals at T - targets) on the real tokens.
    with torch.no_grad():
        scaled = LinearChainCRF(N_TAGS)
        for mine, theirs in zip(scaled.parameters(), crf.parameters()):
            mine.copy_(theirs / temperature)
    marginals = scaled.marginals(emissions / temperature, lengths)
    assert torch.allclose(leaf.grad[0], temperature * (marginals[0] - soft[0]), atol=1e-5)


def test_soft_loss_of_a_one_hot_valid_path_is_its_nll(crf):
    """One-hot targets have no entropy, and their expected score is the path's score."""
    torch.manual_seed(5)
    emissions = torch.randn(1, 4, N_TAGS)
    gold = torch.tensor([[1, 2, 0, 3]])
    soft = torch.nn.functional.one_hot(gold, N_TAGS).float()
    lengths = torch.tensor([4])
    nll = crf(emissions, lengths, gold)
    assert torch.allclose(crf.soft_loss(emissions, lengths, soft, 1.0).float(), nll, atol=1e-4)
    mixed = crf(emissions, lengths, gold, soft=soft, soft_weight=0.3, temperature=1.0)
    assert torch.allclose(mixed, nll, atol=1e-4)


def test_documents_without_soft_targets_keep_their_nll(crf):
    torch.manual_seed(6)
    emissions = torch.randn(2, 3, N_TAGS)
    lengths = torch.tensor([3, 3])
    gold = torch.tensor([[1, 2, 0], [0, 3, 4]])
    soft = torch.zeros(2, 3, N_TAGS)
    soft[0] = torch.softmax(torch.randn(3, N_TAGS), -1)
    nll = crf(emissions, lengths, gold)
    mixed = crf(emissions, lengths, gold, soft=soft, soft_weight=0.5, temperature=2.0)
    assert torch.allclose(mixed[1], nll[1])
    expected = 0.5 * nll[0] + 0.5 * crf.soft_loss(emissions, lengths, soft, 2.0)[0].float()
    assert torch.allclose(mixed[0], expected, atol=1e-4)
