"""Evaluate a joint pipeline, and optionally its single-task baselines, on a test set.

The project's `evaluate` commands run this script: it prints a per-task table
(intent accuracy and macro F, slot P/R/F, sentence accuracy), and writes the
scores as JSON and, with --chart, a bar chart of the joint model against the
baselines. Both files are written atomically (a temporary file, then a rename).

Scores are fractions in [0, 1], as spaCy's scorers return them. Every model
reads the test set's own tokens: the text is not re-tokenized, so spans line up
with the gold ones (the ATIS/SNIPS convention).

Usage:
    python scripts/evaluate.py corpus/test.spacy --joint training/model-best \
        --textcat training/textcat/model-best --ner training/ner/model-best \
        --output metrics/scores.json --chart metrics/scores.png
"""

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import spacy
import srsly
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from wasabi import msg

from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.atomic import atomic_path
from spacy_mtl.scorers import REPORT_METRICS as METRICS
from spacy_mtl.scorers import sentence_accuracy

CATS_KEYS = ("cats_acc", "cats_score", "cats_macro_f")
ENTS_KEYS = ("ents_p", "ents_r", "ents_f", "ents_per_type")
JOINT = "joint"
SINGLE = "single"
COLUMN_TITLES = {JOINT: "joint", SINGLE: "single-task"}


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments, evaluate, print the table and write the files.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("test", type=Path, help="jointly annotated .spacy test set")
    parser.add_argument("--joint", type=Path, required=True, help="the joint pipeline")
    parser.add_argument("--textcat", type=Path, help="single-task intent baseline pipeline")
    parser.add_argument("--ner", type=Path, help="single-task slot baseline pipeline")
    parser.add_argument("--output", type=Path, required=True, help="scores JSON to write")
    parser.add_argument("--chart", type=Path, help="PNG bar chart to write")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU id, -1 for the CPU")
    parser.add_argument("--batch-size", type=int, default=256, help="documents per batch")
    args = parser.parse_args(argv)
    if (args.textcat is None) != (args.ner is None):
        parser.error("give both --textcat and --ner for the single-task baseline, or neither")
    for path in (args.test, args.joint, args.textcat, args.ner):
        if path is not None and not path.exists():
            msg.fail(f"Not found: {path}. Run the steps that make it first.", exits=1)
    if args.gpu_id >= 0:
        spacy.require_gpu(args.gpu_id)
    chart = args.chart
    if chart is not None and not _has_matplotlib():
        chart = None

    result = evaluate(
        args.test,
        args.joint,
        textcat_path=args.textcat,
        ner_path=args.ner,
        batch_size=args.batch_size,
    )
    print_table(result)
    write_atomic(args.output, lambda path: srsly.write_json(path, result))
    msg.good(f"Saved scores to {args.output}")
    if chart is not None:
        write_atomic(chart, lambda path: plot_scores(result, path))
        msg.good(f"Saved chart to {chart}")
    return 0


def evaluate(
    test_path: Path,
    joint_path: Path,
    *,
    textcat_path: Optional[Path] = None,
    ner_path: Optional[Path] = None,
    batch_size: int = 256,
) -> Dict[str, Any]:
    """Score the joint pipeline, and the pair of single-task pipelines, on a test set.

    The pair of baselines is scored as one system: intents from the textcat
    pipeline, slots from the ner pipeline, and sentence accuracy on their
    predictions put together.

    test_path (Path): The jointly annotated .spacy test set.
    joint_path (Path): The pipeline with both heads.
    textcat_path (Optional[Path]): The intent-only baseline pipeline.
    ner_path (Optional[Path]): The slot-only baseline pipeline.
    batch_size (int): Documents per batch.
    RETURNS (Dict[str, Any]): "joint" and, with baselines, "single": the scores
        by key (METRICS and cats_score, ents_per_type), plus the paths and counts.
    """
    nlp = spacy.load(joint_path)
    references = read_references(test_path, nlp)
    joint_docs = predict(nlp, references, batch_size)
    joint_examples = pair(joint_docs, references)
    all_scores = Scorer(nlp).score(joint_examples)
    joint = {key: all_scores.get(key) for key in CATS_KEYS + ENTS_KEYS}
    joint["joint_sentence_acc"] = sentence_accuracy(joint_examples, **_cats_rule(nlp))
    result: Dict[str, Any] = {
        "test": str(test_path),
        "n_docs": len(references),
        "n_docs_cats": sum(has_cats(doc) for doc in references),
        "n_docs_ents": sum(has_ents(doc) for doc in references),
        "models": {JOINT: str(joint_path)},
        JOINT: joint,
    }
    if textcat_path is not None and ner_path is not None:
        nlp_cats = spacy.load(textcat_path)
        nlp_ents = spacy.load(ner_path)
        cat_docs = predict(nlp_cats, read_references(test_path, nlp_cats), batch_size)
        ent_docs = predict(nlp_ents, read_references(test_path, nlp_ents), batch_size)
        cat_scores = Scorer(nlp_cats).score(pair(cat_docs, references))
        ent_scores = Scorer(nlp_ents).score(pair(ent_docs, references))
        single = {key: cat_scores.get(key) for key in CATS_KEYS}
        single.update({key: ent_scores.get(key) for key in ENTS_KEYS})
        combined = [combine(c, e) for c, e in zip(cat_docs, ent_docs, strict=True)]
        single["joint_sentence_acc"] = sentence_accuracy(
            pair(combined, references), **_cats_rule(nlp_cats)
        )
        result["models"].update({"textcat": str(textcat_path), "ner": str(ner_path)})
        result[SINGLE] = single
    return result


def read_references(path: Path, nlp: Language) -> List[Doc]:
    """The gold documents of a .spacy file, in the vocabulary of a pipeline.

    path (Path): The .spacy file.
    nlp (Language): The pipeline whose vocabulary the documents use.
    RETURNS (List[Doc]): The documents.
    """
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    if not docs:
        msg.fail(f"{path} holds no documents.", exits=1)
    return docs


def predict(nlp: Language, references: Sequence[Doc], batch_size: int) -> List[Doc]:
    """Run a pipeline over unannotated copies of the gold documents' tokens.

    nlp (Language): The pipeline.
    references (Sequence[Doc]): The gold documents.
    batch_size (int): Documents per batch.
    RETURNS (List[Doc]): The predicted documents, token for token as the gold.
    """
    inputs = (
        Doc(nlp.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])
        for ref in references
    )
    return list(nlp.pipe(inputs, batch_size=batch_size))


def pair(predicted: Sequence[Doc], references: Sequence[Doc]) -> List[Example]:
    """Examples of predicted documents against their gold documents, in order."""
    return [Example(pred, ref) for pred, ref in zip(predicted, references, strict=True)]


def _cats_rule(nlp) -> Dict[str, Any]:
    """How the pipeline's classifier decides its categories: multi-label, and at what threshold."""
    for _, proc in nlp.pipeline:
        settings = getattr(proc, "scorer_settings", lambda: {})()
        if "multi_label" in settings:
            return {"multi_label": settings["multi_label"], "threshold": settings["threshold"]}
    return {}


def combine(cat_doc: Doc, ent_doc: Doc) -> Doc:
    """One document with the categories of one prediction and the entities of another.

    cat_doc (Doc): The prediction that gives the categories.
    ent_doc (Doc): The prediction that gives the entities, over the same tokens.
    RETURNS (Doc): A new document over ent_doc's tokens.
    """
    doc = Doc(
        ent_doc.vocab,
        words=[t.text for t in ent_doc],
        spaces=[bool(t.whitespace_) for t in ent_doc],
    )
    doc.cats = dict(cat_doc.cats)
    doc.set_ents([Span(doc, e.start, e.end, label=e.label_) for e in ent_doc.ents])
    return doc


def print_table(result: Dict[str, Any]) -> None:
    """Print the per-task scores, in percent, one column per system.

    result (Dict[str, Any]): The output of `evaluate`.
    """
    columns = [name for name in (JOINT, SINGLE) if name in result]
    header = ["metric"] + [COLUMN_TITLES[name] for name in columns]
    if SINGLE in result:
        header.append("joint - single")
    rows = []
    for key, title in METRICS:
        values = [result[name].get(key) for name in columns]
        row = [title] + [_percent(value) for value in values]
        if SINGLE in result:
            joint, single = values
            diff = None if joint is None or single is None else joint - single
            row.append("-" if diff is None else f"{100 * diff:+.1f}")
        rows.append(row)
    msg.divider(f"Test scores (%), {result['n_docs']} documents of {result['test']}")
    msg.table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))


def plot_scores(result: Dict[str, Any], path: Path) -> None:
    """Draw the per-task scores as grouped bars, joint against single-task.

    result (Dict[str, Any]): The output of `evaluate`.
    path (Path): The PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [name for name in (JOINT, SINGLE) if name in result]
    width = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, name in enumerate(columns):
        values = [result[name].get(key) for key, _ in METRICS]
        xs = [j + (i - (len(columns) - 1) / 2) * width for j in range(len(METRICS))]
        # A score that cannot be computed (None) is drawn as no bar.
        heights = [100 * v if v is not None else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=COLUMN_TITLES[name])
        labels = [f"{100 * v:.1f}" if v is not None else "n/a" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    ax.set_xticks(range(len(METRICS)))
    ax.set_xticklabels([title for _, title in METRICS], rotation=15)
    # Headroom above 100 keeps the legend clear of the bars.
    ax.set_ylim(0, 118)
    ax.set_ylabel("score (%)")
    ax.set_title(f"Test scores on {Path(result['test']).name} ({result['n_docs']} documents)")
    ax.legend(loc="upper center", ncol=len(columns), frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)


def write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write a file with `write(tmp_path)`, then rename it into place (spacy_mtl.atomic)."""
    with atomic_path(path) as tmp:
        write(tmp)


def _has_matplotlib() -> bool:
    """Whether the chart can be drawn; if not, warn: the scores are written all the same."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        msg.warn(
            "No chart: matplotlib is not installed. The scores are written all the same.",
            "Install it with: pip install 'spacy-mtl[plot]'",
        )
        return False
    return True


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
