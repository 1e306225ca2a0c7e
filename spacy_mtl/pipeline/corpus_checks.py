"""Checks of the training and dev corpora at initialize, naming the corpus and its files.

`spacy train` reads the corpora the config names; when one of them is empty, or
the pipeline's tokenizer splits the training documents otherwise than their gold
tokens, spaCy says nothing (an empty dev file scores 0.00, English trained with
`--nlp.lang zh` learns on characters) or fails without the file's name (E930).
These run once per `nlp.initialize`, where the examples are first read
(`shared_examples`), and find the corpora's paths in the pipeline's config.
"""

import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.training.corpus import walk_corpus

from ..annotation import describe_doc

# Training documents the tokenizer re-tokenizes to compare with their gold tokens.
N_TOKENIZATION_SAMPLE = 100
# Gold tokens shown in the tokenization warning.
N_SHOWN_TOKENS = 8


class CorpusWarning(UserWarning):
    """A corpus that trains or scores, though not as intended (empty, or missing a task)."""


class TokenizationWarning(UserWarning):
    """The pipeline's tokenizer splits most training documents otherwise than their gold tokens."""


def _corpus_block(nlp: Language, which: str) -> Tuple[str, Optional[dict]]:
    """The dot name ("corpora.train") and interpolated block of the train or dev corpus."""
    key = f"{which}_corpus"
    dot_name = str(nlp.config.get("training", {}).get(key) or f"corpora.{which}")
    try:
        block = nlp.config.interpolate()
        for part in dot_name.split("."):
            block = block[part]
    except Exception:  # unset variables or no such section: nothing to name
        return dot_name, None
    return dot_name, block if isinstance(block, dict) else None


def _corpus_paths(block: Optional[dict]) -> List[str]:
    """The paths a corpus block reads: its `path`, or each source's."""
    if not block:
        return []
    if block.get("path") is not None:
        return [str(block["path"])]
    sources = block.get("sources")
    if isinstance(sources, dict):
        return [str(s["path"]) for s in sources.values() if isinstance(s, dict) and s.get("path")]
    return []


def describe_corpus(nlp: Optional[Language], which: str = "train") -> Optional[str]:
    """ "the training corpus (corpora.train: PATH)", or None when its config has no path.

    nlp (Optional[Language]): The pipeline, whose config names the corpora.
    which (str): "train" or "dev".
    """
    if nlp is None:
        return None
    dot_name, block = _corpus_block(nlp, which)
    paths = _corpus_paths(block)
    if not paths:
        return None
    noun = "training" if which == "train" else "dev"
    return f"the {noun} corpus ({dot_name}: {', '.join(paths)})"


def no_examples_error(nlp: Optional[Language]) -> Optional[ValueError]:
    """The error for a training corpus that gave no examples, if its config names a path."""
    corpus = describe_corpus(nlp, "train")
    if corpus is None:
        return None
    return ValueError(
        f"No training examples: {corpus} holds no documents. Give --paths.train (or the "
        "corpus' path) a .spacy file, or a folder of them, with annotated documents; "
        "`python -m spacy_mtl convert` writes them."
    )


def check_corpora(nlp: Optional[Language], examples: Sequence[Example]) -> None:
    """Warn about the training examples' tokens and an empty dev corpus (see module doc)."""
    if nlp is None:
        return
    warn_if_tokenizer_disagrees(nlp, examples)
    warn_if_dev_corpus_is_empty(nlp)


def _boundaries(doc: Doc) -> List[Tuple[int, int]]:
    return [(t.idx, t.idx + len(t)) for t in doc if not t.is_space]


def warn_if_tokenizer_disagrees(nlp: Language, examples: Sequence[Example]) -> None:
    """Warn when the tokenizer splits most sampled training texts otherwise than their gold.

    The pipeline learns and predicts on its tokenizer's tokens: word-tokenized
    English trained with `--nlp.lang zh` learns on single characters.
    """
    sample = [eg.reference for eg in examples[:N_TOKENIZATION_SAMPLE] if eg.reference.text]
    differ = []
    for gold in sample:
        tokens = nlp.make_doc(gold.text)
        if _boundaries(tokens) != _boundaries(gold):
            differ.append((gold, tokens))
    if not sample or len(differ) * 2 <= len(sample):
        return
    gold, tokens = differ[0]
    corpus = describe_corpus(nlp, "train") or "the training examples"
    warnings.warn(
        f"The pipeline's tokenizer (lang = {nlp.lang!r}) splits {len(differ)} of the "
        f"{len(sample)} training documents sampled from {corpus} otherwise than their gold "
        f"tokens, e.g. {describe_doc(gold)}: gold {_shown(gold)}, tokenizer {_shown(tokens)}. "
        "The pipeline learns and predicts on the tokenizer's tokens; check --nlp.lang (and "
        "[nlp.tokenizer]) against the corpus' language and tokenization.",
        TokenizationWarning,
        stacklevel=3,
    )


def _shown(doc: Doc) -> str:
    words = [t.text for t in doc if not t.is_space]
    more = f" ... ({len(words)} tokens)" if len(words) > N_SHOWN_TOKENS else ""
    return repr(words[:N_SHOWN_TOKENS]) + more


def warn_if_dev_corpus_is_empty(nlp: Language) -> None:
    """Warn, naming the file, when the dev corpus' files hold no document.

    Every evaluation would then score nothing, shown as 0.00 in spaCy's table.
    Only corpora read from a `path` (spacy.Corpus.v1) are counted here; the
    multi-task readers refuse an empty source themselves.
    """
    dot_name, block = _corpus_block(nlp, "dev")
    if not block or block.get("path") is None:
        return
    path = Path(block["path"])
    try:
        n_docs = sum(len(DocBin().from_disk(f)) for f in walk_corpus(path, ".spacy"))
    except Exception:  # missing or unreadable: spaCy's reader says so when it evaluates
        return
    if n_docs == 0:
        warnings.warn(
            f"The dev corpus ({dot_name}: {path}) holds no documents: every evaluation "
            "scores nothing (shown as 0.00) and model-best is arbitrary. Give --paths.dev "
            "a .spacy file with annotated documents.",
            CorpusWarning,
            stacklevel=3,
        )
