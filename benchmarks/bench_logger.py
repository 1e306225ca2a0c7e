"""The training logger of the benchmarks: spaCy's console table plus every dev score as JSONL.

spaCy's `spacy.ConsoleLogger.v2` can write a JSONL file, but only of the scores named in
`[training.score_weights]`. The benchmark wants every task's dev score over the steps, and
the names differ between the stock components (`cats_micro_f`) and spacy_mtl's (`cats_acc`,
`joint_sentence_acc`), so this logger records all numeric scores, the losses, spaCy's own
clock and word count, and, for spacy_mtl's shared encoder, its per-task gradient norms and
cosines. `run_benchmarks.py` loads it with `spacy train --code benchmarks/bench_logger.py`.
"""

import json
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Tuple

from spacy.language import Language
from spacy.util import registry


@registry.loggers("spacy_mtl_benchmarks.ScoresLogger.v1")
def make_scores_logger(path: str, console_output: bool = True) -> Callable:
    """Log to the console as `spacy.ConsoleLogger.v2` does, and each evaluation to JSONL.

    path (str): The JSONL file to write, one object per evaluation.
    console_output (bool): Whether to print spaCy's usual table as well.
    """
    console = registry.loggers.get("spacy.ConsoleLogger.v2")(
        progress_bar=False, console_output=console_output
    )

    def setup(
        nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr
    ) -> Tuple[Callable[[Optional[Dict[str, Any]]], None], Callable[[], None]]:
        log_console, finalize_console = console(nlp, stdout, stderr)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "w", encoding="utf8")
        start = time.perf_counter()
        encoders = [proc for _, proc in nlp.pipeline if hasattr(proc, "pop_gradient_stats")]
        stream.write(json.dumps({"event": "start", "modules": _module_files()}) + "\n")

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            log_console(info)
            if info is None:
                return
            record = {
                "event": "eval",
                "step": info["step"],
                "epoch": info["epoch"],
                "score": float(info["score"]),
                "seconds": time.perf_counter() - start,
                "words": info.get("words"),
                "losses": {name: float(value) for name, value in info["losses"].items()},
                "scores": _numeric(info["other_scores"]),
            }
            for encoder in encoders:
                record.setdefault("encoder", {}).update(encoder.pop_gradient_stats())
            stream.write(json.dumps(record) + "\n")
            stream.flush()

        def finalize() -> None:
            finalize_console()
            stream.close()

        return log_step, finalize

    return setup


def _numeric(scores: Dict[str, Any]) -> Dict[str, float]:
    """The scalar scores (per-type tables and None dropped)."""
    return {
        key: float(value)
        for key, value in scores.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _module_files() -> Dict[str, Optional[str]]:
    """Where spacy and spacy_mtl were imported from, to check the code snapshot."""
    return {
        name: getattr(sys.modules.get(name), "__file__", None) for name in ("spacy", "spacy_mtl")
    }
