"""`spacy_mtl.CRFTagger.v1`: per-token BIO emission scores and the CRF beside them, in thinc.

The model's output is the emissions; the torch CRF (`crf.py`) sits beside them
as the ref "crf", a `PyTorchWrapper_v2`, so that one optimizer step trains
both. `mtl_ner` reaches the CRF through the functions here: the loss with or without
the CRF's own gradient, decoding, marginals, and the labels of the intent context.
"""

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    ArgsKwargs,
    Linear,
    Maxout,
    Model,
    PyTorchWrapper_v2,
    chain,
    concatenate,
    torch2xp,
    with_array,
    xp2torch,
)
from thinc.types import Floats2d

from .crf import MISSING, LinearChainCRF
from .span_confidence import span_log_probabilities
from .token_intents import token_intents
from .viterbi import viterbi

# One document's teacher targets to distill from: (tokens, tags) marginals, or None.
Soft = Optional[numpy.ndarray]


@registry.architectures("spacy_mtl.CRFTagger.v1")
def build_crf_tagger(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 0,
    context: Optional[str] = None,
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """Per-token BIO emission scores from a (shared) tok2vec, plus a CRF.

    The model's output is the emissions; the CRF sits beside them as the ref
    "crf" (a `PyTorchWrapper_v2`), used by `mtl_ner` for the loss and for
    decoding (the functions below), so both are trained by the same optimizer step.

    tok2vec (Model): Usually a `spacy_mtl.SharedTok2VecListener.v1`.
    hidden_width (int): Width of a Maxout layer before the emissions; 0 for none.
    context (Optional[str]): Name of an `mtl_textcat` component whose predicted
        category distribution is appended to every token vector, so the slots are
        conditioned on the intent (after the slot gate of Goo et al. 2018); with that
        classifier's `pooling = "votes"`, each token's own intent distribution
        (Stack-Propagation, Qin et al. 2019). The
        classifier must run before the recogniser and, in training, be listed in
        [training.annotating_components]. None (the default) for no context.
    nO (Optional[int]): The number of BIO tags; set from the labels when None.
    RETURNS (Model[List[Doc], List[Floats2d]]): The tagger.
    """
    output_layer = Linear(nO=nO)
    if hidden_width:
        emitter = chain(Maxout(nO=hidden_width, nP=2, normalize=True), output_layer)
    else:
        emitter = output_layer
    features = tok2vec if context is None else concatenate(tok2vec, doc_cats_features())
    scores = chain(features, with_array(emitter))
    crf = PyTorchWrapper_v2(LinearChainCRF(), convert_inputs=_convert_crf_inputs)
    return Model(
        "crf_tagger",
        _forward,
        init=_init,
        layers=[scores, crf],
        refs={"tok2vec": tok2vec, "output_layer": output_layer, "crf": crf},
        dims={"nO": nO},
        attrs={"context": context},
    )


def crf_module(tagger: Model) -> LinearChainCRF:
    """The torch CRF inside a tagger built by `build_crf_tagger`.

    thinc keeps a wrapped torch module on a private attribute of its shim; this
    is the one place that reaches into it.
    """
    return tagger.get_ref("crf").shims[0]._model


def set_context_labels(tagger: Model, labels: Sequence[str]) -> None:
    """Set the categories, in order, of the `doc.cats` features a tagger is conditioned on.

    The labels belong to the classifier named by the tagger's `context`, known
    only once that classifier is initialized; a tagger without context ignores them.
    """
    for node in tagger.walk():
        if node.name == "doc_cats_features":
            node.attrs["labels"] = list(labels)


def crf_loss(
    tagger: Model,
    emissions: List[Floats2d],
    golds: List[numpy.ndarray],
    softs: List[Soft],
    distill: Tuple[float, float],
) -> Tuple[float, List[Floats2d]]:
    """The CRF's loss summed over the documents, and the gradient of their emissions.

    Pure: the CRF's parameters get no gradient (`crf_update` accumulates it).

    emissions (List[Floats2d]): (tokens, tags) scores of each document.
    golds (List[numpy.ndarray]): Each document's tag ids, MISSING where unknown.
    softs (List[Optional[numpy.ndarray]]): Teacher targets per document, or None.
    distill (Tuple[float, float]): The soft loss's weight and temperature.
    RETURNS (Tuple[float, List[Floats2d]]): The loss and one gradient per document.
    """
    inputs, unpad = _convert_crf_inputs(
        tagger.get_ref("crf"), (emissions, golds, softs, distill), is_train=True
    )
    with torch.enable_grad():
        losses = crf_module(tagger)(*inputs.args, **inputs.kwargs)
        (d_padded,) = torch.autograd.grad(losses.sum(), inputs.args[0])
    loss = float(torch2xp(losses.detach()).sum())
    return loss, unpad(ArgsKwargs(args=(d_padded,), kwargs={}))


def crf_update(
    tagger: Model,
    emissions: List[Floats2d],
    golds: List[numpy.ndarray],
    softs: List[Soft],
    distill: Tuple[float, float],
) -> Tuple[float, List[Floats2d]]:
    """`crf_loss`, and the gradient of the CRF's scores accumulated for the optimizer's step."""
    crf = tagger.get_ref("crf")
    losses, backprop = crf.begin_update((emissions, golds, softs, distill))
    d_emissions = backprop(crf.ops.alloc1f(len(emissions)) + 1.0)
    return float(losses.sum()), d_emissions


def crf_decode(tagger: Model, emissions: List[Floats2d], chunk_size: int = 64) -> List[List[int]]:
    """Viterbi-decode each document's emissions with the scores of the tagger's CRF."""
    scores = crf_module(tagger).decode_scores()
    paths: List[List[int]] = [[] for _ in emissions]
    for chunk in _chunks_by_length(emissions, chunk_size):
        padded = tagger.ops.to_numpy(tagger.ops.pad([emissions[i] for i in chunk]))
        lengths = [emissions[i].shape[0] for i in chunk]
        for i, path in zip(chunk, viterbi(padded, lengths, *scores)):
            paths[i] = path
    return paths


def crf_span_log_probabilities(
    tagger: Model,
    emissions: List[Floats2d],
    spans: List[Sequence[Tuple[int, int, int]]],
    temperature: float = 1.0,
    chunk_size: int = 64,
) -> List[numpy.ndarray]:
    """log P(exactly these tokens form one entity of this label) of each span, under the CRF.

    In numpy, as decoding (`span_confidence.py`); documents without spans cost nothing.

    emissions (List[Floats2d]): (tokens, tags) scores of each document.
    spans (List[Sequence[Tuple[int, int, int]]]): Each document's (first token, end token
        (exclusive), label index) spans.
    temperature (float): Divides every score of the CRF (emissions, transitions, start,
        end) first, forbidden moves staying forbidden: a calibration that keeps the best path.
    RETURNS (List[numpy.ndarray]): One (spans,) float64 array per document.
    """
    transitions, start, end, penalty = crf_module(tagger).span_scores()
    scale = 1.0 / temperature
    out = [numpy.zeros((len(doc_spans),)) for doc_spans in spans]
    with_spans = [e if len(s) else e[:0] for e, s in zip(emissions, spans)]
    for chunk in _chunks_by_length(with_spans, chunk_size):
        padded = tagger.ops.to_numpy(tagger.ops.pad([emissions[i] for i in chunk]))
        lengths = numpy.array([emissions[i].shape[0] for i in chunk])
        rows = numpy.array(
            [(row, *span) for row, i in enumerate(chunk) for span in spans[i]], dtype="int64"
        )
        log_probs = span_log_probabilities(
            padded * scale if scale != 1.0 else padded,
            lengths,
            rows,
            transitions * scale,
            start * scale,
            end * scale,
            penalty,
        )
        counts = numpy.cumsum([len(spans[i]) for i in chunk])[:-1]
        for i, values in zip(chunk, numpy.split(log_probs, counts)):
            out[i] = values
    return out


def crf_marginals(
    tagger: Model, emissions: List[Floats2d], chunk_size: int = 64
) -> List[numpy.ndarray]:
    """Each document's (tokens, tags) posterior marginals under the tagger's CRF.

    For distillation targets (spacy_mtl/distill.py); runs torch, unlike decoding.
    """
    module = crf_module(tagger)
    device = module.transitions.device
    out = [numpy.zeros((0, module.n_tags), dtype="float32") for _ in emissions]
    for chunk in _chunks_by_length(emissions, chunk_size):
        padded = xp2torch(tagger.ops.pad([emissions[i] for i in chunk]), device=device)
        lengths = [emissions[i].shape[0] for i in chunk]
        marginals = module.marginals(padded, torch.tensor(lengths, device=device)).cpu().numpy()
        for row, (i, length) in enumerate(zip(chunk, lengths)):
            out[i] = marginals[row, :length]
    return out


def _chunks_by_length(emissions: List[Floats2d], chunk_size: int) -> Iterator[List[int]]:
    """The indices of the non-empty documents, in chunks of similar length.

    So that one long document does not pad a whole batch to its length.
    """
    order = sorted(range(len(emissions)), key=lambda i: emissions[i].shape[0])
    nonempty = [i for i in order if emissions[i].shape[0] > 0]
    for start in range(0, len(nonempty), chunk_size):
        yield nonempty[start : start + chunk_size]


def _convert_crf_inputs(model: Model, X: Tuple, is_train: bool):
    """Pad a batch's emissions, gold tags and soft targets into torch tensors; unpad the gradient.

    X is (emissions, golds) or, to distill, (emissions, golds, softs, (weight,
    temperature)), where softs holds a (tokens, tags) array or None per document.
    """
    emissions, golds = X[0], X[1]
    lengths = [e.shape[0] for e in emissions]
    device = model.shims[0].device
    padded = model.ops.pad(emissions)
    gold = numpy.full((len(golds), padded.shape[1]), MISSING, dtype="int64")
    for i, tags in enumerate(golds):
        gold[i, : len(tags)] = model.ops.to_numpy(tags)
    args = (
        xp2torch(padded, requires_grad=is_train, device=device),
        torch.tensor(lengths, dtype=torch.long, device=device),
        torch.from_numpy(gold).to(device),
    )
    kwargs = {}
    if len(X) > 2 and any(soft is not None for soft in X[2]):
        soft = numpy.zeros(padded.shape, dtype="float32")
        for i, probs in enumerate(X[2]):
            if probs is not None:
                soft[i, : len(probs)] = probs
        weight, temperature = X[3]
        kwargs = {
            "soft": torch.from_numpy(soft).to(device),
            "soft_weight": float(weight),
            "temperature": float(temperature),
        }

    def convert_backprop(d_inputs: ArgsKwargs) -> List[Floats2d]:
        d_padded = torch2xp(d_inputs.args[0])
        return [d_padded[i, :length] for i, length in enumerate(lengths)]

    return ArgsKwargs(args=args, kwargs=kwargs), convert_backprop


def doc_cats_features() -> Model[List[Doc], List[Floats2d]]:
    """Each token's intent distribution: its own where the classifier votes by token
    (`doc._.token_intents`, as Stack-Propagation's slots read theirs), else `doc.cats`
    repeated for each token.

    The label order is set by `set_context_labels` (`mtl_ner`, from the
    classifier, at initialization). A document without predicted cats gets
    zeros. No gradient flows back into the classifier.
    """
    return Model("doc_cats_features", _doc_cats_forward, attrs={"labels": []})


def _doc_cats_forward(model: Model, docs: List[Doc], is_train: bool):
    labels = model.attrs["labels"]
    outputs = []
    for doc in docs:
        per_token = token_intents(doc)
        if per_token is not None and per_token[1].shape[0] == len(doc):
            names, probs = per_token
            index = {name: j for j, name in enumerate(names)}
            columns = [index.get(label) for label in labels]
            rows = numpy.zeros((len(doc), len(labels)), dtype="float32")
            for j, column in enumerate(columns):
                if column is not None:
                    rows[:, j] = probs[:, column]
            outputs.append(model.ops.asarray2f(rows))
            continue
        row = model.ops.asarray1f([doc.cats.get(label, 0.0) for label in labels])
        outputs.append(model.ops.alloc2f(len(doc), len(labels)) + row)
    return outputs, lambda d_outputs: []


def _forward(model: Model, docs: List[Doc], is_train: bool):
    return model.layers[0](docs, is_train)


def _init(model: Model, X=None, Y=None) -> None:
    n_tags = model.get_dim("nO")
    model.get_ref("output_layer").set_dim("nO", n_tags)
    model.layers[0].initialize(X=X)
    crf_module(model).resize(n_tags)
