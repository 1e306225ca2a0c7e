"""Training the grown pipeline with spaCy's own loop, on the pipeline's own config.

`spacy.training.loop.train` runs on the loaded pipeline, not a fresh one: its
[training] block (optimizer, batcher, dropout, accumulate_gradient,
frozen_components, annotating_components, logger) works as in `spacy train`.
Only the corpora, the step budget and the seed are the update's; the heads'
`distill_weight` is set while it trains. The config is given back afterwards,
so OUT's config.cfg is the pipeline's own, with no temporary paths in it.

The corpora spaCy's loop reads are written to a scratch folder beside OUT,
``OUT.spacy-mtl-update``: a run killed with ``kill -9`` leaves it there, and
the next run on OUT (which holds OUT's lock, so no live run uses it) removes it.
Before each step the weights are checked: a learning rate too large for the
pipeline turns them NaN or infinite, which stops the update with an error
rather than writing a broken pipeline.
"""

import contextlib
import contextvars
import io
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.training.loop import train
from spacy.util import registry
from thinc.api import Model

from ..pipeline.ner import MultiTaskEntityRecognizer
from ..pipeline.textcat import MultiTaskTextCategorizer
from .corpus import UpdateError

_HEADS = (MultiTaskTextCategorizer, MultiTaskEntityRecognizer)
# Without --learn-rate: the pipeline's own rate times this (a fresh Adam's first steps are
# large; on ATIS valid, 3 seeds, half the rate with the prior correction kept 96.2% of the
# old intents against 95.7% at the full rate; benchmarks/README.md).
DEFAULT_LEARN_RATE_SCALE = 0.5
SCRATCH_SUFFIX = ".spacy-mtl-update"
# The step spaCy's loop is at, for the divergence check (set by train_update for its run).
_STEP: contextvars.ContextVar[List[int]] = contextvars.ContextVar("spacy_mtl_update_step")


class TrainingDiverged(UpdateError):
    """The weights became NaN or infinite while the update trained."""


@contextlib.contextmanager
def scratch_folder(output: Path) -> Iterator[Path]:
    """A fresh ``OUT.spacy-mtl-update`` folder beside OUT for the run, removed when it ends.

    A leftover of a killed run is removed first; the caller holds OUT's lock.
    """
    scratch = output.parent / f"{output.name}{SCRATCH_SUFFIX}"
    _remove(scratch)
    scratch.mkdir(parents=True)
    try:
        yield scratch
    finally:
        _remove(scratch)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        os.unlink(path)
    elif path.exists():
        shutil.rmtree(path)


def weights_finite(nlp: Language) -> bool:
    """Whether every weight of the pipeline's models is a finite number."""
    for _name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if not isinstance(model, Model):
            continue
        for node in model.walk():
            for name in node.param_names:
                if node.has_param(name) and not node.ops.xp.isfinite(node.get_param(name)).all():
                    return False
    return True


@registry.callbacks("spacy_mtl.update_divergence_check.v1")
def make_divergence_check(then: Optional[Callable[[Language, Dict], None]] = None):
    """The `[training] before_update` callback of an update: stop when the weights diverged.

    Set only in the config an update trains on, never in a written pipeline's.

    then (Optional[Callable]): The pipeline's own before_update callback, run after the check.
    """

    def check(nlp: Language, info: Dict) -> None:
        progress = _STEP.get(None)
        if progress is not None:
            progress[0] = info["step"]
        # spaCy counts steps from 0: the weights checked at step s are those step s - 1 made.
        if info["step"] and not weights_finite(nlp):
            raise TrainingDiverged(diverged_message(nlp, info["step"]))
        if then is not None:
            then(nlp, info)

    return check


def diverged_message(nlp: Language, step: int) -> str:
    """The error for weights that became NaN or infinite in `step` (counted from 1)."""
    rate = nlp.config["training"]["optimizer"].get("learn_rate")
    used = f" (it was {rate})" if isinstance(rate, (int, float)) else ""
    return (
        f"training diverged at step {step}: the weights became NaN or infinite. Lower "
        f"--learn-rate{used}; nothing was written."
    )


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
    nlp: Language, train_docs: List[Doc], dev_docs: List[Doc], settings, scratch: Path, log=None
) -> None:
    """Train the (grown) pipeline on the documents for `settings.steps` steps.

    nlp (Language): The pipeline, its heads grown.
    train_docs (List[Doc]): New and replayed documents, with their teacher targets.
    dev_docs (List[Doc]): Scored by spaCy's loop at the start and the end (its table only).
    settings (UpdateSettings): Steps, learning rate, distillation weight, seed.
    scratch (Path): An empty folder for the corpora spaCy's loop reads (scratch_folder).
    log (Optional[IO]): spaCy's training table; None for nowhere.
    RAISES (TrainingDiverged): The weights became NaN or infinite.
    """
    original = nlp.config.copy()
    distill = {
        name: pipe.cfg["distill_weight"] for name, pipe in nlp.pipeline if isinstance(pipe, _HEADS)
    }
    paths = {"train": scratch / "train.spacy", "dev": scratch / "dev.spacy"}
    for key, docs in (("train", train_docs), ("dev", dev_docs)):
        DocBin(docs=docs, store_user_data=True).to_disk(paths[key])
    _set_training_config(nlp, paths, settings)
    for name in distill:
        nlp.get_pipe(name).cfg["distill_weight"] = settings.distill_weight
    out = log if log is not None else io.StringIO()
    progress = [0]
    token = _STEP.set(progress)
    try:
        _train_checked(nlp, out, progress)
    finally:
        _STEP.reset(token)
        for name, weight in distill.items():
            nlp.get_pipe(name).cfg["distill_weight"] = weight
        nlp.config = original


def _train_checked(nlp: Language, out, progress: List[int]) -> None:
    """spaCy's loop, with a diverged run's failure (NaN weights break decoding) named as such.

    The check before each step finds weights that a step made non-finite; the last
    step's, or the first's (spaCy scores the dev corpus right after it), are found here.
    """
    try:
        train(nlp, None, stdout=out, stderr=out)
    except TrainingDiverged:
        raise
    except Exception:
        if weights_finite(nlp):
            raise
        raise TrainingDiverged(diverged_message(nlp, progress[0] + 1)) from None
    if not weights_finite(nlp):
        raise TrainingDiverged(diverged_message(nlp, progress[0] + 1))


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
    own = training.get("before_update")
    check = {"@callbacks": "spacy_mtl.update_divergence_check.v1"}
    training["before_update"] = {**check, "then": own} if own else check
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
