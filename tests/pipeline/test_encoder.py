"""The shared encoder hears every head that learned, whatever the pipeline order."""

import numpy
import pytest
from conftest import SENTENCES, build_nlp, make_examples, train_step


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
    assert norms[1] == pytest.approx(3.0 * norms[0], rel=1e-4)


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
