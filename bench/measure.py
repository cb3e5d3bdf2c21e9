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


def rss_mb(pids: dict[str, int], prefix: str) -> float:
    """Resident memory of the named processes and their children, in MiB."""
    total = 0
    for name, pid in pids.items():
        if not name.startswith(prefix):
            continue
        try:
            process = psutil.Process(pid)
            total += sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])
        except psutil.NoSuchProcess:
            pass
    return total / 2**20
