"""Run every check and put the results together: the summary, the label tables, the findings."""

from pathlib import Path
from typing import Any, Dict, List, Optional

from ..annotation import TASK_CATS, TASK_ENTS, has_cats, has_ents
from .corpora import Corpora, read_corpora
from .duplicates import conflict_findings, overlap_findings
from .findings import ERROR, WARNING, Finding
from .labels import category_findings, label_findings, label_table
from .settings import head_names, share_findings, teacher_findings
from .spans import span_findings


def source_summary(corpora: Corpora) -> List[Dict[str, Any]]:
    """Per source of each corpus: documents, documents per task, tokens, share of an epoch."""
    return [
        {
            "corpus": s.corpus,
            "source": s.name,
            "path": s.path,
            "docs": len(s.examples),
            "cats": sum(has_cats(eg.reference) for eg in s.examples),
            "ents": sum(has_ents(eg.reference) for eg in s.examples),
            "tokens": sum(len(eg.reference) for eg in s.examples),
            "share": s.share if s.corpus == "train" else None,
        }
        for s in corpora.sources
    ]


def run_checks(corpora: Corpora, rare: int) -> Dict[str, Any]:
    """Every check on the corpora read as training reads them.

    RETURNS (Dict[str, Any]): "sources", "labels" (per task: train and dev count per
        label), "findings" (Finding list) and "errors" (their number).
    """
    nlp = corpora.nlp
    heads = head_names(nlp)
    train, dev = corpora.of("train"), corpora.of("dev")
    multi = False
    if TASK_CATS in heads:
        multi = nlp.get_pipe(heads[TASK_CATS]).scorer_settings()["multi_label"]
    findings: List[Finding] = [
        Finding("reader_warning", WARNING, message) for message in corpora.warnings
    ]
    labels = {}
    for task in (TASK_CATS, TASK_ENTS):
        if task in heads:
            if task == TASK_CATS:
                findings += category_findings(corpora.sources, multi)
            findings += label_findings(train, dev, task, rare)
            labels[task] = label_table(train, dev, task)
    findings += span_findings(corpora.sources)
    findings += conflict_findings(corpora.sources)
    findings += overlap_findings(corpora.sources)
    findings += share_findings(train)
    findings += teacher_findings(nlp, train)
    return {
        "heads": heads,
        "multi_label": multi,
        "rare_below": rare,
        "sources": source_summary(corpora),
        "labels": labels,
        "findings": findings,
        "errors": sum(f.level == ERROR for f in findings),
    }


def debug_data(
    config_path: Path,
    overrides: Dict[str, Any],
    rare: int = 20,
    *,
    output: Optional[Path] = None,
) -> Dict[str, Any]:
    """Read the corpora of a training config and check them (see run_checks).

    config_path (Path): The training config.
    overrides (Dict[str, Any]): Config overrides.
    rare (int): Labels with fewer training examples are rare (0 or more; 0 reports none).
    output (Optional[Path]): Where the caller will write the report: refused before any
        corpus is read when it is the config or a corpus file (DebugDataError).
    RETURNS (Dict[str, Any]): See run_checks.
    """
    return run_checks(read_corpora(config_path, overrides, output=output), rare)
