"""The text-classification head: pooled shared token vectors to label scores."""

from typing import List, Optional, Tuple

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
    layers = [tok2vec, list2ragged(), build_pooling(pooling, width)]
    if dropout:
        layers.append(Dropout(dropout))
    if hidden_width:
        layers.append(Maxout(nO=hidden_width, nI=width, nP=2, normalize=True, dropout=dropout))
    layers.append(Linear(nO=nO))
    model = chain(*layers)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", model.layers[-1])
    model.attrs["pooling"] = pooling
    return model


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
    model = chain(tok2vec, list2ragged(), token_votes(per_token))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
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


def predict_features(
    model: Model[List[Doc], Floats2d], docs: List[Doc]
) -> Tuple[Floats2d, Floats2d]:
    """The pooled features (the output layer's input) and the logits of a head built above.

    Out-of-scope scores such as the Mahalanobis distance need the features as
    well as the logits; this runs the head once for both, at the cost of
    `model.predict`.

    model (Model): A model from spacy_mtl.TextCatHead.v1 (a chain ending in its output layer).
    docs (List[Doc]): The documents.
    RETURNS (Tuple[Floats2d, Floats2d]): The features and the logits, one row per document.
    """
    output_layer = model.get_ref("output_layer")
    if model.attrs.get("pooling") == VOTES:
        features, logits, _ = predict_votes(model, docs, with_features=True)
        return features, logits
    if not model.layers or model.layers[-1] is not output_layer:
        raise ValueError(
            f"The text classifier's model ({model.name}) does not end in its output layer, so "
            "its pooled features cannot be read: build it with spacy_mtl.TextCatHead.v1."
        )
    X = docs
    for layer in model.layers[:-1]:
        X = layer.predict(X)
    return X, output_layer.predict(X)


def predict_votes(
    model: Model[List[Doc], Floats2d], docs: List[Doc], with_features: bool = False
) -> Tuple[Optional[Floats2d], Floats2d, List[Floats2d]]:
    """One pass of a votes head: its features (None unless asked for), its logits and
    each token's intent.

    The features are each document's mean token vector (the tokens are scored, not a
    pooled vector); the logits are what `model.predict` gives; the token intents are
    each document's (tokens, labels) softmax of its tokens' scores, which a recogniser
    with a `context` reads (spacy_mtl/ml/token_intents.py).
    """
    ops = model.ops
    X = docs
    for layer in model.layers[:-1]:
        X = layer.predict(X)
    log_probs = ops.asarray2f(_log_softmax(ops, model.layers[-1].layers[0].predict(X.data)))
    lengths = ops.asarray1i(X.lengths)
    features = ops.reduce_mean(ops.asarray2f(X.data), lengths) if with_features else None
    logits = ops.reduce_mean(log_probs, lengths)
    starts = numpy.cumsum(ops.to_numpy(lengths))[:-1].tolist()
    return features, logits, ops.xp.split(ops.xp.exp(log_probs), starts) if len(docs) else []
