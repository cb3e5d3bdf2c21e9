"""However the demo or a stack is stopped, nothing it started is left running.

Each process of a stack runs in a session of its own, so a ``kill``, ``timeout`` or service
manager that stopped the demo used to leave Redis, both sandboxes, gunicorn, four Celery
workers, beat and Flower running; a few stopped demos filled a machine. Each test starts a real
demo or stack as a subprocess, waits until it is up, stops it one way, and counts what is left.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from connector.config import CONCURRENCY_PREFIX
from connector.flows import QUEUES
from tests.support import default_stop_signals, eventually

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

UP_WITHIN = 50    # s: a stack starts in about 12 s on an idle 2-core machine
#: s: the demo runs fit, a backfill, a Fusion poll and a Shopify reconciliation before it serves, and
#: once took over 50 s beside the suite's two other xdist processes' stacks
DEMO_UP_WITHIN = 150
GONE_WITHIN = 30  # s: gunicorn's graceful timeout is 5 s, an idle worker's warm shutdown about 1 s
#: What a stack runs: Redis, two sandboxes, gunicorn's master and 2 workers, 4 Celery workers, beat, Flower.
STACK_PROCESSES = 12

DEMO = [sys.executable, "-m", "cli.main", "demo", "--orders", "0"]
#: A stack as the tests and the benchmarks hold one: started, then kept until it is stopped.
STACK = [sys.executable, "-c", """
import sys, time
from cli.stack import Stack
with Stack(sys.argv[1]) as stack:
    stack.wait_for_workers()
    print("stack is up", flush=True)
    while True:
        time.sleep(1)
""", "stack"]


class Run:
    """A demo or a stack in a directory of its own, its output in ``output.log`` there."""

    def __init__(self, directory: Path, argv: list[str], ready: str, env: dict[str, str]):
        self.directory, self.output = directory, directory / "output.log"
        embedded = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(argv, cwd=directory, stdout=output, stderr=subprocess.STDOUT,
                                            env=dict(embedded, COLUMNS="200", **env),
                                            preexec_fn=default_stop_signals)
        eventually(lambda: ready in self.text() or self.process.poll() is not None,
                   timeout=DEMO_UP_WITHIN if argv[:4] == DEMO[:4] else UP_WITHIN)
        if not (ready in self.text() and self.process.poll() is None):
            self.kill_what_is_left()  # the fixture never sees a run that did not start: nothing may outlive it
            raise AssertionError(self.text()[-3000:])

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """What of this run is alive: whatever works in its directory or names a path in it on its
        command line or in its environment (redis-server writes its title over its environment,
        but works in the directory)."""
        inside = str(self.directory) + os.sep
        found = []
        for process in psutil.process_iter():
            try:
                if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                    continue
                names = [process.cwd() + os.sep, *process.cmdline(), *process.environ().values()]
            except psutil.Error:  # ended meanwhile, or not ours to read
                continue
            if any(inside in name for name in names):
                found.append(process)
        return found

    def left(self) -> list[str]:
        """The command lines still running, once nothing is left or GONE_WITHIN has passed."""
        eventually(lambda: not self.processes(), timeout=GONE_WITHIN)
        left = []
        for process in self.processes():
            try:
                left.append(" ".join(process.cmdline()))
            except psutil.Error:
                pass
        return left

    def kill_what_is_left(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for process in self.processes():
            try:
                process.kill()
            except psutil.Error:
                pass


@pytest.fixture
def start(tmp_path):
    """Start a run; whatever a failing test leaves of it is killed afterwards."""
    runs = []

    def start_run(argv: list[str], ready: str, **env: str) -> Run:
        runs.append(Run(tmp_path, argv, ready, env))
        return runs[-1]
    yield start_run
    for run in runs:
        run.kill_what_is_left()


def test_sigterm_stops_the_demo_and_every_process_it_started(start):
    # Given a demo that is up and serving
    demo = start(DEMO, ready="Everything keeps running")
    assert len(demo.processes()) > STACK_PROCESSES  # the demo itself and what it started

    # When it gets SIGTERM, as from `kill`, `timeout` or a service manager
    demo.process.send_signal(signal.SIGTERM)

    # Then it stops as after Ctrl-C (exit code 0), and nothing it started is left
    assert demo.process.wait(timeout=GONE_WITHIN) == 0, demo.text()[-3000:]
    assert demo.left() == []


def test_sighup_stops_a_stack_and_every_process_it_started(start):
    # Given a stack that is up, held as the tests and the benchmarks hold one
    stack = start(STACK, ready="stack is up")
    assert len(stack.processes()) > STACK_PROCESSES

    # When its process gets SIGHUP, as when its terminal closes
    stack.process.send_signal(signal.SIGHUP)

    # Then it stops, and nothing it started is left
    stack.process.wait(timeout=GONE_WITHIN)
    assert stack.left() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_demo_leaves_nothing_running_and_its_workers_shut_down_warm(start, tmp_path):
    # Given a demo that is up, its workers running prefork pools (a child process per queue)
    demo = start(DEMO, ready="Everything keeps running", MLC_WORKER_POOL="prefork",
                 **{f"{CONCURRENCY_PREFIX}{queue.upper()}": "1" for queue in QUEUES})
    assert len(demo.processes()) > STACK_PROCESSES + len(QUEUES)

    # When it is SIGKILLed, so that no handler of its can stop anything
    demo.process.kill()
    demo.process.wait()

    # Then every process it started stops by itself, the workers as after a stop (warm shutdown)
    assert demo.left() == []
    logs = tmp_path / ".demo" / "logs"
    assert [queue for queue in QUEUES
            if "Warm shutdown" not in (logs / f"worker-{queue}.log").read_text(errors="replace")] == []
