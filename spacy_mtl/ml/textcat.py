"""The text-classification head: pooled shared token vectors to label scores."""

from typing import List, NamedTuple, Optional

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    Dropout,
    Linear,
    Maxout,
    Model,
    ParametricAttention_v2,
    chain,
    list2ragged,
    reduce_max,
    reduce_mean,
    reduce_sum,
)
from thinc.types import Floats2d, Ragged

POOLINGS = ("mean", "max", "attention", "votes")
# Token-level intent in the style of Stack-Propagation (Qin et al. 2019): every token
# predicts the intent, and the document's scores are the mean of the tokens' log
# probabilities (a soft vote: softmax of them is the normalised geometric mean). Exclusive
# classes only; the output layer scores tokens, not the pooled vector.
VOTES = "votes"


def build_pooling(pooling: str, width: int) -> Model:
    """Reduce each document's token vectors (Ragged) to one vector.

    pooling (str): "mean", "max" or "attention" (a learned query scores the
        tokens; the document vector is their softmax-weighted sum).
    width (int): The width of the token vectors.
    RETURNS (Model[Ragged, Floats2d]): The pooling layer.
    """
    if pooling == "mean":
        pool = reduce_mean()
    elif pooling == "max":
        pool = reduce_max()
    elif pooling == "attention":
        # As spaCy's spacy.TextCatParametricAttention.v1 pools.
        pool = chain(ParametricAttention_v2(nO=width), reduce_sum())
    else:
        raise ValueError(f"Unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}.")
    # thinc's max refuses empty sequences, and attention fails on a batch of only empty ones.
    return skip_empty(pool, width)


def skip_empty(pool: Model[Ragged, Floats2d], width: int) -> Model[Ragged, Floats2d]:
    """Pool only the non-empty sequences; an empty document gets a zero vector."""
    return Model(
        f"skip_empty({pool.name})",
        _skip_empty_forward,
        init=_skip_empty_init,
        layers=[pool],
        dims={"nO": width},
    )


def _skip_empty_init(model: Model, X: Optional[Ragged] = None, Y=None) -> None:
    model.layers[0].initialize(X=X, Y=Y)


def _skip_empty_forward(model: Model, X: Ragged, is_train: bool):
    pool = model.layers[0]
    lengths = model.ops.to_numpy(X.lengths)
    if lengths.all():
        return pool(X, is_train)
    rows = numpy.flatnonzero(lengths)
    if not rows.size:
        return model.ops.alloc2f(len(lengths), model.get_dim("nO")), lambda dY: X
    pooled, backprop_pool = pool(Ragged(X.data, model.ops.asarray1i(lengths[rows])), is_train)
    Y = model.ops.alloc2f(len(lengths), pooled.shape[1])
    Y[rows] = pooled

    def backprop(dY: Floats2d) -> Ragged:
        d_data = backprop_pool(model.ops.asarray2f(dY[rows])).data
        return Ragged(d_data, X.lengths)

    return Y, backprop


@registry.architectures("spacy_mtl.TextCatHead.v1")
def build_textcat_head(
    tok2vec: Model[List[Doc], List[Floats2d]],
    pooling: str = "attention",
    hidden_width: int = 0,
    dropout: float = 0.0,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """Score labels from the pooled token vectors of a (shared) tok2vec.

    The model returns unnormalised scores (logits): `mtl_textcat` applies a
    softmax for exclusive classes or a sigmoid for multi-label, so one model
    serves both.

    tok2vec (Model): Usually a `spacy_mtl.SharedTok2VecListener.v1`.
    pooling (str): "mean", "max", "attention" or "votes" (token-level intent, exclusive
        classes only: see VOTES).
    hidden_width (int): Width of a Maxout layer between pooling and output; 0 for none.
    dropout (float): Dropout rate on the pooled vector.
    nO (Optional[int]): The number of labels; set from the data when None.
    RETURNS (Model[List[Doc], Floats2d]): The head.
    """
    width = tok2vec.maybe_get_dim("nO")
    if width is None:
        raise ValueError(
            "The tok2vec of spacy_mtl.TextCatHead.v1 must declare its output width (nO); "
            "set `width` on the listener."
        )
    if pooling == VOTES:
        return _build_votes_head(tok2vec, width, hidden_width, dropout, nO)
    to_ragged = list2ragged()
    pool = build_pooling(pooling, width)
    layers = [tok2vec, to_ragged, pool]
    if dropout:
        layers.append(Dropout(dropout))
    hidden = None
    if hidden_width:
        hidden = Maxout(nO=hidden_width, nI=width, nP=2, normalize=True, dropout=dropout)
        layers.append(hidden)
    output_layer = Linear(nO=nO)
    model = chain(*layers, output_layer)
    _set_stage_refs(model, tok2vec, to_ragged, output_layer)
    model.set_ref("pooling", pool)
    if hidden is not None:  # an empty ref breaks thinc's replace_node (update's head growth)
        model.set_ref("hidden", hidden)
    model.attrs["pooling"] = pooling
    return model


def _set_stage_refs(model: Model, tok2vec: Model, to_ragged: Model, output_layer: Model) -> None:
    """Name the stages `predict_head` runs; refs, not a nested chain, so the layer tree (and
    with it every pipeline saved before) stays as it was."""
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("to_ragged", to_ragged)
    model.set_ref("output_layer", output_layer)


def _build_votes_head(
    tok2vec: Model, width: int, hidden_width: int, dropout: float, nO: Optional[int]
) -> Model[List[Doc], Floats2d]:
    """tok2vec, then each token's intent scores (the output layer, on tokens), then the
    mean of the tokens' log softmax per document (`token_votes`)."""
    token_layers: List[Model] = []
    if dropout:
        token_layers.append(Dropout(dropout))
    if hidden_width:
        token_layers.append(
            Maxout(nO=hidden_width, nI=width, nP=2, normalize=True, dropout=dropout)
        )
    output_layer = Linear(nO=nO)
    token_layers.append(output_layer)
    per_token = chain(*token_layers) if len(token_layers) > 1 else output_layer
    to_ragged = list2ragged()
    model = chain(tok2vec, to_ragged, token_votes(per_token))
    _set_stage_refs(model, tok2vec, to_ragged, output_layer)
    model.set_ref("token_scorer", per_token)
    model.attrs["pooling"] = VOTES
    return model


def token_votes(scorer: Model[Floats2d, Floats2d]) -> Model[Ragged, Floats2d]:
    """Score every token with `scorer` and average the tokens' log softmax per document.

    The cross-entropy of the result's softmax is the tokens' mean cross-entropy against the
    document's label minus a normaliser (at most 0, by Hoelder's inequality): each token is
    taught the intent, as in Stack-Propagation. An empty document gets zeros (uniform).
    """
    return Model(
        f"token_votes({scorer.name})",
        _token_votes_forward,
        init=_token_votes_init,
        layers=[scorer],
        dims={"nO": scorer.maybe_get_dim("nO")},
    )


def _token_votes_init(model: Model, X: Optional[Ragged] = None, Y=None) -> None:
    scorer = model.layers[0]
    scorer.initialize(X=None if X is None else X.data)
    model.set_dim("nO", scorer.get_dim("nO"), force=True)


def _token_votes_forward(model: Model, X: Ragged, is_train: bool):
    ops = model.ops
    scores, backprop_scorer = model.layers[0](X.data, is_train)
    log_probs = _log_softmax(ops, scores)
    lengths = ops.asarray1i(X.lengths)
    Y = ops.reduce_mean(ops.asarray2f(log_probs), lengths)  # zeros for an empty document

    def backprop(dY: Floats2d) -> Ragged:
        d_log_probs = ops.backprop_reduce_mean(ops.asarray2f(dY), lengths)
        probs = ops.xp.exp(log_probs)
        d_scores = d_log_probs - probs * d_log_probs.sum(axis=1, keepdims=True)
        return Ragged(backprop_scorer(ops.asarray2f(d_scores)), X.lengths)

    return Y, backprop


def _log_softmax(ops, scores: Floats2d) -> Floats2d:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - ops.xp.log(ops.xp.exp(shifted).sum(axis=1, keepdims=True))


class HeadOutput(NamedTuple):
    """One inference pass of a head built by spacy_mtl.TextCatHead.v1.

    logits (Floats2d): The unnormalised scores, one row per document (`model.predict`'s).
    features (Optional[Floats2d]): The pooled features (the output layer's input; for a
        votes head each document's mean token vector), when asked for; else None.
    token_probs (Optional[List[Floats2d]]): A votes head's (tokens, labels) softmax of each
        document's token scores, which a recogniser with a `context` reads
        (spacy_mtl/ml/token_intents.py); None for a pooled head.
    """

    logits: Floats2d
    features: Optional[Floats2d] = None
    token_probs: Optional[List[Floats2d]] = None


def predict_head(
    model: Model[List[Doc], Floats2d], docs: List[Doc], with_features: bool = False
) -> HeadOutput:
    """Run a head once, through the stages its refs name, for its logits and what else it has.

    Out-of-scope scores such as the Mahalanobis distance need the features as well as the
    logits; asking for them costs no second pass.

    model (Model): A model from spacy_mtl.TextCatHead.v1.
    docs (List[Doc]): The documents.
    with_features (bool): Whether to return the pooled features too.
    RETURNS (HeadOutput): The logits, the features (or None) and a votes head's token intents.
    """
    if model.attrs.get("pooling") == VOTES:
        return _predict_votes(model, docs, with_features)
    if not with_features:
        return HeadOutput(model.predict(docs))
    if not model.has_ref("pooling"):
        raise ValueError(
            f"The text classifier's model ({model.name}) does not name its pooling layer, so "
            "its pooled features cannot be read: build it with spacy_mtl.TextCatHead.v1."
        )
    # Dropout, between pooling and the hidden layer, is the identity at inference.
    features = model.get_ref("pooling").predict(_token_vectors(model, docs))
    if model.has_ref("hidden"):
        features = model.get_ref("hidden").predict(features)
    return HeadOutput(model.get_ref("output_layer").predict(features), features)


def _token_vectors(model: Model, docs: List[Doc]) -> Ragged:
    return model.get_ref("to_ragged").predict(model.get_ref("tok2vec").predict(docs))


def _predict_votes(model: Model, docs: List[Doc], with_features: bool) -> HeadOutput:
    """A votes head: the logits are what `model.predict` gives; the features each document's
    mean token vector (the tokens are scored, not a pooled vector)."""
    ops = model.ops
    tokens = _token_vectors(model, docs)
    scores = model.get_ref("token_scorer").predict(tokens.data)
    log_probs = ops.asarray2f(_log_softmax(ops, scores))
    lengths = ops.asarray1i(tokens.lengths)
    features = ops.reduce_mean(ops.asarray2f(tokens.data), lengths) if with_features else None
    logits = ops.reduce_mean(log_probs, lengths)
    starts = numpy.cumsum(ops.to_numpy(lengths))[:-1].tolist()
    token_probs = ops.xp.split(ops.xp.exp(log_probs), starts) if len(docs) else []
    return HeadOutput(logits, features, token_probs)
