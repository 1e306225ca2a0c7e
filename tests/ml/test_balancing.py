"""Task balancing: PCGrad's projection and learned uncertainty weights."""

import random

import numpy
import pytest
from spacy.util import registry

from spacy_mtl.ml.balancing import (
    PCGrad,
    UncertaintyWeighting,
    acts_on_whole_step,
    project_conflicting,
    sum_gradients,
)


def _grads(**vectors):
    return {task: [numpy.asarray(v, dtype="f").reshape(1, -1)] for task, v in vectors.items()}


def test_sum_is_the_plain_sum():
    total = sum_gradients(_grads(a=[1, 2], b=[3, -1]))
    assert total[0].tolist() == [[4, 1]]


def test_pcgrad_projects_conflicting_gradients_as_in_the_paper():
    g1, g2 = numpy.array([1.0, 0.0]), numpy.array([-1.0, 1.0])
    p1, p2 = project_conflicting([g1, g2], random.Random(0))
    # g1' = g1 - (g1.g2 / |g2|^2) g2 and g2' = g2 - (g2.g1 / |g1|^2) g1 (Yu et al. 2020, Alg. 1)
    assert p1.tolist() == pytest.approx([0.5, 0.5])
    assert p2.tolist() == pytest.approx([0.0, 1.0])
    assert float(p1 @ g2) == pytest.approx(0.0) and float(p2 @ g1) == pytest.approx(0.0)
    combined = PCGrad(seed=0)(_grads(a=g1, b=g2))
    assert combined[0].ravel().tolist() == pytest.approx([0.5, 1.5])


def test_pcgrad_leaves_agreeing_gradients_alone():
    grads = _grads(a=[1, 1, 0], b=[0, 1, 1])
    assert PCGrad(seed=0)(grads)[0].tolist() == sum_gradients(grads)[0].tolist()


def test_pcgrad_keeps_shapes_across_documents():
    grads = {
        "a": [numpy.ones((2, 3), "f"), numpy.ones((1, 3), "f")],
        "b": [-numpy.ones((2, 3), "f"), numpy.zeros((1, 3), "f")],
    }
    out = PCGrad(seed=0)(grads)
    assert [o.shape for o in out] == [(2, 3), (1, 3)]


def test_uncertainty_weights_settle_at_inverse_losses():
    balancer = UncertaintyWeighting(learn_rate=0.05)
    grads = _grads(big=[1.0], small=[1.0])
    for _ in range(2000):
        balancer(grads, {"big": 10.0, "small": 1.0})
        balancer.finish_step()
    weights = balancer.task_weights()
    assert weights["big"] == pytest.approx(0.1, rel=0.05)
    assert weights["small"] == pytest.approx(1.0, rel=0.05)
    assert balancer(grads, {"big": 10.0, "small": 1.0})[0][0, 0] == pytest.approx(1.1, rel=0.1)


def test_scaling_up_one_task_loss_lowers_its_weight():
    base, scaled = UncertaintyWeighting(), UncertaintyWeighting()
    grads = _grads(cats=[1.0], ents=[1.0])
    for _ in range(200):
        base(grads, {"cats": 1.0, "ents": 2.0})
        scaled(grads, {"cats": 1.0, "ents": 20.0})
        base.finish_step()
        scaled.finish_step()
    assert scaled.task_weights()["ents"] < base.task_weights()["ents"] < 1.0
    assert scaled.task_weights()["cats"] == pytest.approx(base.task_weights()["cats"])


def test_uncertainty_learn_rate_must_be_positive():
    with pytest.raises(ValueError, match="learn_rate"):
        UncertaintyWeighting(learn_rate=0)


def test_only_the_nonlinear_or_learning_balancers_need_the_whole_step():
    def custom(grads, losses):
        return sum_gradients(grads)

    assert not acts_on_whole_step(sum_gradients) and not acts_on_whole_step(custom)
    assert not acts_on_whole_step(UncertaintyWeighting())
    assert acts_on_whole_step(PCGrad())


def test_uncertainty_weights_learn_once_per_step_from_its_summed_losses():
    """Calls within a step share the weights; finish_step takes one step on their total."""
    balancer = UncertaintyWeighting(learn_rate=0.1)
    grads = _grads(a=[1.0])
    assert balancer(grads, {"a": 3.0})[0][0, 0] == pytest.approx(1.0)
    assert balancer(grads, {"a": 5.0})[0][0, 0] == pytest.approx(1.0)
    balancer.finish_step()
    assert balancer.log_vars["a"] == pytest.approx(-0.1 * (1.0 - 8.0))
    balancer.finish_step()
    assert balancer.log_vars["a"] == pytest.approx(0.7)


def _documents(n_docs, value=1.0):
    return [numpy.full((3, 2), value, dtype="f") for _ in range(n_docs)]


@pytest.mark.parametrize("n_docs", [2, 8, 32])
def test_per_document_uncertainty_weights_settle_at_the_inverse_mean_loss_per_document(n_docs):
    """v2's fixed point is the same for every batch size; v1's falls as the batch grows."""
    per_document = registry.misc.get("spacy_mtl.uncertainty_weights.v2")(learn_rate=0.05)
    summed = registry.misc.get("spacy_mtl.uncertainty_weights.v1")(learn_rate=0.05)
    grads = {"big": _documents(n_docs), "small": _documents(n_docs)}
    losses = {"big": 10.0 * n_docs, "small": 1.0 * n_docs}
    for _ in range(3000):
        per_document(grads, losses)
        summed(grads, losses)
        per_document.finish_step()
        summed.finish_step()
    assert per_document.task_weights()["big"] == pytest.approx(0.1, rel=0.02)
    assert per_document.task_weights()["small"] == pytest.approx(1.0, rel=0.02)
    assert summed.task_weights()["big"] == pytest.approx(0.1 / n_docs, rel=0.05)


def test_per_document_uncertainty_counts_only_documents_the_task_learned_from():
    """A document a head has no annotation for gets exactly zero gradient from it."""
    balancer = UncertaintyWeighting(learn_rate=0.05, per_document=True)
    grads = {"cats": _documents(2) + _documents(6, 0.0), "ents": _documents(8)}
    for _ in range(3000):
        balancer(grads, {"cats": 2 * 4.0, "ents": 8 * 4.0})
        balancer.finish_step()
    weights = balancer.task_weights()
    assert weights["cats"] == pytest.approx(0.25, rel=0.02)
    assert weights["ents"] == pytest.approx(0.25, rel=0.02)


def test_per_document_uncertainty_leaves_a_task_without_gradient_alone():
    balancer = UncertaintyWeighting(learn_rate=0.05, initial_log_var=0.5, per_document=True)
    balancer({"cats": _documents(2, 0.0)}, {"cats": 3.0})
    balancer.finish_step()
    assert balancer.log_vars == {"cats": 0.5}
