"""Training the grown pipeline with spaCy's own loop, on the pipeline's own config.

`spacy.training.loop.train` runs on the loaded pipeline, not a fresh one: its
[training] block (optimizer, batcher, dropout, accumulate_gradient,
frozen_components, annotating_components, logger) works as in `spacy train`.
Only the corpora, the step budget and the seed are the update's; the heads'
`distill_weight` is set while it trains. The config is given back afterwards,
so OUT's config.cfg is the pipeline's own, with no temporary paths in it.
"""

import io
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.training.loop import train

from ..pipeline.ner import MultiTaskEntityRecognizer
from ..pipeline.textcat import MultiTaskTextCategorizer

_HEADS = (MultiTaskTextCategorizer, MultiTaskEntityRecognizer)
# Without --learn-rate: the pipeline's own rate times this (a fresh Adam's first steps are
# large; on ATIS valid, 3 seeds, half the rate with the prior correction kept 96.2% of the
# old intents against 95.7% at the full rate; benchmarks/README.md).
DEFAULT_LEARN_RATE_SCALE = 0.5


def _corpus(path: Path) -> Dict[str, object]:
    return {
        "@readers": "spacy.Corpus.v1",
        "path": str(path),
        "max_length": 0,
        "gold_preproc": False,
        "limit": 0,
        "augmenter": None,
    }


def train_update(
    nlp: Language, train_docs: List[Doc], dev_docs: List[Doc], settings, log=None
) -> None:
    """Train the (grown) pipeline on the documents for `settings.steps` steps.

    nlp (Language): The pipeline, its heads grown.
    train_docs (List[Doc]): New and replayed documents, with their teacher targets.
    dev_docs (List[Doc]): Scored by spaCy's loop at the start and the end (its table only).
    settings (UpdateSettings): Steps, learning rate, distillation weight, seed.
    log (Optional[IO]): spaCy's training table; None for nowhere.
    """
    original = nlp.config.copy()
    distill = {
        name: pipe.cfg["distill_weight"] for name, pipe in nlp.pipeline if isinstance(pipe, _HEADS)
    }
    with tempfile.TemporaryDirectory(prefix="spacy-mtl-update-") as tmp:
        paths = {"train": Path(tmp) / "train.spacy", "dev": Path(tmp) / "dev.spacy"}
        for key, docs in (("train", train_docs), ("dev", dev_docs)):
            DocBin(docs=docs, store_user_data=True).to_disk(paths[key])
        _set_training_config(nlp, paths, settings)
        for name in distill:
            nlp.get_pipe(name).cfg["distill_weight"] = settings.distill_weight
        out = log if log is not None else io.StringIO()
        try:
            train(nlp, None, stdout=out, stderr=out)
        finally:
            for name, weight in distill.items():
                nlp.get_pipe(name).cfg["distill_weight"] = weight
            nlp.config = original


def _set_training_config(nlp: Language, paths: Dict[str, Path], settings) -> None:
    config = nlp.config
    config.setdefault("paths", {})
    config["paths"]["train"] = str(paths["train"])
    config["paths"]["dev"] = str(paths["dev"])
    config["corpora"] = {"train": _corpus(paths["train"]), "dev": _corpus(paths["dev"])}
    training = config["training"]
    training["train_corpus"] = "corpora.train"
    training["dev_corpus"] = "corpora.dev"
    training["max_steps"] = settings.steps
    training["max_epochs"] = 0
    training["patience"] = 0
    training["eval_frequency"] = settings.steps
    training["seed"] = settings.seed
    if settings.learn_rate is not None:
        training["optimizer"]["learn_rate"] = settings.learn_rate
    elif isinstance(training["optimizer"].get("learn_rate"), (int, float)):
        training["optimizer"]["learn_rate"] *= DEFAULT_LEARN_RATE_SCALE


def evaluate(nlp: Language, docs: List[Doc]) -> Optional[Dict[str, float]]:
    """The pipeline's scores on gold documents, read on their own tokens."""
    examples = [
        Example(
            Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d
        )
        for d in docs
    ]
    scores = nlp.evaluate(examples)
    return {key: value for key, value in scores.items() if isinstance(value, float)}
