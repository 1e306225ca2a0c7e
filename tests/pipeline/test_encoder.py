"""The shared encoder hears every head that learned, whatever the pipeline order."""

import math
import warnings

import numpy
import pytest
import spacy
from conftest import SENTENCES, build_nlp, make_examples, small_cnn, train_step
from spacy.training.loop import train_while_improving
from thinc.api import SGD, fix_random_seed

from spacy_mtl.pipeline.encoder import SubBatchBalancingWarning


def _encoder_params(nlp):
    encoder = nlp.get_pipe("mtl_tok2vec")
    return [
        node.get_param(name).copy()
        for node in encoder.model.walk()
        for name in node.param_names
        if node.has_param(name)
    ]


def _changed(before, after):
    return any(not numpy.array_equal(a, b) for a, b in zip(before, after))


def _initialized(order):
    nlp = build_nlp(order=order)
    optimizer = nlp.initialize(lambda: make_examples(nlp, SENTENCES))
    return nlp, optimizer


@pytest.mark.parametrize("order", [("mtl_textcat", "mtl_ner"), ("mtl_ner", "mtl_textcat")])
@pytest.mark.parametrize("task", ["cats", "entities"])
def test_single_task_batch_updates_encoder_in_any_order(order, task):
    nlp, optimizer = _initialized(order)
    batch = make_examples(nlp, SENTENCES, cats=task == "cats", entities=task == "entities")
    before = _encoder_params(nlp)
    losses = train_step(nlp, batch, optimizer)
    assert _changed(before, _encoder_params(nlp))
    stats = nlp.get_pipe("mtl_tok2vec").pop_gradient_stats()
    learner, idle = ("mtl_textcat", "mtl_ner") if task == "cats" else ("mtl_ner", "mtl_textcat")
    assert stats[f"grad_norm_{learner}"] > 0
    assert f"grad_norm_{idle}" not in stats
    assert losses[learner] > 0 and losses[idle] == 0


def test_zero_task_weight_shields_the_encoder_but_not_the_head():
    nlp = build_nlp()
    nlp.get_pipe("mtl_textcat").model.get_ref("tok2vec").attrs["task_weight"] = 0.0
    optimizer = nlp.initialize(lambda: make_examples(nlp, SENTENCES))
    batch = make_examples(nlp, SENTENCES, entities=False)
    before = _encoder_params(nlp)
    head = nlp.get_pipe("mtl_textcat").model.get_ref("output_layer")
    head_before = head.get_param("W").copy()
    train_step(nlp, batch, optimizer)
    assert not _changed(before, _encoder_params(nlp))
    assert not numpy.array_equal(head_before, head.get_param("W"))


def test_task_weight_scales_the_gradient_into_the_encoder():
    nlp, _ = _initialized(("mtl_textcat", "mtl_ner"))
    encoder = nlp.get_pipe("mtl_tok2vec")
    listener = nlp.get_pipe("mtl_textcat").model.get_ref("tok2vec")
    batch = make_examples(nlp, SENTENCES, entities=False)
    norms = []
    for weight in (1.0, 3.0):
        listener.attrs["task_weight"] = weight
        encoder.update(batch)
        nlp.get_pipe("mtl_textcat").update(batch)
        nlp.get_pipe("mtl_ner").update(batch)
        norms.append(encoder.pop_gradient_stats()["grad_norm_mtl_textcat"])
    assert norms[1] == pytest.approx(3.0 * norms[0], rel=1e-4, abs=1e-6)


def test_both_tasks_reach_the_encoder_and_their_cosine_is_reported():
    nlp, optimizer = _initialized(("mtl_textcat", "mtl_ner"))
    train_step(nlp, make_examples(nlp, SENTENCES), optimizer)
    stats = nlp.get_pipe("mtl_tok2vec").pop_gradient_stats()
    assert stats["grad_norm_mtl_textcat"] > 0 and stats["grad_norm_mtl_ner"] > 0
    assert -1.0 <= stats["grad_cos_mtl_ner_mtl_textcat"] <= 1.0
    assert nlp.get_pipe("mtl_tok2vec").pop_gradient_stats() == {}


def test_a_head_that_never_reports_does_not_delay_the_step():
    nlp, optimizer = _initialized(("mtl_textcat", "mtl_ner"))
    batch = make_examples(nlp, SENTENCES, entities=False)
    before = _encoder_params(nlp)
    # Only the encoder and textcat update: ner (as a frozen or foreign head would) stays silent.
    train_step(nlp, batch, optimizer, exclude=["mtl_ner"])
    assert _changed(before, _encoder_params(nlp))


def test_plain_nlp_update_steps_the_encoder_one_call_later_as_stock_tok2vec_does():
    """nlp.update(sgd=...) calls finish_update right after the encoder's own update,
    before the heads send their gradients: they are applied at the next call."""
    nlp, optimizer = _initialized(("mtl_textcat", "mtl_ner"))
    batch = make_examples(nlp, SENTENCES)
    before = _encoder_params(nlp)
    nlp.update(batch, sgd=optimizer)
    assert not _changed(before, _encoder_params(nlp))
    nlp.update(batch, sgd=optimizer)
    assert _changed(before, _encoder_params(nlp))


def test_encoder_runs_no_optimizer_step_without_gradients():
    nlp, optimizer = _initialized(("mtl_textcat", "mtl_ner"))
    encoder = nlp.get_pipe("mtl_tok2vec")
    before = _encoder_params(nlp)
    encoder.update(make_examples(nlp, SENTENCES))
    encoder.finish_update(optimizer)
    assert not _changed(before, _encoder_params(nlp))


def _with_balancer(balancer):
    nlp = build_nlp()
    model = nlp.config["components"]["mtl_tok2vec"]["model"]
    nlp.replace_pipe("mtl_tok2vec", "mtl_tok2vec", config={"model": model, "balancer": balancer})
    return nlp, nlp.initialize(lambda: make_examples(nlp, SENTENCES))


def test_uncertainty_balancer_learns_lower_weight_for_the_larger_loss():
    nlp, optimizer = _with_balancer(
        {"@misc": "spacy_mtl.uncertainty_weights.v1", "learn_rate": 0.05}
    )
    examples = make_examples(nlp, SENTENCES)
    losses = {}
    for _ in range(10):
        train_step(nlp, examples, optimizer, losses=losses)
    stats = nlp.get_pipe("mtl_tok2vec").pop_gradient_stats()
    # The CRF's sequence NLL is larger than the classifier's cross-entropy.
    assert losses["mtl_ner"] > losses["mtl_textcat"]
    assert stats["loss_weight_mtl_ner"] < stats["loss_weight_mtl_textcat"]


def test_pcgrad_balancer_trains_both_tasks():
    nlp, optimizer = _with_balancer({"@misc": "spacy_mtl.pcgrad.v1", "seed": 0})
    examples = make_examples(nlp, SENTENCES)
    history = []
    for _ in range(15):
        history.append(train_step(nlp, examples, optimizer))
    assert history[-1]["mtl_textcat"] < history[0]["mtl_textcat"] / 2
    assert history[-1]["mtl_ner"] < history[0]["mtl_ner"] / 2


# accumulate_gradient: N sub-batches through spaCy's own loop against one batch of them all.

BALANCERS = {
    "sum": {"@misc": "spacy_mtl.sum_gradients.v1"},
    "pcgrad": {"@misc": "spacy_mtl.pcgrad.v1", "seed": 0},
    "uncertainty": {"@misc": "spacy_mtl.uncertainty_weights.v1", "learn_rate": 0.05},
    "uncertainty_v2": {"@misc": "spacy_mtl.uncertainty_weights.v2", "learn_rate": 0.05},
}


class RecordingSGD:
    """thinc's SGD, keeping the last gradient it was given for each parameter."""

    def __init__(self):
        self.inner = SGD(0.5)
        self.grads = {}

    def __call__(self, key, param, grad):
        self.grads[key] = grad.copy()
        return self.inner(key, param, grad)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _param_keys(nlp, component):
    model = nlp.get_pipe(component).model
    return [(n.id, name) for n in model.walk() for name in n.param_names if n.has_param(name)]


def _warmed_up(balancer):
    """The same pipeline every call: seeded, then three joint training steps, so that
    the heads' gradients are not those of their initial weights (PCGrad needs conflicts)."""
    fix_random_seed(0)
    nlp, optimizer = _with_balancer(balancer)
    examples = make_examples(nlp, SENTENCES)
    for _ in range(3):
        train_step(nlp, examples, optimizer)
    return nlp


def _one_loop_step(nlp, examples, accumulate, frozen=(), encoder="mtl_tok2vec"):
    """One step of spaCy's training loop; returns the encoder gradient it applied and the losses."""
    optimizer = RecordingSGD()
    loop = train_while_improving(
        nlp,
        optimizer,
        iter([(0, examples)]),
        lambda: (0.0, {}),
        dropout=0.0,
        eval_frequency=100,
        accumulate_gradient=accumulate,
        patience=0,
        max_steps=100,
        exclude=list(frozen),
        annotating_components=[],
        before_update=None,
    )
    _, info, _ = next(loop)
    grads = [optimizer.grads[key] for key in _param_keys(nlp, encoder) if key in optimizer.grads]
    return grads, dict(info["losses"])


def _relative_difference(a, b):
    a = numpy.concatenate([g.ravel() for g in a])
    b = numpy.concatenate([g.ravel() for g in b])
    return float(numpy.linalg.norm(a - b) / numpy.linalg.norm(b))


@pytest.mark.parametrize("accumulate", [2, 3])
@pytest.mark.parametrize("balancer", list(BALANCERS))
def test_accumulated_sub_batches_give_the_step_of_the_whole_batch(balancer, accumulate):
    """Dropout 0: N sub-batches and one finish_update give the encoder the gradient and the
    step of one batch of them all, whatever the balancer (before the fix PCGrad was off by
    1.6e-2 here, and uncertainty weighting stepped its log-variances N times)."""
    whole_nlp, parts_nlp = _warmed_up(BALANCERS[balancer]), _warmed_up(BALANCERS[balancer])
    for a, b in zip(_encoder_params(whole_nlp), _encoder_params(parts_nlp)):
        numpy.testing.assert_array_equal(a, b)
    whole, whole_losses = _one_loop_step(whole_nlp, make_examples(whole_nlp, SENTENCES), 1)
    parts, parts_losses = _one_loop_step(parts_nlp, make_examples(parts_nlp, SENTENCES), accumulate)
    assert len(whole) == len(parts) > 0
    assert _relative_difference(parts, whole) < 1e-5
    for a, b in zip(_encoder_params(parts_nlp), _encoder_params(whole_nlp)):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for task in ("mtl_textcat", "mtl_ner"):
        assert parts_losses[task] == pytest.approx(whole_losses[task], rel=1e-5, abs=1e-6)
    whole_balancer = whole_nlp.get_pipe("mtl_tok2vec").balancer
    parts_balancer = parts_nlp.get_pipe("mtl_tok2vec").balancer
    if hasattr(whole_balancer, "log_vars"):
        assert parts_balancer.log_vars == pytest.approx(whole_balancer.log_vars, rel=1e-5, abs=1e-6)


def test_uncertainty_log_variances_step_once_per_training_step_on_its_summed_losses():
    learn_rate = 0.05
    nlp = _warmed_up(BALANCERS["uncertainty"])
    balancer = nlp.get_pipe("mtl_tok2vec").balancer
    before = dict(balancer.log_vars)
    _, losses = _one_loop_step(nlp, make_examples(nlp, SENTENCES), 3)
    for task, s in before.items():
        expected = s - learn_rate * (1.0 - math.exp(-s) * losses[task])
        assert balancer.log_vars[task] == pytest.approx(expected, rel=1e-5, abs=1e-6)


def _has_encoder_gradient(nlp):
    encoder = nlp.get_pipe("mtl_tok2vec")
    return any(
        node.has_grad(name) and float(numpy.abs(node.get_grad(name)).sum()) > 0
        for node in encoder.model.walk()
        for name in node.param_names
    )


@pytest.mark.parametrize("balancer", list(BALANCERS))
def test_only_pcgrad_keeps_sub_batches_until_finish_update(balancer):
    """The sum and uncertainty weighting backpropagate each sub-batch as before (and hold
    no activations); PCGrad backpropagates in finish_update, once the step is known."""
    nlp = _warmed_up(BALANCERS[balancer])
    examples = make_examples(nlp, SENTENCES)
    nlp.update(examples[:9], sgd=False)
    nlp.update(examples[9:], sgd=False)
    assert _has_encoder_gradient(nlp) == (balancer != "pcgrad")
    before = _encoder_params(nlp)
    nlp.get_pipe("mtl_tok2vec").finish_update(SGD(0.5))
    assert _changed(before, _encoder_params(nlp))
    assert not _has_encoder_gradient(nlp)


@pytest.mark.parametrize("frozen", [["mtl_ner"], ["mtl_textcat"]])
def test_a_frozen_head_under_accumulation_gives_the_step_of_the_whole_batch(frozen):
    whole_nlp, parts_nlp = _warmed_up(BALANCERS["pcgrad"]), _warmed_up(BALANCERS["pcgrad"])
    whole, _ = _one_loop_step(whole_nlp, make_examples(whole_nlp, SENTENCES), 1, frozen)
    parts, _ = _one_loop_step(parts_nlp, make_examples(parts_nlp, SENTENCES), 2, frozen)
    assert len(whole) == len(parts) > 0
    assert _relative_difference(parts, whole) < 1e-5


@pytest.mark.parametrize("balancer", ["pcgrad", "uncertainty"])
def test_whole_step_balancers_with_an_optimizer_passed_to_update(balancer):
    """nlp.update(sgd=...) steps the encoder one call later, as with the sum; an optimizer
    passed to the encoder's own update steps it as soon as the heads have reported."""
    nlp = _warmed_up(BALANCERS[balancer])
    batch = make_examples(nlp, SENTENCES)
    optimizer = SGD(0.5)
    before = _encoder_params(nlp)
    nlp.update(batch, sgd=optimizer)
    assert not _changed(before, _encoder_params(nlp))
    nlp.update(batch, sgd=optimizer)
    assert _changed(before, _encoder_params(nlp))
    before = _encoder_params(nlp)
    nlp.get_pipe("mtl_tok2vec").update(batch, sgd=optimizer)
    nlp.get_pipe("mtl_textcat").update(batch)
    assert not _changed(before, _encoder_params(nlp))
    nlp.get_pipe("mtl_ner").update(batch)
    assert _changed(before, _encoder_params(nlp))


def test_whole_step_balancer_with_an_excluded_head_steps_on_the_other():
    nlp = _warmed_up(BALANCERS["pcgrad"])
    batch = make_examples(nlp, SENTENCES)
    before = _encoder_params(nlp)
    nlp.get_pipe("mtl_tok2vec").pop_gradient_stats()
    nlp.update(batch[:9], sgd=False, exclude=["mtl_ner"])
    nlp.update(batch[9:], sgd=False, exclude=["mtl_ner"])
    nlp.get_pipe("mtl_tok2vec").finish_update(SGD(0.5))
    assert _changed(before, _encoder_params(nlp))
    assert "grad_norm_mtl_ner" not in nlp.get_pipe("mtl_tok2vec").pop_gradient_stats()


def _upstream_nlp(balancer="pcgrad"):
    """mtl_tok2vec reading a stock tok2vec through a listener, as it reads a transformer."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec", config={"model": small_cnn(32)})
    listener = {
        "@architectures": "spacy_mtl.SharedTok2VecListener.v1",
        "width": 32,
        "upstream": "mtl_tok2vec",
    }
    nlp.add_pipe(
        "mtl_tok2vec",
        config={
            "model": {
                "@architectures": "spacy.Tok2VecListener.v1",
                "width": 32,
                "upstream": "tok2vec",
            },
            "balancer": BALANCERS[balancer],
        },
    )
    for name in ("mtl_textcat", "mtl_ner"):
        nlp.add_pipe(name, config={"model": {"tok2vec": dict(listener)}})
    optimizer = nlp.initialize(lambda: make_examples(nlp, SENTENCES))
    for _ in range(3):
        train_step(nlp, make_examples(nlp, SENTENCES), optimizer)
    return nlp


def test_an_upstream_encoder_combines_per_sub_batch_and_says_so_when_accumulating():
    nlp = _upstream_nlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SubBatchBalancingWarning)
        _one_loop_step(nlp, make_examples(nlp, SENTENCES), 1)
    before = [p.copy() for p in _params_of(nlp.get_pipe("tok2vec"))]
    with pytest.warns(SubBatchBalancingWarning, match="not that of the whole batch"):
        _one_loop_step(nlp, make_examples(nlp, SENTENCES), 2)
    assert _changed(before, _params_of(nlp.get_pipe("tok2vec")))


def _params_of(component):
    return [
        node.get_param(name)
        for node in component.model.walk()
        for name in node.param_names
        if node.has_param(name)
    ]


@pytest.mark.parametrize("balancer", ["sum", "uncertainty"])
def test_an_upstream_encoder_stays_exact_under_accumulation_with_linear_balancers(balancer):
    whole_nlp, parts_nlp = _upstream_nlp(balancer), _upstream_nlp(balancer)
    whole, _ = _one_loop_step(whole_nlp, make_examples(whole_nlp, SENTENCES), 1, encoder="tok2vec")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SubBatchBalancingWarning)
        parts, _ = _one_loop_step(
            parts_nlp, make_examples(parts_nlp, SENTENCES), 2, encoder="tok2vec"
        )
    assert len(whole) == len(parts) > 0
    assert _relative_difference(parts, whole) < 1e-5
