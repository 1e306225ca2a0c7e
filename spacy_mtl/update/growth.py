"""Growing a trained head for new labels, keeping every weight it has.

spaCy's `textcat.resize_output` and thinc's `resize_linear_weighted` copy an
output layer into a larger one whose new rows are zero. Zero is not neutral:
a new label's logit 0 can outscore every old label of a document, so the
pipeline's predictions would change before it learnt anything. Here a new row
has zero weights and a bias NEW_LABEL_GAP below the lowest old bias: it starts
far below the old labels and learns from the update's documents.

Labels are appended, so every old label keeps its index: the textcat's rows,
the BIO tags ("O", "B-L0", "I-L0", ... from `bio_tag_names`), the CRF's
transitions and constraints (derived from the tag positions), and the columns
of the intent context a recogniser may read (`set_context_labels`).
"""

from typing import Dict, List, Optional, Sequence

import numpy
import torch
from thinc.api import Model

from ..ml.crf import bio_tag_names
from ..ml.tagger import crf_module, set_context_labels
from ..pipeline.ner import MultiTaskEntityRecognizer
from ..pipeline.textcat import MultiTaskTextCategorizer
from ..pipeline.trained_for import record_trained_for

# How far below the lowest old bias a new label's bias starts (in logits).
NEW_LABEL_GAP = 10.0


class LabelCollisionError(ValueError):
    """A new label that differs from another label in case only."""


def check_label_case(old: Sequence[str], new: Sequence[str], head: str, where: str) -> None:
    """Raise if a new label equals an old one, or another new one, in all but case.

    `Flight` beside `flight` would silently split one intent in two.
    """
    seen: Dict[str, str] = {label.casefold(): label for label in old}
    for label in new:
        key = label.casefold()
        if key in seen and seen[key] != label:
            kind = "an existing label" if seen[key] in old else "another new label"
            raise LabelCollisionError(
                f"{where}: the {head} label {label!r} differs from {kind}, {seen[key]!r}, in "
                "case only. Rename it to the existing label (or to a clearly different one) "
                "in the corpus."
            )
        seen.setdefault(key, label)


def grow_textcat(head: MultiTaskTextCategorizer, new_labels: Sequence[str]) -> List[str]:
    """Append labels to a trained `mtl_textcat`, keeping its weights.

    head (MultiTaskTextCategorizer): The trained classifier.
    new_labels (Sequence[str]): Labels, some perhaps known already.
    RETURNS (List[str]): The labels added, in order.
    """
    added = [label for label in dict.fromkeys(new_labels) if label not in head.labels]
    if not added:
        return []
    layer = head.model.get_ref("output_layer")
    head.model.replace_node(layer, grown_rows(layer, len(added)))
    _set_dim(head.model, "nO", len(head.labels) + len(added))
    for node in head.model.walk():  # a votes head's token_votes layer and its scorer
        if node.name.startswith("token_votes"):
            for part in (node, node.layers[0]):
                _set_dim(part, "nO", len(head.labels) + len(added))
    weights = list(head.cfg.get("label_weights") or [])
    if weights:
        setting = head.cfg.get("class_weights")
        for label in added:
            if isinstance(setting, dict):
                weights.append(float(setting.get(label, 1.0)))
            else:  # balanced: the old labels' mean, as their counts are not kept
                weights.append(float(numpy.mean(weights)) if setting == "balanced" else 1.0)
    head.cfg["labels"] = list(head.labels) + added
    head.cfg["label_weights"] = weights
    for label in added:
        head.vocab.strings.add(label)
    record_trained_for(head.model, head.trained_for())
    return added


def grow_ner(
    head: MultiTaskEntityRecognizer,
    new_labels: Sequence[str],
    context_labels: Optional[Sequence[str]] = None,
) -> List[str]:
    """Append entity types to a trained `mtl_ner`: emissions, CRF and context features.

    head (MultiTaskEntityRecognizer): The trained recogniser.
    new_labels (Sequence[str]): Entity types, some perhaps known already.
    context_labels (Optional[Sequence[str]]): The (grown) labels of the classifier
        the recogniser is conditioned on, if its model has an intent context.
    RETURNS (List[str]): The labels added, in order.
    """
    if context_labels is not None and head.model.attrs.get("context"):
        _grow_context(head.model, list(context_labels))
    added = [label for label in dict.fromkeys(new_labels) if label not in head.labels]
    if added:
        n_old = len(bio_tag_names(list(head.labels)))
        n_new = len(bio_tag_names(list(head.labels) + added))
        layer = head.model.get_ref("output_layer")
        head.model.replace_node(layer, grown_rows(layer, n_new - n_old))
        _set_dim(head.model, "nO", n_new)
        grow_crf(head.model, n_new)
        head.cfg["labels"] = list(head.labels) + added
        for label in added:
            head.vocab.strings.add(label)
    record_trained_for(head.model, head.trained_for())
    return added


def grown_rows(layer: Model, n_rows: int) -> Model:
    """A copy of a Linear layer (W: (nO, nI), b: (nO,)) with n_rows more outputs.

    The old rows are copied bit for bit; the new ones have zero weights and a
    bias NEW_LABEL_GAP below the lowest old bias.
    """
    W, b = layer.get_param("W"), layer.get_param("b")
    new_W = layer.ops.alloc2f(W.shape[0] + n_rows, W.shape[1])
    new_W[: W.shape[0]] = W
    new_b = layer.ops.alloc1f(b.shape[0] + n_rows)
    new_b[: b.shape[0]] = b
    new_b[b.shape[0] :] = float(b.min()) - NEW_LABEL_GAP
    return _copy_layer(layer, {"nO": new_W.shape[0]}, {"W": new_W, "b": new_b})


def grown_inputs(layer: Model, n_inputs: int) -> Model:
    """A copy of a Linear or Maxout layer with n_inputs more inputs, their weights zero.

    The new inputs are appended, so the layer's outputs stay exactly what they were.
    """
    W = layer.get_param("W")
    shape = W.shape[:-1] + (W.shape[-1] + n_inputs,)
    new_W = layer.ops.xp.zeros(shape, dtype=W.dtype)
    new_W[..., : W.shape[-1]] = W
    params = {"W": new_W, "b": layer.get_param("b")}
    return _copy_layer(layer, {"nI": shape[-1]}, params)


def _copy_layer(layer: Model, dims: Dict[str, int], params: Dict[str, numpy.ndarray]) -> Model:
    """A new node of the layer's kind, with other dims and the given parameters.

    As thinc's `resize_linear_weighted` builds it (thinc/layers/resizable.py).
    """
    new_dims = {name: layer.maybe_get_dim(name) for name in layer.dim_names}
    new_dims.update(dims)
    new_layer = Model(
        layer.name,
        layer._func,
        dims=new_dims,
        params={name: None for name in layer.param_names},
        init=layer.init,
        attrs=dict(layer.attrs),
        refs={},
        ops=layer.ops,
    )
    for name, value in params.items():
        new_layer.set_param(name, value)
    return new_layer


def grow_crf(tagger: Model, n_tags: int) -> None:
    """Resize the tagger's CRF to n_tags, keeping the old tags' transition scores.

    `LinearChainCRF.resize` recreates the parameters and the BIO constraints
    for the new size; the old block is copied back, and transitions into and
    out of the new tags start at zero (the constraints still forbid the invalid ones).
    """
    crf = crf_module(tagger)
    old = {
        "transitions": crf.transitions.detach().clone(),
        "start_transitions": crf.start_transitions.detach().clone(),
        "end_transitions": crf.end_transitions.detach().clone(),
    }
    n_old = crf.n_tags
    crf.resize(n_tags)
    with torch.no_grad():
        crf.transitions[:n_old, :n_old] = old["transitions"]
        crf.start_transitions[:n_old] = old["start_transitions"]
        crf.end_transitions[:n_old] = old["end_transitions"]


def _grow_context(tagger: Model, labels: List[str]) -> None:
    """Give a recogniser's intent-context features the classifier's grown labels.

    The features are concatenated after the token vectors, one column per
    label in order, so the new labels' columns are appended inputs of the first
    layer that reads the features, with zero weights.
    """
    features = [node for node in tagger.walk() if node.name == "doc_cats_features"]
    old = list(features[0].attrs["labels"]) if features else []
    if not features or labels[: len(old)] != old:
        raise ValueError(
            f"The recogniser's intent context has labels {old}, which are not the first of the "
            f"classifier's {labels}: cannot grow it."
        )
    extra = len(labels) - len(old)
    if extra:
        scores = tagger.layers[0]
        width = tagger.get_ref("tok2vec").get_dim("nO")
        first = next(
            node
            for node in scores.walk()
            if node.has_param("W") and node.maybe_get_dim("nI") == width + len(old)
        )
        tagger.replace_node(first, grown_inputs(first, extra))
    set_context_labels(tagger, labels)


def _set_dim(model: Model, name: str, value: int) -> None:
    """Set a dim on a model whose own parameters do not depend on it (chain, tagger)."""
    if model.has_dim(name) is not None:
        model.set_dim(name, value, force=True)
