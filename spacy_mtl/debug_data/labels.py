"""Label checks per task: category values, counts, rare labels, dev labels unseen in training,
training labels absent from dev, and class imbalance. Each task counts only documents
annotated for it; a document's intents are its categories at 0.5 or more."""

import math
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


def gold_labels(eg: Example, task: str) -> List[str]:
    """The labels a document is annotated with for a task: its positive categories (0.5 or
    more; NaN is none) or its slot types. A document with no positive category counts under
    no label: category_findings reports it."""
    ref = eg.reference
    if task == TASK_CATS:
        return [label for label, value in ref.cats.items() if value >= 0.5]
    return [ent.label_ for ent in gold_ents(ref)] if has_ents(ref) else []


def count_labels(sources: Sequence[SourceData], task: str) -> Counter:
    counts: Counter = Counter()
    for source in sources:
        for eg in source.examples:
            counts.update(gold_labels(eg, task))
    return counts


def category_findings(sources: Sequence[SourceData], multi: bool) -> List[Finding]:
    """Documents whose categories training refuses: a value that is not a number in [0, 1]
    (NaN, inf, 2.0) and, for exclusive classes, a number of positive categories other than
    one (all 0.0 or NaN, or two at 1.0), which evaluate, calibrate and update refuse too."""
    bad_values, not_one = [], []
    for s in sources:
        for i, eg in enumerate(s.examples):
            cats = eg.reference.cats
            if not cats:
                continue
            odd = [f"{k}={v!r}" for k, v in cats.items() if not (math.isfinite(v) and 0 <= v <= 1)]
            if odd:
                bad_values.append((s, i, eg, ", ".join(odd)))
            positives = [k for k, v in cats.items() if v >= 0.5]
            if not multi and len(positives) != 1:
                not_one.append((s, i, eg, f"{len(positives)} positive: {positives}"))
    found = []
    if bad_values:
        found.append(
            _category_finding(
                "category_values",
                bad_values,
                "have category values that are not numbers from 0 to 1 (NaN is not a "
                "category value; a judged category is 1.0 or 0.0, an unjudged one is left "
                "out). Fix their categories",
            )
        )
    if not_one:
        found.append(
            _category_finding(
                "not_one_positive",
                not_one,
                "do not have exactly one positive category, which exclusive classes need "
                "(all 0.0 or NaN: no intent; two at 1.0: two intents); they count under no "
                "label above, and training, evaluate, calibrate and update refuse them. Give "
                "each one intent at 1.0, or set exclusive_classes = false for multi-label data",
            )
        )
    return found


def _category_finding(check: str, bad: list, advice: str) -> Finding:
    by_file: Dict[str, List[int]] = {}
    for s, i, _, _ in bad:
        by_file.setdefault(f"{s.corpus}/{s.name} ({s.path})", []).append(i)
    where = "; ".join(
        f"{name} documents {', '.join(map(str, shown[:10]))}"
        + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")
        for name, shown in by_file.items()
    )
    docs = [DocRef(s.corpus, s.name, i, eg.reference.text, detail) for s, i, eg, detail in bad]
    return Finding(
        check,
        ERROR,
        f"{len(bad)} documents {advice}: {where}.",
        TASK_CATS,
        docs,
        {"documents": {name: shown for name, shown in by_file.items()}},
    )


def annotated(sources: Sequence[SourceData], task: str) -> int:
    check = has_cats if task == TASK_CATS else has_ents
    return sum(check(eg.reference) for source in sources for eg in source.examples)


def label_findings(
    train: Sequence[SourceData], dev: Sequence[SourceData], task: str, rare: int
) -> List[Finding]:
    """Rare, unseen, absent labels and imbalance for one task."""
    title = TASK_TITLES[task]
    train_counts, dev_counts = count_labels(train, task), count_labels(dev, task)
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
        found.append(_unseen(dev, task, unseen, dev_counts))
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


def _unseen(dev, task, unseen, dev_counts) -> Finding:
    docs = [
        DocRef("dev", s.name, i, eg.reference.text, ", ".join(set(unseen) & set(labels)))
        for s in dev
        for i, eg in enumerate(s.examples)
        for labels in [gold_labels(eg, task)]
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
    train: Sequence[SourceData], dev: Sequence[SourceData], task: str
) -> Dict[str, Dict[str, int]]:
    """Per label: its count in the training and in the dev corpus."""
    train_counts, dev_counts = count_labels(train, task), count_labels(dev, task)
    labels = sorted(set(train_counts) | set(dev_counts), key=lambda k: (-train_counts[k], k))
    return {k: {"train": train_counts[k], "dev": dev_counts[k]} for k in labels}
