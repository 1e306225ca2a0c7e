"""calibrate's inputs, checked (the pipeline, its heads, the corpora), and the fits run on them."""

import argparse
import importlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import has_cats, has_ents
from ..loader import PipelineLoadError, load_pipeline
from .fitting import CalibrateError, fit_intent_calibration


def head_named(nlp: Language, factory: str) -> Optional[str]:
    """The first component made by `factory`, or None."""
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory == factory:
            return name
    return None


def read_corpus(path: str, nlp: Language, what: str) -> List[Doc]:
    """The documents of a .spacy corpus, refused with the path and the reason when unusable."""
    from ..evaluate.inputs import read_gold

    if not Path(path).exists():
        raise CalibrateError(f"{path}: no such {what} file. Give a .spacy corpus.")
    try:
        return read_gold(Path(path), nlp)
    except PermissionError as err:
        raise CalibrateError(f"{path}: cannot read the {what} corpus: {err.strerror}.") from err


def load_inputs(
    pipeline: str, dev: str, train: Optional[str]
) -> Tuple[Language, List[Doc], Optional[List[Doc]]]:
    """The pipeline (with an mtl_textcat) and the dev (and training) documents."""
    try:
        nlp = load_pipeline(pipeline, threads=None)
    except PipelineLoadError as err:
        raise CalibrateError(str(err)) from err
    if head_named(nlp, "mtl_textcat") is None:
        raise CalibrateError(
            f"The pipeline {pipeline!r} has no mtl_textcat component (it has "
            f"{', '.join(nlp.pipe_names) or 'none'}): calibrate fits spacy-mtl's intent head."
        )
    dev_docs = read_corpus(dev, nlp, "dev")
    if not any(has_cats(doc) for doc in dev_docs):
        raise CalibrateError(
            f"{dev}: none of its {len(dev_docs)} documents has categories (doc.cats), so the "
            "intents cannot be calibrated. Give a dev corpus annotated with intents."
        )
    train_docs = read_corpus(train, nlp, "training") if train else None
    return nlp, dev_docs, train_docs


def fit_all(
    nlp: Language, dev_docs: List[Doc], train_docs: Optional[List[Doc]], args: argparse.Namespace
) -> Dict[str, Any]:
    """Fit the intents' calibration, and the entities' where the pipeline and B's module allow."""
    textcat = head_named(nlp, "mtl_textcat")
    oos_label = args.out_of_scope_label or nlp.get_pipe(textcat).cfg.get("out_of_scope_label")
    intents = fit_intent_calibration(
        nlp,
        textcat,
        dev_docs,
        train_docs=train_docs,
        oos_label=oos_label,
        target_recall=args.target_recall,
        target_precision=args.target_precision,
        score=args.score,
        where=str(args.dev),
    )
    report: Dict[str, Any] = {
        "pipeline": str(args.pipeline),
        "dev": str(args.dev),
        "textcat": textcat,
        "out_of_scope_label": oos_label,
        "target_recall": args.target_recall,
        "target_precision": args.target_precision,
        "intents": intents,
    }
    ner = head_named(nlp, "mtl_ner")
    fit_entities = _entity_fitter()
    if ner is not None and fit_entities is not None:
        examples = [Example(nlp.make_doc(doc.text), doc) for doc in dev_docs if has_ents(doc)]
        if examples:
            report["ner"] = ner
            report["entities"] = fit_entities(nlp, ner, examples)
    return report


def _entity_fitter():
    """spacy_mtl.calibrate.entities.fit_entity_calibration, where it exists."""
    try:
        module = importlib.import_module("spacy_mtl.calibrate.entities")
    except ModuleNotFoundError:
        return None
    return getattr(module, "fit_entity_calibration", None)
