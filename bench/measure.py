"""Small helpers shared by the benchmarks: timing, process memory."""
from __future__ import annotations

import time
from contextlib import contextmanager

import psutil


@contextmanager
def stopwatch():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def _each(pids: dict[str, int], prefix: str = ""):
    """(name, the process and its children) for each named process still running."""
    for name, pid in pids.items():
        if name.startswith(prefix):
            try:
                process = psutil.Process(pid)
                yield name, [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass


def rss_mb(pids: dict[str, int], prefix: str) -> float:
    """Resident memory of the named processes and their children, in MiB."""
    return sum(p.memory_info().rss for _, tree in _each(pids, prefix) for p in tree) / 2**20


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each named process and its children have used so far."""
    return {name: sum(sum(p.cpu_times()[:2]) for p in tree) for name, tree in _each(pids)}
