"""Worker processes that live and die with their annotate run.

spaCy's nlp.pipe(n_process=N) forks its workers with multiprocessing. Left
alone, a worker outlives a parent killed with SIGKILL or SIGTERM (it is
adopted by PID 1 and holds its memory), and Ctrl-C, sent to the whole process
group, prints a traceback from every worker. While `workers_die_with_parent`
is active, every child forked by this process asks the kernel (Linux's
PR_SET_PDEATHSIG) to be killed when its parent dies, and leaves Ctrl-C to
the parent, which stops its workers itself.
"""

import contextlib
import ctypes
import os
import signal
import sys
from typing import Iterator, Optional

_PR_SET_PDEATHSIG = 1
_parent: Optional[int] = None
_registered = False


@contextlib.contextmanager
def workers_die_with_parent() -> Iterator[None]:
    """While the block runs, children forked by this process die with it (see the module)."""
    global _parent, _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_child)
        _registered = True
    _parent = os.getpid()
    try:
        yield
    finally:
        _parent = None


def _in_child() -> None:
    global _parent
    parent, _parent = _parent, None  # a worker's own children are its business
    if parent is None:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent died before the death signal was asked for: the signal will never come.
    if os.getppid() != parent:
        os._exit(1)
