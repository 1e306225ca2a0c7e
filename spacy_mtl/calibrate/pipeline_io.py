"""calibrate's inputs, checked (the pipeline, its heads, the corpora), the fits run on them,
and the calibrated pipeline written (`calibrate_pipeline`, what `spacy mtl calibrate` runs)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import has_cats
from ..loader import PipelineLoadError, load_pipeline
from .fitting import CalibrateError, fit_intent_calibration


@dataclass
class CalibrateSettings:
    """One calibrate run: its inputs and what the fit aims at (the command's options).

    pipeline (str): The trained pipeline: a folder or an installed package.
    dev (str): The .spacy dev corpus with categories.
    train (Optional[str]): A .spacy training corpus for the Mahalanobis class means; None: DEV.
    target_recall (float): Without out-of-scope dev documents: the in-scope share kept, in (0, 1].
    target_precision (Optional[float]): With them: the out-of-scope precision to reach, in
        (0, 1]; None: the best F1.
    out_of_scope_label (Optional[str]): The gold category that marks out-of-scope dev
        documents; None: the head's own out_of_scope_label.
    score (str): The out-of-scope score: "auto" (chosen on dev) or one of
        spacy_mtl.pipeline.intent_confidence.SCORES.
    """

    pipeline: str
    dev: str
    train: Optional[str] = None
    target_recall: float = 0.95
    target_precision: Optional[float] = None
    out_of_scope_label: Optional[str] = None
    score: str = "auto"


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


def out_of_scope_label(
    nlp: Language, textcat: str, dev_docs: List[Doc], args: CalibrateSettings
) -> Optional[str]:
    """The gold label that marks out-of-scope dev documents: --out-of-scope-label, checked, or
    the head's own out_of_scope_label (None: no dev document is out of scope).

    The dev documents of this label are the out-of-scope ones the threshold is chosen against;
    they are not counted as in scope. So the label must not be a class the head predicts
    (its documents would be taken from the intents' calibration), and an explicit one must
    mark some dev document (a misspelt one would be ignored without a word).
    """
    head = nlp.get_pipe(textcat)
    label = args.out_of_scope_label
    if label is None:
        return head.cfg.get("out_of_scope_label")
    option = f"--out-of-scope-label {label}"
    meaning = (
        "The option names the gold category (doc.cats) that marks out-of-scope dev documents, "
        "texts none of the trained classes fits"
    )
    if label in head.labels:
        raise CalibrateError(
            f"{option}: {label!r} is one of the classes {textcat} was trained on "
            f"({', '.join(head.labels)}). {meaning}; it cannot be one of them. Give that "
            "label, or leave the option out."
        )
    if not any(doc.cats.get(label, 0.0) >= 0.5 for doc in dev_docs):
        other = sorted({cat for doc in dev_docs for cat in doc.cats if cat not in head.labels})
        found = (
            f"Its categories that are not classes of {textcat}: {', '.join(other)}."
            if other
            else f"All its categories are classes of {textcat}."
        )
        raise CalibrateError(
            f"{option}: no document of {args.dev} has the category {label!r} (1.0), so it marks "
            f"nothing. {meaning}: give one that {args.dev} uses, or leave the option out when "
            f"it has no out-of-scope documents. {found}"
        )
    return label


def fit_all(
    nlp: Language, dev_docs: List[Doc], train_docs: Optional[List[Doc]], args: CalibrateSettings
) -> Dict[str, Any]:
    """Fit the intents' calibration, and the entities' where the pipeline has an mtl_ner and
    the dev data can calibrate it (otherwise the report's notes say why not)."""
    from .entities import TooFewSpans, fit_entity_calibration

    textcat = head_named(nlp, "mtl_textcat")
    oos_label = out_of_scope_label(nlp, textcat, dev_docs, args)
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
        "notes": [],
    }
    ner = head_named(nlp, "mtl_ner")
    if ner is not None:
        examples = [Example(nlp.make_doc(doc.text), doc) for doc in dev_docs]
        try:
            report["entities"] = fit_entity_calibration(nlp, ner, examples)
            report["ner"] = ner
        except TooFewSpans as err:
            kept = "the calibration the input pipeline had" if nlp.get_pipe(ner).calibration else ""
            report["entities_skipped"] = (
                f"{ner}'s entity confidences were not calibrated: {err} They keep "
                f"{kept or 'the CRF span probabilities, uncalibrated'}."
            )
            report["notes"].append(report["entities_skipped"])
    return report


def calibrate_pipeline(
    args: CalibrateSettings, output: Path, *, overwrite: bool = False
) -> Dict[str, Any]:
    """Check the inputs, fit, and write the calibrated pipeline with calibration.json and the
    reliability diagram to `output`. RETURNS the report.

    The output is checked before any work and locked for the whole run: a second run on the
    same --output is refused at once (OutputError) instead of both reporting success.

    args (CalibrateSettings): The inputs and the fit's targets.
    output (Path): The folder to write.
    overwrite (bool): Replace an existing `output` (--overwrite).
    RETURNS (Dict[str, Any]): The report, as calibration.json holds it, with its "notes".
    """
    from ..atomic import check_output_folder, output_lock, replace_folder

    out = Path(output)
    inputs = [Path(path) for path in (args.pipeline, args.dev, args.train) if path]
    refusal = "Give --overwrite to replace it, or another --output folder."
    check_output_folder(out, inputs, replace=overwrite, refusal=refusal)
    with output_lock(out, "calibrate"):
        # Again under the lock: a run that finished meanwhile may have written OUT.
        check_output_folder(out, inputs, replace=overwrite, refusal=refusal)
        nlp, dev_docs, train_docs = load_inputs(args.pipeline, args.dev, args.train)
        report = fit_all(nlp, dev_docs, train_docs, args)
        notes = report.setdefault("notes", [])

        def fill(folder: Path) -> None:
            from .report import write_report

            nlp.to_disk(folder)
            notes.extend(write_report(folder, report))

        replace_folder(out, fill)
    return report
