"""Fitting the logit scaling of a calibration by minimising the dev set's negative log-likelihood.

Exclusive heads: one temperature (z / T, Guo et al. 2017) or vector scaling (a
positive scale and a bias per label). Multi-label heads: one temperature shared
by every label's sigmoid, or Platt scaling per label. The method is chosen by
two-fold cross-validated NLL on the dev data, so that the per-label methods,
with many more parameters, win only where they generalise; and the head's own
probabilities ("none") stay when no fitted scaling beats them there: an already
calibrated head is best left alone.
"""

from typing import Dict, Tuple

import numpy

# Bounds of the fitted temperature and biases, which a loaded calibration is checked against.
from ..pipeline.intent_confidence import (
    MAX_BIAS,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    IntentCalibration,
)

# L2 pull of vector / Platt parameters towards the temperature fit: keeps rare labels sane.
PER_LABEL_L2 = 1e-3
# The methods per head kind: the shared one first.
METHODS = {True: ("temperature", "vector"), False: ("temperature", "per_label")}
# The scaling that changes nothing: the head's own probabilities.
IDENTITY = IntentCalibration(method="none", scale=[1.0], bias=None, temperature=1.0)


def _nll(torch, z, targets, mask, exclusive: bool):
    if exclusive:
        return -(torch.log_softmax(z, dim=1) * targets).sum(dim=1).mean()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, targets, reduction="none")
    return (bce * mask).sum() / mask.sum().clamp(min=1.0)


def fit_scaling(
    logits: numpy.ndarray,
    targets: numpy.ndarray,
    mask: numpy.ndarray,
    exclusive: bool,
    method: str,
) -> IntentCalibration:
    """The scale and bias of one method, fitted with L-BFGS on the NLL.

    logits (numpy.ndarray): Raw logits, one row a document.
    targets (numpy.ndarray): One-hot (exclusive) or 0/1 targets.
    mask (numpy.ndarray): Annotated cells (multi-label; ones for exclusive).
    exclusive (bool): Softmax or sigmoid head.
    method (str): "temperature", "vector" (exclusive) or "per_label" (multi-label).
    RETURNS (IntentCalibration): The scaling alone (its method, scale, bias, temperature).
    """
    import torch

    z = torch.tensor(numpy.asarray(logits), dtype=torch.float64)
    y = torch.tensor(numpy.asarray(targets), dtype=torch.float64)
    m = torch.tensor(numpy.asarray(mask), dtype=torch.float64)
    per_label = method != "temperature"
    n = z.shape[1] if per_label else 1
    start = 0.0
    if per_label:
        start = -float(
            numpy.log(fit_scaling(logits, targets, mask, exclusive, "temperature").temperature)
        )
    log_scale = torch.full((n,), start, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n, dtype=torch.float64, requires_grad=per_label)
    params = [log_scale, bias] if per_label else [log_scale]
    optimizer = torch.optim.LBFGS(params, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = _nll(torch, z * log_scale.exp() + bias, y, m, exclusive)
        if per_label:
            loss = loss + PER_LABEL_L2 * (((log_scale - start) ** 2).sum() + (bias**2).sum())
        loss.backward()
        return loss

    optimizer.step(closure)
    bounded = log_scale.detach().clamp(-numpy.log(MAX_TEMPERATURE), -numpy.log(MIN_TEMPERATURE))
    scale = bounded.exp().numpy().tolist()
    if per_label:
        fitted = bias.detach().clamp(-MAX_BIAS, MAX_BIAS).numpy().tolist()
        return IntentCalibration(method=method, scale=scale, bias=fitted)
    return IntentCalibration(method=method, scale=scale, temperature=1.0 / scale[0])


def nll_of(
    scaling: IntentCalibration,
    logits: numpy.ndarray,
    targets: numpy.ndarray,
    mask: numpy.ndarray,
    exclusive: bool,
) -> float:
    """The mean NLL of the data under a fitted scaling."""
    import torch

    scale = numpy.asarray(scaling.scale)
    bias = numpy.asarray(scaling.bias or [0.0])
    z = torch.tensor(numpy.asarray(logits) * scale + bias, dtype=torch.float64)
    y = torch.tensor(numpy.asarray(targets), dtype=torch.float64)
    m = torch.tensor(numpy.asarray(mask), dtype=torch.float64)
    return float(_nll(torch, z, y, m, exclusive))


def choose_scaling(
    logits: numpy.ndarray,
    targets: numpy.ndarray,
    mask: numpy.ndarray,
    exclusive: bool,
    seed: int = 0,
) -> Tuple[IntentCalibration, Dict[str, float]]:
    """Fit each method, choose by two-fold cross-validated NLL, refit the winner on all.

    RETURNS (Tuple[IntentCalibration, Dict[str, float]]): The chosen scaling and
        every method's cross-validated NLL ("none": the head's own probabilities).
    """
    order = numpy.random.default_rng(seed).permutation(len(logits))
    folds = [order[: len(order) // 2], order[len(order) // 2 :]]
    cv = {
        "none": sum(
            nll_of(IDENTITY, logits[rows], targets[rows], mask[rows], exclusive) for rows in folds
        )
        / 2
    }
    for method in METHODS[exclusive]:
        total = 0.0
        for k in (0, 1):
            fit_rows, test_rows = folds[k], folds[1 - k]
            fitted = fit_scaling(
                logits[fit_rows], targets[fit_rows], mask[fit_rows], exclusive, method
            )
            total += nll_of(
                fitted, logits[test_rows], targets[test_rows], mask[test_rows], exclusive
            )
        cv[method] = total / 2
    best = min(cv, key=cv.__getitem__)
    if best == "none":
        return IDENTITY, cv
    return fit_scaling(logits, targets, mask, exclusive, best), cv
