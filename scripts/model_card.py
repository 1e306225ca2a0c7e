"""Write a trained pipeline's model card, ready for `spacy package`.

spaCy's `package` writes a README from meta.json that shows the dev scores of
training only, with licence, sources and author "n/a" unless meta.json has them.
When the pipeline folder already holds a README.md, `package` uses it instead:
this script copies the pipeline to OUTPUT, fills meta.json (licence, author,
sources, the test scores) and writes README.md there: per-task test scores (intent
accuracy and macro F, slot P/R/F overall and per type, sentence accuracy) for the
joint model against the single-task baselines, the per-task chart, the training
corpora with their sizes and licence, the config, step budget and seed, and known
limitations. Then `spacy package OUTPUT ...` builds a wheel whose README is this card.

Usage:
    python scripts/model_card.py training/model-best training/packaged \
        --scores metrics/scores.json --chart metrics/scores.png --config configs/separate.cfg \
        --corpus "intents only=corpus/train_cats.spacy" \
        --corpus "slots only=corpus/train_ents.spacy" \
        --license MIT --author "spacy-mtl developers" --data-license CC0-1.0 \
        --data-source "spacy-mtl demo corpus" --notes data/demo/limitations.md
"""

import argparse
import math
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import srsly
from spacy.tokens import DocBin
from spacy.util import load_config
from spacy.vocab import Vocab
from wasabi import msg

from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.calibrate.report import REPORT_JSON, card_lines
from spacy_mtl.scorers import REPORT_METRICS as METRICS

CHART_NAME = "scores.png"
# The systems in scores.json: the packaged (joint) pipeline, and the single-task baselines
# given to `evaluate --compare TEXTCAT NER`.
JOINT = "pipeline"
SINGLE = "compare"
BAR_WIDTH = 40


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments, copy the pipeline and write its card and meta.json.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    args = make_parser().parse_args(argv)
    for path in (args.pipeline, args.scores, args.notes):
        if path is not None and not path.exists():
            msg.fail(f"Not found: {path}. Run the steps that make it first.", exits=1)
    corpora = [describe_corpus(name, path) for name, path in read_corpus_args(args.corpus)]
    scores = srsly.read_json(args.scores)
    meta = fill_meta(srsly.read_json(args.pipeline / "meta.json"), scores, args)
    config = load_config(args.pipeline / "config.cfg", interpolate=True)
    chart = args.chart if args.chart is not None and args.chart.is_file() else None
    if args.chart is not None and chart is None:
        msg.warn(f"No chart at {args.chart}: the card shows the text chart only.")
    notes = args.notes.read_text(encoding="utf8").strip() if args.notes else ""
    card = render_card(meta, scores, config, corpora, args, notes, has_chart=chart is not None)
    if (args.pipeline / REPORT_JSON).is_file():
        card = (
            card.rstrip()
            + "\n\n"
            + "\n".join(card_lines(srsly.read_json(args.pipeline / REPORT_JSON)))
        )
    write_package(args.pipeline, args.output, meta, card, chart)
    msg.good(f"Wrote the pipeline with its model card to {args.output}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The command line: the pipeline, where to write it, and what the card says."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", type=Path, help="the trained pipeline folder")
    parser.add_argument("output", type=Path, help="folder to write: the pipeline and its card")
    parser.add_argument(
        "--scores", type=Path, required=True, help="scores.json of python -m spacy_mtl evaluate"
    )
    parser.add_argument("--chart", type=Path, help="scores.png of python -m spacy_mtl evaluate")
    parser.add_argument("--config", help="the config file the pipeline was trained with")
    parser.add_argument(
        "--corpus",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a training corpus (.spacy) and its name in the card (repeatable)",
    )
    parser.add_argument("--name", help="package name, as in `spacy package --name`")
    parser.add_argument("--version", help="package version, as in `spacy package --version`")
    parser.add_argument("--description", default="", help="one paragraph on the pipeline")
    parser.add_argument("--license", default="", help="the pipeline's licence")
    parser.add_argument("--author", default="", help="the pipeline's author")
    parser.add_argument("--email", default="", help="the author's e-mail")
    parser.add_argument("--url", default="", help="the author's or project's URL")
    parser.add_argument("--data-source", default="", help="the training data's name")
    parser.add_argument("--data-url", default="", help="where the training data is described")
    parser.add_argument("--data-license", default="", help="the training data's licence")
    parser.add_argument("--notes", type=Path, help="Markdown file: known limitations, one per item")
    return parser


def read_corpus_args(specs: List[str]) -> List[Tuple[str, Path]]:
    """The --corpus NAME=PATH arguments as (name, path); exits on a malformed or missing one."""
    corpora = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            msg.fail(f"--corpus {spec!r}: expected NAME=PATH.", exits=1)
        if not Path(path).is_file():
            msg.fail(f"--corpus {spec!r}: no file at {path}.", exits=1)
        corpora.append((name, Path(path)))
    return corpora


def fill_meta(
    meta: Dict[str, Any], scores: Dict[str, Any], args: argparse.Namespace
) -> Dict[str, Any]:
    """meta.json with what `spacy package` would otherwise print as "n/a", and the test scores."""
    if args.name:
        meta["name"] = args.name
    if args.version:
        meta["version"] = args.version
    meta.update(
        description=args.description or meta.get("description", ""),
        license=args.license,
        author=args.author,
        email=args.email,
        url=args.url,
    )
    if args.data_source:
        source = {"name": args.data_source}
        extra = {"url": args.data_url, "license": args.data_license}
        source.update({key: value for key, value in extra.items() if value})
        meta["sources"] = [source]
    meta["test_performance"] = test_performance(scores)
    return meta


def write_package(
    pipeline: Path, output: Path, meta: Dict[str, Any], card: str, chart: Optional[Path]
) -> None:
    """Copy the pipeline to output with its meta.json, card and chart.

    The copy is built beside its final place, then swapped in: never a half-written package.
    """
    staging = output.with_name(output.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(pipeline, staging)
    if chart is not None:
        shutil.copy(chart, staging / CHART_NAME)
    srsly.write_json(staging / "meta.json", meta)
    (staging / "README.md").write_text(card, encoding="utf8")
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)


def describe_corpus(name: str, path: Path) -> Dict[str, Any]:
    """Count a corpus's documents, words and annotation per task.

    name (str): The corpus's name in the card.
    path (Path): The .spacy file.
    RETURNS (Dict[str, Any]): The counts.
    """
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    intents = Counter(max(doc.cats, key=doc.cats.get) for doc in docs if has_cats(doc))
    entities = Counter(ent.label_ for doc in docs if has_ents(doc) for ent in doc.ents)
    return {
        "name": name,
        "path": str(path),
        "docs": len(docs),
        "words": sum(len(doc) for doc in docs),
        "docs_cats": sum(has_cats(doc) for doc in docs),
        "docs_ents": sum(has_ents(doc) for doc in docs),
        "intents": len(intents),
        "entity_types": len(entities),
        "entities": sum(entities.values()),
    }


def test_performance(scores: Dict[str, Any]) -> Dict[str, Any]:
    """The joint model's test scores for meta.json, as fractions."""
    joint = scores[JOINT]
    result = {key: joint.get(key) for key, _ in METRICS}
    result["ents_per_type"] = joint.get("ents_per_type") or {}
    result["n_docs"] = scores["n_docs"]
    result["test"] = scores["test"]
    return result


def render_card(
    meta: Dict[str, Any],
    scores: Dict[str, Any],
    config: Any,
    corpora: List[Dict[str, Any]],
    args: argparse.Namespace,
    notes: str,
    has_chart: bool,
) -> str:
    """The model card, in Markdown: its sections in order."""
    joint = scores[JOINT]
    single = scores.get(SINGLE)
    lines = summary_lines(meta)
    lines += test_score_lines(scores)
    lines += per_type_lines(joint, single)
    lines += chart_lines(joint, single, has_chart)
    if single:
        lines += comparison_lines(scores)
    if corpora:
        lines += corpus_lines(meta, corpora, args)
    lines += ["## Training", ""] + training_lines(config, meta, args.config)
    lines += ["## Known limitations", ""] + limitation_lines(scores, notes)
    lines += label_lines(meta)
    return "\n".join(lines).rstrip() + "\n"


def summary_lines(meta: Dict[str, Any]) -> List[str]:
    """The title, the description and the table of name, version, pipeline, data and licence."""
    name = meta["name"] if meta["name"].startswith(meta["lang"] + "_") else None
    name = name or f"{meta['lang']}_{meta['name']}"
    lines: List[str] = [f"# {name} {meta['version']}", ""]
    if meta.get("description"):
        lines += [meta["description"], ""]
    sources = meta.get("sources") or []
    source_text = "; ".join(_source(source) for source in sources) or "n/a"
    components = ", ".join(f"`{c}`" for c in meta.get("pipeline", []))
    lines += _table(
        ["Feature", "Description"],
        [
            ["**Name**", f"`{name}`"],
            ["**Version**", f"`{meta['version']}`"],
            ["**spaCy**", f"`{meta.get('spacy_version', '')}`"],
            ["**Pipeline**", components],
            ["**Training data**", source_text],
            ["**License**", f"`{meta['license']}`" if meta.get("license") else "n/a"],
            ["**Author**", _author(meta)],
        ],
    )
    return lines


def test_score_lines(scores: Dict[str, Any]) -> List[str]:
    """How the test set was scored, and the scores per task against the baselines."""
    joint = scores[JOINT]
    single = scores.get(SINGLE)
    n_docs = scores["n_docs"]
    lines = [
        "## Test scores",
        "",
        f"Scored by `python -m spacy_mtl evaluate` on the held-out test set `{scores['test']}`: "
        f"{n_docs} documents ({scores.get('n_docs_cats', n_docs)} with an intent, "
        f"{scores.get('n_docs_ents', n_docs)} with slot annotation), read with their own tokens. "
        "Intent accuracy counts documents whose top intent is right; macro F averages the "
        "intents' F scores; slot scores are exact-span precision, recall and F; sentence "
        "accuracy counts documents whose intent and every slot are right. In percent.",
        "",
    ]
    header = ["task", "metric", "joint model"]
    if single:
        header += ["single-task baselines", "joint - single"]
    rows = []
    for key, title in METRICS:
        task = "intent" if key.startswith("cats") else "slots" if key.startswith("ents") else "both"
        row = [task, title, _pct(joint.get(key))]
        if single:
            row += [_pct(single.get(key)), _diff(joint.get(key), single.get(key))]
        rows.append(row)
    return lines + _table(header, rows)


def per_type_lines(joint: Dict[str, Any], single: Optional[Dict[str, Any]]) -> List[str]:
    """The joint model's slot scores per type, beside the baseline's F; none without types."""
    per_type = joint.get("ents_per_type") or {}
    single_per_type = (single or {}).get("ents_per_type") or {}
    if not per_type:
        return []
    header = ["slot type", "precision", "recall", "F"]
    if single_per_type:
        header.append("F single-task")
    rows = []
    for label in sorted(per_type):
        type_scores = per_type[label]
        row = [f"`{label}`"] + [_pct(type_scores.get(k)) for k in ("p", "r", "f")]
        if single_per_type:
            row.append(_pct(single_per_type.get(label, {}).get("f")))
        rows.append(row)
    return ["### Slots per type (joint model)", ""] + _table(header, rows)


def chart_lines(
    joint: Dict[str, Any], single: Optional[Dict[str, Any]], has_chart: bool
) -> List[str]:
    """The PNG chart when it ships in the package, and the text chart always."""
    lines = ["### Per-task chart", ""]
    if has_chart:
        lines += [f"![Per-task test scores, joint against single-task]({CHART_NAME})", ""]
        lines += [f"(`{CHART_NAME}` ships inside the package, next to this card.)", ""]
    return lines + ["```"] + text_chart(joint, single) + ["```", ""]


def comparison_lines(scores: Dict[str, Any]) -> List[str]:
    """What the baselines are, their step budgets, and which metrics each side wins."""
    joint, single = scores[JOINT], scores[SINGLE]
    better = [t for k, t in METRICS if _gt(joint.get(k), single.get(k))]
    worse = [t for k, t in METRICS if _gt(single.get(k), joint.get(k))]
    return [
        "## Joint model against single-task baselines",
        "",
        "The baselines are one pipeline per task with the same encoder, corpora and seed "
        "(`configs/single_textcat.cfg`, `configs/single_ner.cfg`); their sentence accuracy "
        "puts the two pipelines' predictions together. The joint model is one pipeline: "
        "one encoder pass feeds both heads." + step_budgets(scores),
        "",
        f"Joint higher: {', '.join(better) or 'none'}. "
        f"Single-task higher: {', '.join(worse) or 'none'}.",
        "",
    ]


def corpus_lines(
    meta: Dict[str, Any], corpora: List[Dict[str, Any]], args: argparse.Namespace
) -> List[str]:
    """The training data: its source and licence, and each corpus's counts."""
    lines = ["## Training data", ""]
    if args.data_source:
        licence = f", licence `{args.data_license}`" if args.data_license else ""
        lines += [f"{_source(meta['sources'][0])}{licence}.", ""]
    header = [
        "corpus",
        "file",
        "documents",
        "words",
        "with intent",
        "with slots",
        "intents",
        "slot mentions",
    ]
    rows = [
        [
            c["name"],
            f"`{c['path']}`",
            str(c["docs"]),
            str(c["words"]),
            str(c["docs_cats"]),
            str(c["docs_ents"]),
            str(c["intents"]),
            f"{c['entities']} ({c['entity_types']} types)",
        ]
        for c in corpora
    ]
    return lines + _table(header, rows)


def label_lines(meta: Dict[str, Any]) -> List[str]:
    """Each component's labels; none when meta.json lists none."""
    labels = meta.get("labels") or {}
    if not labels:
        return []
    rows = [
        [f"`{pipe}`", ", ".join(f"`{label}`" for label in pipe_labels)]
        for pipe, pipe_labels in labels.items()
        if pipe_labels
    ]
    return ["## Labels", ""] + _table(["component", "labels"], rows)


def training_lines(config: Any, meta: Dict[str, Any], config_name: Optional[str]) -> List[str]:
    """The config, step budget, seed and dev scores of training."""
    training = config["training"]
    batcher = training.get("batcher", {})
    size = batcher.get("size")
    optimizer = training.get("optimizer", {})
    rows = [
        ["config", f"`{config_name}`" if config_name else "`config.cfg`"],
        ["step budget (`training.max_steps`)", str(training.get("max_steps"))],
        ["evaluated every (`training.eval_frequency`)", str(training.get("eval_frequency"))],
        ["seed (`system.seed`)", str(config.get("system", {}).get("seed"))],
        ["dropout", str(training.get("dropout"))],
        ["batch size (words)", str(size) if not isinstance(size, dict) else "schedule"],
        ["optimizer", f"{optimizer.get('@optimizers', 'n/a')}"],
        ["pipeline", ", ".join(f"`{name}`" for name in config["nlp"]["pipeline"])],
    ]
    lines = _table(["setting", "value"], rows)
    lines += [
        "The full config is `config.cfg` inside the package. The pipeline kept is the one "
        "with the best dev score (`model-best`).",
        "",
    ]
    performance = {
        key: value
        for key, value in (meta.get("performance") or {}).items()
        if _number(value) and not key.endswith("_loss")
    }
    if performance:
        dev = ", ".join(f"{key} {100 * value:.1f}" for key, value in performance.items())
        lines += [f"Dev scores at that point (spaCy's `performance`, percent): {dev}.", ""]
    return lines


def step_budgets(scores: Dict[str, Any]) -> str:
    """A sentence giving each compared pipeline's `training.max_steps`, read from the
    config.cfg of the paths in scores.json; empty when one cannot be read."""
    models = scores.get("models", {})
    paths = models.get(JOINT, []) + models.get(SINGLE, [])
    if len(paths) != 3:
        return ""
    budgets = {}
    for name, path in zip(("joint", "textcat", "ner"), paths):
        config_path = Path(path) / "config.cfg"
        if not config_path.exists():
            return ""
        budgets[name] = load_config(config_path, interpolate=False)["training"].get("max_steps")
    text = (
        f" Step budgets: joint {budgets['joint']}, intents alone {budgets['textcat']}, slots "
        f"alone {budgets['ner']}."
    )
    if budgets["joint"] == budgets["textcat"] + budgets["ner"]:
        text += (
            " From two separate corpora each joint batch holds both, so the joint model takes "
            "the baselines' steps together for each head to see as many documents as its "
            "baseline."
        )
    return text


def limitation_lines(scores: Dict[str, Any], notes: str) -> List[str]:
    """Known limitations: the notes given, then what the test scores themselves say."""
    lines = [notes] if notes else []
    n_docs = scores["n_docs"]
    accuracy = scores[JOINT].get("cats_acc")
    if accuracy is not None and n_docs:
        # The normal approximation of a binomial proportion's 95% interval.
        half = 1.96 * math.sqrt(max(accuracy * (1 - accuracy), 1 / n_docs) / n_docs)
        lines += [
            f"- The test set has {n_docs} documents: an intent accuracy of "
            f"{100 * accuracy:.1f}% is known to about +/- {100 * half:.1f} points (95%). "
            "Differences between the joint model and the baselines smaller than that are noise.",
        ]
    per_type = scores[JOINT].get("ents_per_type") or {}
    weak = sorted(label for label, s in per_type.items() if (s.get("f") or 0.0) < 0.5)
    if weak:
        lines += [f"- Slot types with a test F below 50%: {', '.join(f'`{w}`' for w in weak)}."]
    return lines + [""]


def text_chart(joint: Dict[str, Any], single: Optional[Dict[str, Any]]) -> List[str]:
    """The per-task scores as text bars, one line per metric and system."""
    lines = []
    width = max(len(title) for _, title in METRICS)
    for key, title in METRICS:
        systems: List[Tuple[str, Optional[float]]] = [("joint", joint.get(key))]
        if single:
            systems.append(("single", single.get(key)))
        for i, (system, value) in enumerate(systems):
            label = title if i == 0 else ""
            bar = "#" * round(BAR_WIDTH * value) if value is not None else ""
            lines.append(f"{label:<{width}}  {system:<6} {bar:<{BAR_WIDTH}} {_pct(value):>5}")
    return lines


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _source(source: Dict[str, str]) -> str:
    name = source.get("name", "")
    text = f"[{name}]({source['url']})" if source.get("url") else name
    return text


def _author(meta: Dict[str, Any]) -> str:
    author = meta.get("author") or "n/a"
    if meta.get("url"):
        author = f"[{author}]({meta['url']})"
    if meta.get("email"):
        author += f" <{meta['email']}>"
    return author


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _diff(a: Optional[float], b: Optional[float]) -> str:
    return "n/a" if a is None or b is None else f"{100 * (a - b):+.1f}"


def _gt(a: Optional[float], b: Optional[float]) -> bool:
    return a is not None and b is not None and a > b


if __name__ == "__main__":
    sys.exit(main())
