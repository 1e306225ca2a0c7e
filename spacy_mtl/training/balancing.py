"""How the shared encoder combines the gradients its task heads send it.

Each head sends d L_i / d tokvecs for the batch, already scaled by its listener's
task weight w_i. A balancer turns the per-task gradients into the one gradient
that is backpropagated through the encoder. It sees whole flattened vectors, so
strategies that compare tasks (PCGrad) work on the token representation that
the tasks really share.
"""

import random
from typing import Callable, Dict, List, Optional

from spacy.util import registry
from thinc.types import Floats2d

Balancer = Callable[[Dict[str, List[Floats2d]]], List[Floats2d]]


def _flatten(ops, arrays: List[Floats2d]):
    if not arrays:
        return ops.alloc1f(0)
    return ops.xp.concatenate([a.ravel() for a in arrays])


def _unflatten(flat, like: List[Floats2d]) -> List[Floats2d]:
    out = []
    start = 0
    for array in like:
        out.append(flat[start : start + array.size].reshape(array.shape))
        start += array.size
    return out


def sum_gradients(grads: Dict[str, List[Floats2d]]) -> List[Floats2d]:
    """The plain weighted sum: sum_i w_i dL_i (the weights are applied by the listeners)."""
    tasks = list(grads)
    total = [g.copy() for g in grads[tasks[0]]]
    for task in tasks[1:]:
        for acc, g in zip(total, grads[task]):
            acc += g
    return total


def project_conflicting(vectors: List, rng: random.Random, xp) -> List:
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
    """Balancer that sums the tasks' gradients after PCGrad's projection."""

    def __init__(self, seed: Optional[int] = None):
        self.rng = random.Random(seed)

    def __call__(self, grads: Dict[str, List[Floats2d]]) -> List[Floats2d]:
        tasks = list(grads)
        first = grads[tasks[0]]
        if len(tasks) == 1 or not first:
            return sum_gradients(grads)
        xp = _xp_of(first)
        flat = [xp.concatenate([a.ravel() for a in grads[t]]) for t in tasks]
        total = sum(project_conflicting(flat, self.rng, xp))
        return _unflatten(total, first)


def _xp_of(arrays):
    from thinc.api import get_array_module

    return get_array_module(arrays[0])


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
