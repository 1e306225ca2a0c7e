"""The worker: one evaluation or speed job, in its own process against the code snapshot.

The runner starts it as `run_benchmarks.py --worker KIND --job JSON`, with the snapshot first on
PYTHONPATH and as working directory, so that the pipelines are loaded and timed with the code
that trained them, and each job's memory and speed are measured apart from the orchestrator's.
"""

import math
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .helpers import _write_json
from .systems import CATS, ENTS, JOINT, SPEED_SHARED


def run_worker(kind: str, job: Dict[str, Any]) -> int:
    if kind == "evaluate":
        result = evaluate_job(job)
    else:
        result = speed_job(job)
    _write_json(Path(job["output"]), result)
    return 0


class GivenTokens:
    """A tokenizer splitting a line on blanks: the datasets' own tokens, as the converter reads."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str):
        from spacy.tokens import Doc

        words = [w for w in re.split(r"[ \t]+", text.strip(" \t")) if w]
        return Doc(self.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])


def load_pipeline(path: str, encoder_only: bool = False):
    """A trained pipeline reading the datasets' own tokens; encoder_only disables its heads."""
    import spacy

    nlp = spacy.load(path)
    if encoder_only:
        encoders = [name for name, proc in nlp.pipeline if hasattr(proc, "pop_gradient_stats")]
        nlp.select_pipes(enable=encoders)
    nlp.tokenizer = GivenTokens(nlp.vocab)
    return nlp


def read_test(test_dir: str) -> Tuple[List[str], List[str], List[set]]:
    """The test split: texts (the given tokens joined by spaces), gold intents, gold span sets."""
    from spacy_mtl.convert import read_joint

    docs = read_joint(test_dir)
    texts = [" ".join(t.text for t in doc) for doc in docs]
    intents = [max(doc.cats, key=doc.cats.get) for doc in docs]
    spans = [{(e.start, e.end, e.label_) for e in doc.ents} for doc in docs]
    return texts, intents, spans


def predict(
    nlps: Dict[str, Any], texts: Sequence[str], batch_size: int
) -> Tuple[List[str], List[set]]:
    """Intents and span sets, from one joint pipeline or a textcat and an ner pipeline."""
    intents: List[Optional[str]] = []
    spans: List[set] = []
    cats_nlp = nlps.get(JOINT) or nlps[CATS]
    ents_nlp = nlps.get(JOINT) or nlps[ENTS]
    for doc in cats_nlp.pipe(texts, batch_size=batch_size):
        intents.append(max(doc.cats, key=doc.cats.get) if doc.cats else None)
        if ents_nlp is cats_nlp:
            spans.append({(e.start, e.end, e.label_) for e in doc.ents})
    if ents_nlp is not cats_nlp:
        spans = [
            {(e.start, e.end, e.label_) for e in doc.ents}
            for doc in ents_nlp.pipe(texts, batch_size=batch_size)
        ]
    return intents, spans


def score(gold_intents, gold_spans, pred_intents, pred_spans) -> Dict[str, float]:
    """Intent accuracy, micro slot P/R/F1 over exact spans, sentence accuracy (percentages)."""
    n = len(gold_intents)
    intent_ok = [g == p for g, p in zip(gold_intents, pred_intents)]
    tp = sum(len(g & p) for g, p in zip(gold_spans, pred_spans))
    n_pred = sum(len(p) for p in pred_spans)
    n_gold = sum(len(g) for g in gold_spans)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    sentence = sum(ok and g == p for ok, g, p in zip(intent_ok, gold_spans, pred_spans))
    return {
        "intent_acc": 100.0 * sum(intent_ok) / n,
        "slot_p": 100.0 * precision,
        "slot_r": 100.0 * recall,
        "slot_f1": 100.0 * f1,
        "sentence_acc": 100.0 * sentence / n,
    }


def time_pipelines(
    nlps: Sequence[Any], texts: Sequence[str], n_process: int, batch_size: int
) -> float:
    """Seconds to run the pipelines one after the other over the texts."""
    start = time.perf_counter()
    for nlp in nlps:
        for _ in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
            pass
    return time.perf_counter() - start


def repeats_for(nlps: Sequence[Any], texts: Sequence[str], seconds: float, batch_size: int) -> int:
    """How many copies of the texts make `seconds` of single-process work (after a warm-up)."""
    time_pipelines(nlps, texts[:batch_size], 1, batch_size)
    once = time_pipelines(nlps, texts, 1, batch_size)
    return max(1, math.ceil(seconds / max(once, 1e-6)))


def words_per_second(nlps, texts, n_words, n_process, batch_size) -> Optional[float]:
    try:
        return n_words / time_pipelines(nlps, texts, n_process, batch_size)
    except Exception as err:  # a pipeline that cannot fork is reported, not fatal
        print(f"n_process={n_process} failed: {err!r}", file=sys.stderr)
        return None


def evaluate_job(job: Dict[str, Any]) -> Dict[str, Any]:
    """Score one system on the test split and measure its inference speed."""
    import resource

    import spacy_mtl

    nlps = {task: load_pipeline(path) for task, path in job["models"].items()}
    texts, gold_intents, gold_spans = read_test(job["test_dir"])
    batch_size = job["batch_size"]
    pred_intents, pred_spans = predict(nlps, texts, batch_size)
    metrics = score(gold_intents, gold_spans, pred_intents, pred_spans)
    known = set()
    for nlp in nlps.values():
        for name, proc in nlp.pipeline:
            if hasattr(proc, "labels") and name in ("textcat",):
                known.update(proc.labels)
    pipes = list(nlps.values())
    reps = repeats_for(pipes, texts, job["speed_seconds"], batch_size)
    work = list(texts) * reps
    n_words = sum(len(t.split()) for t in work)
    speed = {
        "repeats": reps,
        "words": n_words,
        "wps_1": words_per_second(pipes, work, n_words, 1, batch_size),
        "wps_2": words_per_second(pipes, work, n_words, 2, batch_size),
    }
    return {
        "metrics": metrics,
        "n_docs": len(texts),
        "n_words": sum(len(t.split()) for t in texts),
        "n_gold_spans": sum(len(s) for s in gold_spans),
        "test_intents_unseen": sum(1 for g in gold_intents if known and g not in known),
        "speed": speed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "spacy_mtl": spacy_mtl.__file__,
    }


def speed_job(job: Dict[str, Any]) -> Dict[str, Any]:
    """Words per second of each pipeline set, in interleaved rounds under the same load."""
    texts, _, _ = read_test(job["test_dir"])
    batch_size = job["batch_size"]
    systems = {
        name: [
            load_pipeline(path, encoder_only=name in job.get("encoder_only", []))
            for path in models.values()
        ]
        for name, models in job["pipelines"].items()
    }
    reps = repeats_for(systems[SPEED_SHARED], texts, job["speed_seconds"], batch_size)
    work = list(texts) * reps
    n_words = sum(len(t.split()) for t in work)
    for nlps in systems.values():  # warm-up
        time_pipelines(nlps, texts[:batch_size], 1, batch_size)
    rounds = []
    for _ in range(job["rounds"]):
        rounds.append(
            {
                name: {
                    f"wps_{n}": words_per_second(nlps, work, n_words, n, batch_size) for n in (1, 2)
                }
                for name, nlps in systems.items()
            }
        )
    ratios = {}
    for other in systems:
        if other == SPEED_SHARED:
            continue
        for n in (1, 2):
            values = [
                r[SPEED_SHARED][f"wps_{n}"] / r[other][f"wps_{n}"]
                for r in rounds
                if r[SPEED_SHARED][f"wps_{n}"] and r[other][f"wps_{n}"]
            ]
            if values:
                ratios[f"{SPEED_SHARED}/{other}/n{n}"] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                }
    return {"repeats": reps, "words": n_words, "rounds": rounds, "ratios": ratios}
