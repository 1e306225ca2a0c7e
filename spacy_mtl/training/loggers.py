"""A training logger that shows whether the tasks help or fight each other.

spaCy's console table shows losses and scores. At each evaluation this logger
adds one line per shared encoder: each task's gradient norm into the encoder,
the cosine between the tasks' gradients (negative: they pull the shared
weights apart), and learned task weights where the balancer has them. All are
means over the steps since the previous evaluation.
"""

import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional, Tuple, Union

import srsly
from spacy.language import Language
from spacy.util import registry

LogStep = Callable[[Optional[Dict[str, Any]]], None]


def format_gradient_stats(stats: Dict[str, float]) -> str:
    """One readable line of `SharedTok2Vec.pop_gradient_stats()` output."""
    parts = []
    for prefix, title in (
        ("grad_norm_", "|grad|"),
        ("grad_cos_", "cos"),
        ("loss_weight_", "weight"),
    ):
        items = [
            (key[len(prefix) :], value)
            for key, value in sorted(stats.items())
            if key.startswith(prefix)
        ]
        if items:
            parts.append(f"{title} " + " ".join(f"{name} {value:.3g}" for name, value in items))
    return "  ".join(parts)


@registry.loggers("spacy_mtl.ConsoleLogger.v1")
def make_console_logger(
    progress_bar: Optional[str] = None,
    console_output: bool = True,
    output_file: Optional[Union[str, Path]] = None,
    diagnostics_file: Optional[Union[str, Path]] = None,
) -> Callable[[Language, IO, IO], Tuple[LogStep, Callable[[], None]]]:
    """spaCy's console logger plus per-task gradient diagnostics at each evaluation.

    progress_bar (Optional[str]): "train", "eval" or None, as in spacy.ConsoleLogger.v3.
    console_output (bool): Print the table and the diagnostics.
    output_file (Optional[Union[str, Path]]): spaCy's JSONL log of losses and scores.
    diagnostics_file (Optional[Union[str, Path]]): A JSONL file of the diagnostics, one
        record per evaluation: {"step", "encoder", "stats"}.
    """
    base = registry.loggers.get("spacy.ConsoleLogger.v3")(
        progress_bar=progress_bar, console_output=console_output, output_file=output_file
    )

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        log_step, finalize = base(nlp, stdout, stderr)
        encoders = [
            (name, proc) for name, proc in nlp.pipeline if hasattr(proc, "pop_gradient_stats")
        ]
        records = open(diagnostics_file, "w", encoding="utf-8") if diagnostics_file else None

        def log_with_diagnostics(info: Optional[Dict[str, Any]]) -> None:
            log_step(info)
            if info is None:
                return
            for name, encoder in encoders:
                stats = encoder.pop_gradient_stats()
                if console_output and stats:
                    stdout.write(f"  {name}: {format_gradient_stats(stats)}\n")
                if records is not None:
                    records.write(
                        srsly.json_dumps({"step": info["step"], "encoder": name, "stats": stats})
                        + "\n"
                    )
                    records.flush()

        def finalize_all() -> None:
            finalize()
            if records is not None:
                records.close()

        return log_with_diagnostics, finalize_all

    return setup
