"""How the shared encoder combines the gradients its task heads send it.

Each head sends d L_i / d tokvecs for the batch, already scaled by its listener's
task weight w_i, and its loss L_i. A balancer turns them into the one gradient
that is backpropagated through the encoder: `balancer(grads, losses)`, with
`grads` and `losses` keyed by task (the head's component name).

Balancing acts where the tasks share parameters, on the gradient into the
encoder. Each head's own parameters keep their unscaled gradient: with Adam, a
constant factor on a head's own loss would hardly change its updates anyway.

The encoder calls a balancer once per sub-batch, and a balancer's
`finish_step()`, where it has one, once per training step, after the step's
last call. With `accumulate_gradient = N` the N calls then give the step of the
whole batch when the balancer is linear in the gradients during a step: the
sum, and uncertainty weighting, whose weights change in `finish_step` only.
PCGrad's projection is not linear, so it says `whole_step = True`
(`acts_on_whole_step`): the encoder then calls it once per training step, on the
gradients of every document of the step, as for one batch of them all.
"""

import math
import random
from typing import Callable, Dict, List, Optional

from spacy.util import registry
from thinc.api import get_array_module
from thinc.types import Floats2d

Grads = Dict[str, List[Floats2d]]
Balancer = Callable[[Grads, Dict[str, float]], List[Floats2d]]


def acts_on_whole_step(balancer: Balancer) -> bool:
    """Whether a balancer must see the gradients of a whole training step at once.

    balancer (Callable): The balancer; it says so with the attribute `whole_step`.
    RETURNS (bool): True for PCGrad; False for the sum, uncertainty weighting and
        a plain function, which the encoder calls once per sub-batch.
    """
    return bool(getattr(balancer, "whole_step", False))


def finish_step(balancer: Balancer) -> None:
    """Tell a balancer that the training step is over, if it learns from steps.

    balancer (Callable): The balancer; one that learns has a method `finish_step`.
    """
    if hasattr(balancer, "finish_step"):
        balancer.finish_step()


def sum_gradients(grads: Grads, losses: Optional[Dict[str, float]] = None) -> List[Floats2d]:
    """The plain weighted sum: sum_i w_i dL_i (the weights are applied by the listeners)."""
    return _weighted_sum(grads, {task: 1.0 for task in grads})


def _weighted_sum(grads: Grads, weights: Dict[str, float]) -> List[Floats2d]:
    tasks = list(grads)
    total = [weights[tasks[0]] * g for g in grads[tasks[0]]]
    for task in tasks[1:]:
        for acc, g in zip(total, grads[task]):
            acc += weights[task] * g
    return total


def project_conflicting(vectors: List, rng: random.Random) -> List:
    """PCGrad (Yu et al. 2020): remove from each task's gradient its component
    along any other task's gradient it conflicts with (negative dot product).

    vectors (List[array]): One flattened gradient per task.
    rng (random.Random): Chooses the order in which the other tasks are visited.
    RETURNS (List[array]): The projected gradients, one per task.
    """
    projected = []
    for i, g_i in enumerate(vectors):
        g = g_i.copy()
        others = [j for j in range(len(vectors)) if j != i]
        rng.shuffle(others)
        for j in others:
            g_j = vectors[j]
            dot = float((g * g_j).sum())
            norm_sq = float((g_j * g_j).sum())
            if dot < 0 and norm_sq > 0:
                g -= (dot / norm_sq) * g_j
        projected.append(g)
    return projected


class PCGrad:
    """Balancer that sums the tasks' gradients after PCGrad's projection.

    The projection depends on dot products over all the tokens it is given, so
    it is made once per training step, on the step's every document
    (`whole_step`): N accumulated sub-batches give the step of their union.
    """

    whole_step = True

    def __init__(self, seed: Optional[int] = None):
        self.rng = random.Random(seed)

    def __call__(self, grads: Grads, losses: Optional[Dict[str, float]] = None) -> List[Floats2d]:
        tasks = list(grads)
        first = grads[tasks[0]]
        if len(tasks) == 1 or not first:
            return sum_gradients(grads)
        xp = get_array_module(first[0])
        flat = [xp.concatenate([a.ravel() for a in grads[t]]) for t in tasks]
        total = sum(project_conflicting(flat, self.rng))
        out, start = [], 0
        for array in first:
            out.append(total[start : start + array.size].reshape(array.shape))
            start += array.size
        return out


class UncertaintyWeighting:
    """Learned task weights after Kendall, Gal and Cipolla (2018).

    The objective sum_i exp(-s_i) L_i + s_i, with s_i = log sigma_i^2 learned
    per task, weights task i by exp(-s_i). Its gradient in s_i is
    1 - exp(-s_i) L_i, so at equilibrium exp(-s_i) = 1 / L_i: a task whose loss
    is larger (noisier) gets a proportionally smaller weight.

    A call weights the gradients by the current exp(-s_i) and adds the losses
    to the step's; `finish_step` takes the one step of plain gradient descent
    on the s_i, from the losses of the whole training step. So every sub-batch
    of a step gets the same weights and N sub-batches give the step of their
    union. The losses are sums over documents: with `per_document = False` the
    weights settle at 1 / (task loss of one training step) and fall as the
    batches grow. With `per_document = True` the s_i learn from L_i / n_i,
    n_i the documents of the step whose gradient from task i is not zero (a
    head sends exactly zero for a document it has no annotation for): this is
    Kendall's objective summed over documents, sum_i exp(-s_i) L_i + n_i s_i,
    with its gradient in s_i divided by n_i, and the weights settle at
    1 / (mean loss per document), whatever the batch size.

    learn_rate (float): Step size of the s_i per training step.
    initial_log_var (float): Starting s_i; 0 gives every task weight 1.
    per_document (bool): Learn from the mean loss per document rather than the sum.
    """

    def __init__(
        self, learn_rate: float = 0.01, initial_log_var: float = 0.0, per_document: bool = False
    ):
        if learn_rate <= 0:
            raise ValueError(f"learn_rate of uncertainty weighting must be > 0, got {learn_rate}.")
        self.learn_rate = learn_rate
        self.initial_log_var = initial_log_var
        self.per_document = per_document
        self.log_vars: Dict[str, float] = {}
        self._step_losses: Dict[str, float] = {}
        self._step_docs: Dict[str, int] = {}

    def __call__(self, grads: Grads, losses: Optional[Dict[str, float]] = None) -> List[Floats2d]:
        losses = losses or {}
        weights = {}
        for task in grads:
            weights[task] = math.exp(-self.log_vars.setdefault(task, self.initial_log_var))
            if task in losses:
                self._step_losses[task] = self._step_losses.get(task, 0.0) + losses[task]
                if self.per_document:
                    n_docs = sum(1 for g in grads[task] if bool(g.any()))
                    self._step_docs[task] = self._step_docs.get(task, 0) + n_docs
        return _weighted_sum(grads, weights)

    def finish_step(self) -> None:
        """Take one step on each s_i from the losses of the calls since the last step."""
        for task, loss in self._step_losses.items():
            if self.per_document:
                if not self._step_docs[task]:
                    continue
                loss /= self._step_docs[task]
            s = self.log_vars[task]
            self.log_vars[task] = s - self.learn_rate * (1.0 - math.exp(-s) * loss)
        self._step_losses = {}
        self._step_docs = {}

    def task_weights(self) -> Dict[str, float]:
        """The current weight exp(-s_i) of each task seen so far."""
        return {task: math.exp(-s) for task, s in self.log_vars.items()}


@registry.misc("spacy_mtl.sum_gradients.v1")
def make_sum_gradients() -> Balancer:
    """Combine the heads' gradients by their (task-weighted) sum."""
    return sum_gradients


@registry.misc("spacy_mtl.pcgrad.v1")
def make_pcgrad(seed: Optional[int] = None) -> Balancer:
    """Combine the heads' gradients with PCGrad's projection of conflicting gradients.

    seed (Optional[int]): Seed of the order in which conflicts are projected.
    """
    return PCGrad(seed=seed)


@registry.misc("spacy_mtl.uncertainty_weights.v1")
def make_uncertainty_weights(learn_rate: float = 0.01, initial_log_var: float = 0.0) -> Balancer:
    """Weight the heads' gradients by learned homoscedastic uncertainty (Kendall et al. 2018).

    The log-variances learn from each task's loss summed over the training
    step, so the weights settle at 1 / (loss per step) and depend on the batch
    size; v2 learns from the mean loss per document.

    learn_rate (float): Step size of the log-variances s_i (plain gradient descent),
        once per training step.
    initial_log_var (float): Starting s_i; 0 gives every task weight 1.
    """
    return UncertaintyWeighting(learn_rate=learn_rate, initial_log_var=initial_log_var)


@registry.misc("spacy_mtl.uncertainty_weights.v2")
def make_uncertainty_weights_v2(learn_rate: float = 0.01, initial_log_var: float = 0.0) -> Balancer:
    """Uncertainty weights (Kendall et al. 2018) that settle at 1 / (mean loss per document).

    As v1, but the log-variances learn from each task's loss per document it
    learned from in the training step: the weights do not depend on the batch size.

    learn_rate (float): Step size of the log-variances s_i (plain gradient descent),
        once per training step.
    initial_log_var (float): Starting s_i; 0 gives every task weight 1.
    """
    return UncertaintyWeighting(
        learn_rate=learn_rate, initial_log_var=initial_log_var, per_document=True
    )
