"""The linear-chain CRF over BIO tags of `mtl_ner`: a torch module.

Tags are laid out as ["O", "B-L0", "I-L0", "B-L1", "I-L1", ...], so the CRF
derives its constraints (no "I-X" after anything but "B-X" or "I-X", no "I-X"
first) from the number of tags alone, and Viterbi decoding never produces an
invalid sequence. Training marginalises over the tags of tokens whose
annotation is missing: the loss is log Z - log Z(paths consistent with the
known tags), which is the usual NLL when every tag is known; then the second
term is the gold path's score, with no pass at all. Both partitions are exact.

On the CPU, training runs no torch operation on a batch: the forward-backward
algorithm runs in numpy (`forward_backward`), so torch's intra-op thread pool,
whose spinning threads contended with every other process on a busy machine,
never wakes; torch holds the parameters and autograd joins the gradients. On
other devices, and for transitions that spread too far for it, the same loss
runs by torch autograd (`_autograd_log_partition`).

Prediction needs no torch either: Viterbi runs in numpy (`viterbi.py`), so
`nlp.pipe(n_process=N)` never enters torch's thread pool in a forked worker.
The thinc model around this module, `spacy_mtl.CRFTagger.v1`, is in `tagger.py`.
"""

import math
from typing import List, Optional, Tuple

import numpy
import torch

from . import forward_backward
from .viterbi import viterbi

# Added to the score of a forbidden transition or tag. Finite, so that a
# sequence whose gold tags are themselves invalid gives a large loss, not NaN.
FORBIDDEN = -10000.0
MISSING = -1
# The score of a tag that contradicts a known gold tag in the constrained partition:
# exp() of it is exactly 0, and it stays finite, so no NaN reaches a gradient.
EXCLUDED = -1e30
# A column sum of the rescaled forward step below this is recomputed in log space:
# in float64, the terms it could have lost are below 1e-300, negligible against it.
SAFE_SUM = 1e-200


def bio_tag_names(labels: List[str]) -> List[str]:
    """The tag inventory for entity labels, in the CRF's index order."""
    return ["O"] + [f"{prefix}-{label}" for label in labels for prefix in ("B", "I")]


def bio_constraints(n_tags: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Which transitions and first tags are allowed in the BIO layout above.

    RETURNS (Tuple[Tensor, Tensor]): A (n_tags, n_tags) bool matrix, from x to,
        and a (n_tags,) bool vector of allowed first tags.
    """
    allowed = torch.ones((n_tags, n_tags), dtype=torch.bool)
    start = torch.ones((n_tags,), dtype=torch.bool)
    for inside in range(2, n_tags, 2):
        begin = inside - 1
        allowed[:, inside] = False
        allowed[begin, inside] = True
        allowed[inside, inside] = True
        start[inside] = False
    return allowed, start


class LinearChainCRF(torch.nn.Module):
    """Transition scores, partial-annotation NLL and constrained Viterbi decoding."""

    def __init__(self, n_tags: int = 0):
        super().__init__()
        self.resize(n_tags)

    def resize(self, n_tags: int) -> None:
        """(Re)create the parameters for n_tags tags (the labels are known late)."""
        if n_tags and n_tags % 2 != 1:
            raise ValueError(
                f"A BIO tag set has an odd number of tags (O + 2 per label), got {n_tags}."
            )
        # On the device the module already lives on: thinc's shim moves the module
        # when it is created, before the labels are known.
        old = getattr(self, "transitions", None)
        device = old.device if old is not None else torch.device("cpu")
        self.n_tags = n_tags
        self.transitions = torch.nn.Parameter(torch.zeros(n_tags, n_tags, device=device))
        self.start_transitions = torch.nn.Parameter(torch.zeros(n_tags, device=device))
        self.end_transitions = torch.nn.Parameter(torch.zeros(n_tags, device=device))
        allowed, start = bio_constraints(n_tags)
        transition_penalty = ((~allowed).float() * FORBIDDEN).to(device)
        self.register_buffer("transition_penalty", transition_penalty, persistent=False)
        self.register_buffer(
            "start_penalty", ((~start).float() * FORBIDDEN).to(device), persistent=False
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        saved = state_dict.get(prefix + "transitions")
        if saved is not None and saved.shape[0] != self.n_tags:
            self.resize(saved.shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(
        self,
        emissions: torch.Tensor,
        lengths: torch.Tensor,
        gold: torch.Tensor,
        soft: Optional[torch.Tensor] = None,
        soft_weight: float = 0.0,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Negative log-likelihood of the gold tags, marginalising missing ones.

        With `soft` (a teacher's per-token tag marginals, for distillation) a
        document's loss is (1 - soft_weight) times that NLL plus soft_weight
        times `soft_loss` at the temperature.

        emissions (Tensor): (batch, time, n_tags) scores, padded.
        lengths (Tensor): (batch,) sequence lengths, each > 0.
        gold (Tensor): (batch, time) tag ids, MISSING (-1) where unknown.
        soft (Optional[Tensor]): (batch, time, n_tags) target marginals, rows of
            zeros for the documents that have none.
        soft_weight (float): The share of the soft loss, in [0, 1].
        temperature (float): Divides the student's scores in the soft loss.
        RETURNS (Tensor): (batch,) losses.
        """
        nll = self.nll(emissions, lengths, gold)
        if soft is None or not soft_weight:
            return nll.float()
        has_soft = soft.sum(dim=(1, 2)) > 0
        distilled = (1.0 - soft_weight) * nll + soft_weight * self.soft_loss(
            emissions, lengths, soft, temperature
        )
        return torch.where(has_soft, distilled, nll).float()

    def nll(
        self, emissions: torch.Tensor, lengths: torch.Tensor, gold: torch.Tensor
    ) -> torch.Tensor:
        """log Z - log Z(paths consistent with the known tags) of each sequence, float64.

        On the CPU by the forward-backward algorithm in numpy (`forward_backward`), which
        runs no torch operation on the padded batch and so never wakes torch's thread
        pool; elsewhere, or when the transitions spread too far for it, by autograd.
        """
        if emissions.device.type == "cpu":
            result = forward_backward.negative_log_likelihood(
                _numpy(emissions),
                lengths.numpy(),
                gold.numpy(),
                _numpy(self.transitions),
                _numpy(self.transition_penalty),
                _numpy(self.start_transitions + self.start_penalty),
                _numpy(self.end_transitions),
                EXCLUDED,
            )
            if result is not None:
                return _FromNumpy.apply(
                    result.losses,
                    result.backward,
                    emissions,
                    self.transitions,
                    self.start_transitions,
                    self.end_transitions,
                )
        known = gold >= 0
        gold_onehot = torch.nn.functional.one_hot(gold.clamp(min=0), self.n_tags).bool()
        consistent = gold_onehot | ~known.unsqueeze(-1)
        # Inconsistent tags are excluded outright, not penalised by FORBIDDEN: with an
        # invalid gold sequence a penalised inconsistent path could outscore the gold ones.
        constrained = emissions.masked_fill(~consistent, EXCLUDED)
        # Subtracted in float64: two partitions of 1e4 differ by a loss of 1e-2.
        return self._autograd_log_partition(emissions, lengths) - self._autograd_log_partition(
            constrained, lengths
        )

    def soft_loss(
        self, emissions: torch.Tensor, lengths: torch.Tensor, soft: torch.Tensor, temperature: float
    ) -> torch.Tensor:
        """Cross-entropy of the CRF at a temperature against per-token target marginals.

        log Z of the scores divided by the temperature, less the expected score
        of a path whose tags are drawn from the targets, each pair of
        neighbours independently (the targets are marginals, not a sequence
        distribution), less the targets' summed per-token entropy: a constant,
        so that the logged loss is near 0, not near that entropy, once the CRF
        matches them (it can dip below 0, as the pairs are not a distribution
        over whole sequences). Times temperature squared, so that its gradient
        keeps its size as the temperature grows (Hinton et al. 2015). The
        gradient of the emissions is temperature * (student marginals -
        targets). Forbidden transitions are left out of the expectation:
        independent neighbours would give them weight, and their learnt
        scores, which no allowed path uses, would then drift upwards.

        RETURNS (Tensor): (batch,) losses, float64.
        """
        scale = 1.0 / temperature
        soft = soft.double()
        steps = torch.arange(soft.shape[1], device=soft.device)
        last = torch.nn.functional.one_hot(lengths - 1, soft.shape[1]).double()
        expected = (soft * emissions.double()).sum(dim=(1, 2))
        expected = expected + soft[:, 0] @ self.start_transitions.double()
        expected = expected + (last.unsqueeze(2) * soft).sum(1) @ self.end_transitions.double()
        if soft.shape[1] > 1:
            allowed = self.transitions.double() * (self.transition_penalty == 0).double()
            pairs = (steps[1:] < lengths.unsqueeze(1)).double()
            moves = torch.einsum("bti,ij,btj->bt", soft[:, :-1], allowed, soft[:, 1:])
            expected = expected + (moves * pairs).sum(1)
        entropy = -(soft * torch.log(soft.clamp_min(1e-30))).sum(dim=(1, 2))
        log_z = self._log_partition(emissions, lengths, scale=scale)
        return temperature**2 * (log_z - scale * expected - entropy)

    def marginals(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each token's posterior tag distribution: the gradient of log Z by the emissions.

        RETURNS (Tensor): (batch, time, n_tags) marginals, zero on padding.
        """
        with torch.enable_grad():
            emissions = emissions.detach().double().requires_grad_(True)
            log_z = self._log_partition(emissions, lengths).sum()
            (marginals,) = torch.autograd.grad(log_z, emissions)
        return marginals.float()

    def _log_partition(
        self, emissions: torch.Tensor, lengths: torch.Tensor, scale: float = 1.0
    ) -> torch.Tensor:
        """log Z of each padded sequence, exactly, in float64 (see `nll` for how).

        scale (float): Multiplies every score (emissions, transitions, start, end) first.
        """
        if emissions.device.type == "cpu":
            transitions = self.transitions * scale
            start = (self.start_transitions + self.start_penalty) * scale
            end = self.end_transitions * scale
            scaled = emissions * scale if scale != 1.0 else emissions
            state = forward_backward.forward(
                _numpy(scaled),
                lengths.numpy(),
                _numpy(transitions),
                _numpy(start),
                _numpy(end),
                FORBIDDEN * scale,
            )
            if state is not None:
                return _FromNumpy.apply(
                    state.log_z, state.backward, scaled, transitions, start, end
                )
        return self._autograd_log_partition(emissions, lengths, scale)

    def _autograd_log_partition(
        self, emissions: torch.Tensor, lengths: torch.Tensor, scale: float = 1.0
    ) -> torch.Tensor:
        """log Z of each padded sequence, exactly, in float64, by torch autograd.

        scale (float): Multiplies every score (emissions, transitions, start,
            end) first: 1 / temperature.

        The forward algorithm runs as a matrix product in probability space,
        rescaled by each row's maximum (a logsumexp over a (batch, tags, tags)
        tensor at every step is an order of magnitude slower on a CPU with a
        hundred or more tags). A column whose sum falls below SAFE_SUM is
        taken exactly by `_low_columns`, so the result is never clamped.
        """
        emissions = emissions.double()
        transitions = (self.transitions + self.transition_penalty).double()
        start = (self.start_transitions + self.start_penalty).double()
        end = self.end_transitions.double()
        if scale != 1.0:  # distillation only: the NLL's partitions skip these products
            emissions, transitions = emissions * scale, transitions * scale
            start, end = start * scale, end * scale
        forbidden = self.transition_penalty != 0
        allowed = (~forbidden).double()
        # The forbidden transitions alone, rescaled by their own maximum (for `_low_columns`).
        forbidden_shift = (
            transitions[forbidden].max() if bool(forbidden.any()) else transitions.new_zeros(())
        )
        exp_forbidden = torch.exp(
            (transitions - forbidden_shift).masked_fill(~forbidden, -math.inf)
        )
        shift = transitions.max()
        exp_transitions = torch.exp(transitions - shift)
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            top = alpha.max(dim=1, keepdim=True).values
            summed = torch.exp(alpha - top) @ exp_transitions
            step = torch.log(summed.clamp_min(SAFE_SUM)) + top + shift
            # A tag excluded at this step stays near EXCLUDED however its sum is taken.
            low = (summed < SAFE_SUM) & (emissions[:, t] > EXCLUDED / 2)
            if bool(low.any()):
                step = _low_columns(
                    alpha, step, low, transitions, allowed, exp_forbidden, forbidden_shift
                )
            step = step + emissions[:, t]
            alpha = torch.where((t < lengths).unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, lengths: torch.Tensor) -> List[List[int]]:
        """The best tag sequence of each (padded) sequence under the BIO constraints."""
        return viterbi(emissions.cpu().numpy(), lengths.tolist(), *self.decode_scores())

    @torch.no_grad()
    def decode_scores(self) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """Transition, start and end scores with the constraints applied, as numpy arrays."""

        # numpy, not torch: no torch operation (and thread pool) in prediction.
        def numpy_of(tensor: torch.Tensor) -> numpy.ndarray:
            return tensor.detach().cpu().numpy()

        return (
            numpy_of(self.transitions) + numpy_of(self.transition_penalty),
            numpy_of(self.start_transitions) + numpy_of(self.start_penalty),
            numpy_of(self.end_transitions).copy(),
        )

    @torch.no_grad()
    def span_scores(self) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, float]:
        """Transitions without the penalty, start scores with it, end scores and the penalty,
        as numpy arrays: what `span_confidence.span_log_probabilities` takes."""
        return (
            self.transitions.detach().cpu().numpy().copy(),
            (self.start_transitions + self.start_penalty).detach().cpu().numpy(),
            self.end_transitions.detach().cpu().numpy().copy(),
            FORBIDDEN,
        )


class _FromNumpy(torch.autograd.Function):
    """Losses computed in numpy, with the function that gives their gradient, in autograd."""

    @staticmethod
    def forward(ctx, losses, backward, emissions, transitions, start, end):
        ctx.backward = backward
        ctx.inputs = [(x.dtype, x.requires_grad) for x in (emissions, transitions, start, end)]
        return torch.from_numpy(numpy.ascontiguousarray(losses, dtype="float64"))

    @staticmethod
    def backward(ctx, d_losses):
        grads = ctx.backward(d_losses.detach().cpu().numpy())
        tensors = [
            torch.from_numpy(numpy.ascontiguousarray(grad)).to(dtype) if needed else None
            for grad, (dtype, needed) in zip(grads, ctx.inputs)
        ]
        return (None, None, *tensors)


def _numpy(tensor: torch.Tensor) -> numpy.ndarray:
    return tensor.detach().numpy()


def _low_columns(
    alpha: torch.Tensor,
    step: torch.Tensor,
    low: torch.Tensor,
    transitions: torch.Tensor,
    allowed: torch.Tensor,
    exp_forbidden: torch.Tensor,
    forbidden_shift: torch.Tensor,
) -> torch.Tensor:
    """The forward step's columns whose rescaled sum fell below SAFE_SUM, taken exactly.

    The common case, in training: every allowed predecessor is excluded (in the
    constrained partition, an "I-X" after a token whose known tag is neither
    "B-X" nor "I-X"). Only forbidden transitions reach the tag then, so their
    sum, rescaled by their own maximum, is the exact value: a small matrix
    product. It matters when the gold sequence itself is invalid. Otherwise
    (alive predecessors far below the row maximum: a gold "I-X" after a
    missing token, extreme scores) the column is recomputed with logsumexp.
    """
    rows = low.any(dim=1)
    alpha_rows, low_rows = alpha[rows], low[rows]
    alive = (alpha_rows > EXCLUDED / 2).double()
    only_forbidden = low_rows & ((alive @ allowed) == 0)
    fixed = step[rows]
    if bool(only_forbidden.any()):
        top = alpha_rows.max(dim=1, keepdim=True).values
        summed = torch.exp(alpha_rows - top) @ exp_forbidden
        only_forbidden = only_forbidden & (summed >= SAFE_SUM)
        via_forbidden = torch.log(summed.clamp_min(SAFE_SUM)) + top + forbidden_shift
        fixed = torch.where(only_forbidden, via_forbidden, fixed)
    unsafe = low_rows & ~only_forbidden
    recompute = unsafe.any(dim=1)
    if bool(recompute.any()):
        exact = torch.logsumexp(
            alpha_rows[recompute].unsqueeze(2) + transitions.unsqueeze(0), dim=1
        )
        fixed = fixed.index_put(
            (recompute,), torch.where(unsafe[recompute], exact, fixed[recompute])
        )
    return step.index_put((rows,), fixed)
