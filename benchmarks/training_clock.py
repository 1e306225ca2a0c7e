"""A `[training.before_update]` callback that records when each step starts, for the cost benchmark.

Loaded by `spacy train --code benchmarks/training_clock.py` and named on the command line:
`--training.before_update '{"@callbacks":"spacy_mtl_bench.clock.v1","path":"clock.json"}'`.
Writes the wall time (time.time(), comparable with the parent's launch time) and the process's
CPU time (every thread) at step 0, that is, once initialization is done, and at every later step.
"""

import json
import os
import time
from typing import Any, Callable, Dict

from spacy.util import registry


@registry.callbacks("spacy_mtl_bench.clock.v1")
def make_clock(path: str) -> Callable[[Any, Dict[str, Any]], None]:
    marks = []

    def clock(nlp: Any, info: Dict[str, Any]) -> None:
        marks.append((info["step"], time.time(), time.process_time()))
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(marks, file)
        os.replace(tmp, path)

    return clock
