"""Beat is one logical scheduler: a second beat process waits on the RedBeat lock."""
from __future__ import annotations

import re
import subprocess
import time


def sweeps(stack) -> int:
    log = (stack.logs / "worker-fusion_poll.log").read_text(errors="replace")
    return len(re.findall(r"Task mlc\.inbox\.sweep\[[^\]]+\] received", log))


def test_given_a_second_beat_then_the_sweep_still_fires_once_per_interval(stack):
    interval = 2.0  # MLC_INBOX_SWEEP_INTERVAL in the test stack
    second = subprocess.Popen([stack.celery_command(), "-A", "workers.app", "beat", "--loglevel", "INFO",
                               "--schedule", str(stack.workdir / "beat-schedule-2")], env=stack.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # let it start and find the lock taken
        before, started = sweeps(stack), time.monotonic()
        time.sleep(12)
        fired, elapsed = sweeps(stack) - before, time.monotonic() - started
    finally:
        second.terminate()
        second.wait(timeout=10)

    assert 1 <= fired <= elapsed / interval + 2, f"{fired} sweeps in {elapsed:.0f}s"
