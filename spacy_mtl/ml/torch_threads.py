"""One torch thread in a forked worker, so `nlp.pipe(n_process=N)` cannot hang.

spaCy's `n_process` forks workers on Linux. Once the parent has run torch on
more than one thread, its OpenMP thread pool exists; a forked child inherits
the pool's state but not its threads, and the first parallel torch operation
in the child (a BiLSTM encoder, a transformer) waits for them forever. The
workers are the parallelism there, so each takes one torch thread, set at fork
time in the child only: the parent's setting is never touched.
"""

import os

import torch

_registered = False


def _one_thread_in_child() -> None:
    torch.set_num_threads(1)


def use_one_torch_thread_in_forked_children() -> None:
    """Register, once per process, the fork handler giving each forked child one torch thread."""
    global _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_one_thread_in_child)
        _registered = True
