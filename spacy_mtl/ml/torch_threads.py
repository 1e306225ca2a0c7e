"""One torch thread in a forked worker, so `nlp.pipe(n_process=N)` cannot hang.

spaCy's `n_process` forks workers on Linux. Once the parent has run torch on
more than one thread, its OpenMP thread pool exists; a forked child inherits
the pool's state but not its threads, and the first parallel torch operation
in the child (a BiLSTM encoder, a transformer) waits for them forever. The
workers are the parallelism there, so each takes one torch thread, set at fork
time in the child only: the parent's setting is never touched. The handler is
registered once, when spacy_mtl/pipeline/encoder.py is imported: the shared encoder
is what runs torch in a worker.

Training sets the parent's threads only where a config says so, through the
`spacy_mtl.torch_threads.v1` callback below.
"""

import os
from typing import Any, Callable

import torch
from spacy.util import registry

_registered = False


def _one_thread_in_child() -> None:
    torch.set_num_threads(1)


def use_one_torch_thread_in_forked_children() -> None:
    """Register, once per process, the fork handler giving each forked child one torch thread."""
    global _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_one_thread_in_child)
        _registered = True


@registry.callbacks("spacy_mtl.torch_threads.v1")
def make_torch_threads(threads: int = 1) -> Callable[[Any], Any]:
    """A `[initialize.before_init]` callback: torch's intra-op threads for training, said aloud.

    torch's thread pool parallelises each operation of a torch encoder (the BiLSTM) over a
    batch of short sentences, and its threads spin while they wait: next to other busy
    processes they take CPU from them and from each other (benchmarks/reports/training_cost.md).
    The configs that train a torch encoder on the CPU name this callback, so the setting
    is in the config a user reads and can change (`--initialize.before_init.threads 4`,
    or `--initialize.before_init null` for torch's default). It runs where [initialize]
    runs, in `spacy train` and `nlp.initialize`, never in `spacy.load`, and, like any
    torch.set_num_threads, for the whole process from then on.

    threads (int): The number of intra-op threads, at least 1.
    """
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(
            f"[initialize.before_init] threads must be a whole number >= 1, got {threads!r}."
        )

    def set_torch_threads(nlp: Any) -> Any:
        torch.set_num_threads(threads)
        return nlp

    return set_torch_threads
