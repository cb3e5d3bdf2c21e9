"""``cli.lifecycle``: a stack's processes end with the process that started them.

``test_stack_lifecycle.py`` stops a real demo and a real stack; these are the pieces, one by one.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from cli import lifecycle
from tests.support import eventually

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

#: A parent that starts a child the way a stack does, says who it is, and waits.
PARENT = """
import time
from cli.lifecycle import spawn
child = spawn(["sleep", "60"])
print(child.pid, flush=True)
time.sleep(60)
"""


def ended(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@linux_only
def test_a_child_stops_by_itself_when_its_parent_is_killed():
    # Given a parent that started a child
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        # When the parent is SIGKILLed, so that no handler of its runs
        parent.kill()
        parent.wait()

        # Then the child stops too
        assert eventually(lambda: ended(child), timeout=10)
    finally:
        if not ended(child):
            child.kill()
        parent.stdout.close()


@linux_only
def test_a_child_started_from_a_helper_thread_outlives_the_thread():
    # Given a child started from a thread that has ended (the kernel's parent-death signal is tied
    # to the thread that forked, and fires as the thread exits, a little after join returns)
    children = []
    helper = threading.Thread(target=lambda: children.append(lifecycle.spawn(["sleep", "60"])))
    helper.start()
    helper.join()
    child = children[0]
    try:
        # When a moment has passed
        time.sleep(0.5)

        # Then the child still runs: it stops with the process, not with the thread
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_sigterm_during_a_stop_waits_for_the_stop_then_interrupts():
    # Given the stop signals held, as a running stack holds them
    before = signal.getsignal(signal.SIGTERM)
    assert lifecycle.hold_signals()
    assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)  # else SIGTERM ends pytest
    finished = False
    try:
        # When SIGTERM arrives while a stop is under way
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            with lifecycle.stopping():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)  # Python runs the handler between two bytecodes: here, at once
                finished = True

        # Then the stop finished first, and the signal interrupted as Ctrl-C does afterwards
        assert finished
    finally:
        lifecycle.release_signals()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_sighup_that_nohup_ignores_stays_ignored():
    # Given SIGHUP ignored, as `nohup ml-connector demo` starts it
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        # When a stack holds the stop signals and the terminal closes
        lifecycle.hold_signals()
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
        except KeyboardInterrupt:
            pytest.fail("SIGHUP stopped a stack started under nohup")
        finally:
            lifecycle.release_signals()

        # Then the signal is still ignored, and stays so afterwards
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
