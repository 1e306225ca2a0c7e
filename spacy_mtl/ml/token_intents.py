"""Token-level intents: each token's intent distribution, kept on the document.

An `mtl_textcat` that pools by token votes (`pooling = "votes"`) scores the intent at
every token before it averages; it keeps those distributions in `doc._.token_intents`
(the labels and a (tokens, labels) array). A recogniser conditioned on that classifier
(`CRFTagger.v1`'s `context`) reads them, so each slot sees its own token's intent, as
in Stack-Propagation (Qin et al. 2019); a classifier that pools otherwise leaves them
unset, and the recogniser reads `doc.cats` at every token instead.
"""

from typing import List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

EXTENSION = "token_intents"

if not Doc.has_extension(EXTENSION):
    Doc.set_extension(EXTENSION, default=None)


def token_intents(doc: Doc) -> Optional[Tuple[List[str], numpy.ndarray]]:
    """The labels and (tokens, labels) probabilities a votes classifier gave, or None."""
    stored = doc._.get(EXTENSION)
    if stored is None:
        return None
    return list(stored["labels"]), numpy.asarray(stored["probs"], dtype="float32")


def set_token_intents(doc: Doc, labels: Sequence[str], probs: numpy.ndarray) -> None:
    """Keep a classifier's per-token intent probabilities on its document."""
    if probs.shape != (len(doc), len(labels)):
        raise ValueError(
            f"Token intents of shape {probs.shape} do not fit a document of {len(doc)} "
            f"tokens and {len(labels)} labels."
        )
    doc._.set(EXTENSION, {"labels": list(labels), "probs": numpy.asarray(probs, "float32")})
