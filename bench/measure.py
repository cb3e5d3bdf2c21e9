"""Small helpers shared by the benchmarks: timing, percentiles, process memory."""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

import psutil


@contextmanager
def stopwatch():
    box = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    ordered = sorted(samples)
    def pick(q):
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {pick(0.95):.1f} ms, max {ordered[-1] * 1000:.1f} ms"


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
