"""Peak resident memory of a command and of each process it starts (Linux /proc, no psutil).

`run_and_sample` runs a command and polls its process tree: each process's
peak RSS (VmHWM, kept by the kernel) is read while the process lives, so the
peaks of short-lived workers are caught as long as they live longer than the
polling interval.
"""

import os
import subprocess
import threading
import time
from typing import Dict, List, Tuple


def _children() -> Dict[int, List[int]]:
    tree: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _descendants(pid: int) -> List[int]:
    tree = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (0.0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _peak_kib(pid: int) -> Tuple[int, str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            status = handle.read()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return 0, ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]), cmdline
    return 0, cmdline


def run_and_sample(
    cmd: List[str], interval: float = 0.2, **kwargs
) -> Tuple[subprocess.CompletedProcess, float, Dict[int, Tuple[float, str]]]:
    """Run a command; return its result, wall seconds and {pid: (peak MiB, cmdline)}.

    The CPU seconds of each process, as last seen (up to `interval` short of its
    end), are in `run_and_sample.cpu` afterwards: {pid: seconds}. On a shared
    machine CPU seconds per word, unlike wall time, barely depend on the load.

    cmd (List[str]): The command.
    interval (float): Seconds between polls of the process tree.
    RETURNS: (completed process, wall seconds, peak MiB and command line per process).
    """
    peaks: Dict[int, Tuple[float, str]] = {}
    cpu: Dict[int, float] = {}
    run_and_sample.cpu = cpu
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in _descendants(proc.pid):
                kib, cmdline = _peak_kib(pid)
                cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
                if kib and kib / 1024 > peaks.get(pid, (0.0, ""))[0]:
                    peaks[pid] = (kib / 1024, cmdline)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    thread.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), wall, peaks
