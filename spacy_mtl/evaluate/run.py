"""Evaluate end to end: load and check, predict and score, print, write the files.

The files go to --output DIR: scores.json, report.html and, with matplotlib,
scores.png, each written whole or not at all, beside what else the folder holds (as
`spacy train --output` does; a project keeps its other metrics there). The folder is
checked before any work: it may not be, hold or lie inside an input (the corpus, a
pipeline), nor lie inside a pipeline folder, and must be writable.
"""

import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import srsly
from wasabi import msg

from ..atomic import (
    OutputError,
    atomic_path,
    check_output,
    check_output_folder,
    write_text_atomic,
)
from .browse import error_records
from .chart import has_matplotlib, plot_scores
from .compare import differences
from .inputs import EvaluateError, load_scored_pipeline, read_gold
from .report import render_report
from .scoring import System, corpus_counts, score_system
from .terminal import print_report

OUTPUT_FILES = ("scores.json", "report.html", "scores.png")


def evaluate(
    pipeline: str,
    data: Path,
    *,
    compare: Sequence[str] = (),
    gold_tokens: bool = True,
    batch_size: int = 256,
) -> Tuple[Dict[str, Any], List[Dict], List[Dict]]:
    """Score PIPELINE (and the compared system) on DATA.

    RETURNS (Tuple): The scores (the content of scores.json), the pipeline's error
        records, and the documents on which the two systems differ.
    """
    nlp = load_scored_pipeline(pipeline)
    references = read_gold(data, nlp)
    first = _score("pipeline", [pipeline], [nlp], references, gold_tokens, batch_size)
    result: Dict[str, Any] = {
        "test": str(data),
        **corpus_counts(references),
        "gold_tokens": gold_tokens,
        "models": {"pipeline": [str(pipeline)]},
        "pipeline": first.scores,
    }
    diffs: List[Dict] = []
    if compare:
        nlps = [load_scored_pipeline(path) for path in compare]
        second = _score("compare", list(compare), nlps, references, gold_tokens, batch_size)
        result["models"]["compare"] = [str(path) for path in compare]
        result["compare"] = second.scores
        diffs = differences(first, second, references)
        result["differences"] = len(diffs)
    errors = error_records(
        first.examples(references),
        first.multi_label,
        first.threshold,
        "cats_support" in first.scores,
        "slot_errors" in first.scores,
    )
    result["pipeline"]["n_error_docs"] = len(errors)
    return result, errors, diffs


def _score(name, paths, nlps, references, gold_tokens, batch_size) -> System:
    # The heads' warnings (labels never seen in training, unscorable gold) become messages.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        system = score_system(
            name, paths, nlps, references, gold_tokens=gold_tokens, batch_size=batch_size
        )
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            msg.warn(f"{name}: {warning.message}")
    return system


def check_output_dir(output: Path, inputs: Sequence[Path]) -> None:
    """Refuse, before any work, an output folder that cannot or must not be written.

    output (Path): The --output folder.
    inputs (Sequence[Path]): The corpus and the pipelines (a package name is skipped).
    """
    if output.exists() and not output.is_dir():
        raise EvaluateError(f"--output {output}: is a file; give a folder (it is created).")
    try:
        for name in OUTPUT_FILES:
            check_output(output / name, inputs=inputs)
        check_output_folder(output, inputs, replace=True)
    except OutputError as err:
        raise EvaluateError(f"--output: {err}") from err


def write_outputs(
    output: Path, result: Dict[str, Any], errors: List[Dict], diffs: List[Dict]
) -> List[Path]:
    """Write scores.json, report.html and (with matplotlib) scores.png into `output`."""
    names: List[str] = []
    try:
        output.mkdir(parents=True, exist_ok=True)
        with atomic_path(output / "scores.json") as tmp:
            srsly.write_json(tmp, result)
        names.append("scores.json")
        write_text_atomic(output / "report.html", render_report(result, errors, diffs))
        names.append("report.html")
        if has_matplotlib():
            with atomic_path(output / "scores.png") as tmp:
                plot_scores(result, tmp)
            names.append("scores.png")
        else:
            (output / "scores.png").unlink(missing_ok=True)  # an earlier run's, now stale
    except OSError as err:
        raise EvaluateError(f"--output {output}: cannot write: {err.strerror or err}.") from err
    if "scores.png" not in names:
        msg.warn("No scores.png: matplotlib is missing.", "pip install 'spacy-mtl[plot]'")
    return [output / name for name in names]


def run(
    pipeline: str,
    data: Path,
    output: Optional[Path],
    compare: Sequence[str],
    gold_tokens: bool,
    batch_size: int,
) -> int:
    """The command: check the output first, evaluate, print, write. Exit status 0."""
    if output is not None:
        check_output_dir(output, [data, *(Path(p) for p in (pipeline, *compare))])
    result, errors, diffs = evaluate(
        pipeline, data, compare=compare, gold_tokens=gold_tokens, batch_size=batch_size
    )
    print_report(result)
    if output is not None:
        for path in write_outputs(output, result, errors, diffs):
            msg.good(f"Wrote {path}")
    return 0
