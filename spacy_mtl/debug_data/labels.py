"""Label checks per task: counts, rare labels, dev labels unseen in training, training labels
absent from dev, and class imbalance. Each task counts only documents annotated for it."""

from collections import Counter
from typing import Dict, List, Sequence

from spacy.training import Example

from ..annotation import TASK_CATS, TASK_ENTS, has_cats, has_ents
from .corpora import SourceData
from .findings import ERROR, INFO, WARNING, DocRef, Finding
from .spans import gold_ents

TASK_TITLES = {TASK_CATS: "intents", TASK_ENTS: "slots"}
# A largest/smallest class ratio above this is worth a warning.
IMBALANCE_WARN = 50


def gold_labels(eg: Example, task: str, multi_label: bool) -> List[str]:
    """The labels a document is annotated with for a task: its intent(s) or its slot types."""
    ref = eg.reference
    if task == TASK_CATS:
        if not has_cats(ref):
            return []
        if multi_label:
            return [label for label, value in ref.cats.items() if value >= 0.5]
        return [max(ref.cats, key=ref.cats.get)]
    return [ent.label_ for ent in gold_ents(ref)] if has_ents(ref) else []


def count_labels(sources: Sequence[SourceData], task: str, multi_label: bool) -> Counter:
    counts: Counter = Counter()
    for source in sources:
        for eg in source.examples:
            counts.update(gold_labels(eg, task, multi_label))
    return counts


def annotated(sources: Sequence[SourceData], task: str) -> int:
    check = has_cats if task == TASK_CATS else has_ents
    return sum(check(eg.reference) for source in sources for eg in source.examples)


def label_findings(
    train: Sequence[SourceData], dev: Sequence[SourceData], task: str, multi: bool, rare: int
) -> List[Finding]:
    """Rare, unseen, absent labels and imbalance for one task."""
    title = TASK_TITLES[task]
    train_counts, dev_counts = count_labels(train, task, multi), count_labels(dev, task, multi)
    found = []
    rare_labels = {k: n for k, n in sorted(train_counts.items(), key=lambda x: x[1]) if n < rare}
    if rare_labels:
        listed = ", ".join(f"{k} ({n})" for k, n in rare_labels.items())
        found.append(
            Finding(
                "rare_labels",
                WARNING,
                f"{len(rare_labels)} {title} have fewer than {rare} training examples: {listed}.",
                task,
                data={"labels": rare_labels},
            )
        )
    unseen = sorted(set(dev_counts) - set(train_counts))
    if unseen and annotated(dev, task):
        found.append(_unseen(dev, task, multi, unseen, dev_counts))
    absent = sorted(set(train_counts) - set(dev_counts))
    if absent and annotated(dev, task):
        found.append(
            Finding(
                "absent_from_dev",
                WARNING,
                f"{len(absent)} training {title} never occur in the dev corpus, so the dev "
                f"scores say nothing about them: {', '.join(absent)}.",
                task,
                data={"labels": absent},
            )
        )
    found += _imbalance(train_counts, task)
    return found


def _unseen(dev, task, multi, unseen, dev_counts) -> Finding:
    docs = [
        DocRef("dev", s.name, i, eg.reference.text, ", ".join(set(unseen) & set(labels)))
        for s in dev
        for i, eg in enumerate(s.examples)
        for labels in [gold_labels(eg, task, multi)]
        if set(unseen) & set(labels)
    ]
    listed = ", ".join(f"{label} ({dev_counts[label]})" for label in unseen)
    return Finding(
        "unseen_dev_labels",
        ERROR,
        f"{len(unseen)} dev {TASK_TITLES[task]} never occur in training: {listed}. They cannot "
        f"be predicted, so the {len(docs)} dev documents carrying them count as errors. Add "
        "training examples, or relabel them.",
        task,
        docs,
        {"labels": {label: dev_counts[label] for label in unseen}},
    )


def _imbalance(counts: Counter, task: str) -> List[Finding]:
    if len(counts) < 2:
        return []
    (top, most), (bottom, least) = counts.most_common()[0], counts.most_common()[-1]
    ratio = most / least
    level = WARNING if ratio > IMBALANCE_WARN else INFO
    advice = (
        '; consider class_weights = "balanced" on mtl_textcat'
        if task == TASK_CATS and level == WARNING
        else ""
    )
    return [
        Finding(
            "imbalance",
            level,
            f"Class imbalance of the training {TASK_TITLES[task]}: {ratio:.1f} "
            f"(largest {top}: {most}, smallest {bottom}: {least}){advice}.",
            task,
            data={"ratio": ratio, "largest": [top, most], "smallest": [bottom, least]},
        )
    ]


def label_table(
    train: Sequence[SourceData], dev: Sequence[SourceData], task: str, multi: bool
) -> Dict[str, Dict[str, int]]:
    """Per label: its count in the training and in the dev corpus."""
    train_counts, dev_counts = count_labels(train, task, multi), count_labels(dev, task, multi)
    labels = sorted(set(train_counts) | set(dev_counts), key=lambda k: (-train_counts[k], k))
    return {k: {"train": train_counts[k], "dev": dev_counts[k]} for k in labels}
