"""Processes that end with the process that started them, however it ends.

A stack's processes run in sessions of their own, so that Ctrl-C in a terminal reaches the
parent alone and the parent stops them in order (``Stack.stop``). That isolation is also why a
``kill``, ``timeout`` or service manager that stopped the parent left every one of them running:
nothing else ever stops them. Two things close that:

- while a stack runs, SIGTERM and SIGHUP are Ctrl-C (``hold_signals``): the parent raises
  ``KeyboardInterrupt`` and leaves through the same ``finally: stack.stop()``;
- each process asks the kernel for SIGTERM when its parent dies (``spawn``; Linux's
  ``PR_SET_PDEATHSIG``), which covers what no handler sees: SIGKILL, a crash, the OOM killer.
  SIGTERM, not SIGKILL, so that a Celery worker still shuts down warm (its prefork children get
  SIGKILL from it by the same mechanism) and gunicorn's master stops its own workers. Elsewhere
  the request is skipped and only the handlers remain.
"""
from __future__ import annotations

import ctypes
import functools
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

#: Ctrl-C, and what ``kill``, ``timeout`` and service managers (SIGTERM) or a closed terminal
#: (SIGHUP) send.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _load_prctl():
    """libc's prctl, looked up before any fork: the child must not load anything."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()


def _die_with_parent(parent: int) -> None:
    """Runs in the child between fork and exec (the setting survives exec, not fork)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made: no signal will come
        os._exit(1)


def spawn(argv: list[str], **popen_kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` in a session of its own, ended by SIGTERM when this process dies.

    The kernel sends that signal when the *thread* that forked the child ends, not the process:
    a call from any thread but the main one (which lives as long as the process) is handed to a
    spawner thread that does too, so a child does not die with a helper thread of the parent.
    """
    popen_kwargs.setdefault("start_new_session", True)
    if _prctl is not None:
        popen_kwargs["preexec_fn"] = functools.partial(_die_with_parent, os.getpid())
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(argv, **popen_kwargs)
    return _in_spawner_thread(functools.partial(subprocess.Popen, argv, **popen_kwargs))


_spawner_lock = threading.Lock()
_spawner_calls: queue.SimpleQueue | None = None


def _in_spawner_thread(call):
    global _spawner_calls
    with _spawner_lock:
        if _spawner_calls is None:
            _spawner_calls = queue.SimpleQueue()
            threading.Thread(target=_serve_spawns, args=(_spawner_calls,), name="mlc-spawner", daemon=True).start()
    future: Future = Future()
    _spawner_calls.put((call, future))
    return future.result()


def _serve_spawns(calls: queue.SimpleQueue) -> None:
    while True:
        call, future = calls.get()
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            future.set_exception(exc)


# -- stop signals ---------------------------------------------------------------------------------

_holders = 0                  # stacks running that asked for the handlers
_previous: dict[int, object] = {}
_stopping = 0                 # stops under way
_pending: list[int] = []      # stop signals that came during one


def _interrupt(signum: int, frame) -> None:
    if _stopping:  # a stop is bounded (SIGTERM, then SIGKILL): cutting it short would leak the rest
        _pending.append(signum)
        return
    _raise(signum)


def _raise(signum: int):
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise KeyboardInterrupt(signal.Signals(signum).name)


def hold_signals() -> bool:
    """From now until ``release_signals``, SIGTERM and SIGHUP do what Ctrl-C does. A signal set to
    be ignored (``nohup`` ignores SIGHUP, ``&`` in a script SIGINT) or handled by someone else is
    left alone. Only the main thread can set handlers (and gets ``KeyboardInterrupt``): False
    from any other, and nothing changes."""
    global _holders
    if threading.current_thread() is not threading.main_thread():
        return False
    if not _holders:
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
                _previous[signum] = signal.signal(signum, _interrupt)
    _holders += 1
    return True


def release_signals() -> None:
    """The handlers as they were, once the last stack that held them has stopped."""
    global _holders
    _holders -= 1
    if not _holders:
        for signum, handler in _previous.items():
            signal.signal(signum, handler)
        _previous.clear()


@contextmanager
def stopping() -> Iterator[None]:
    """A stop signal during the block waits for its end, then is raised as it would have been."""
    global _stopping
    _stopping += 1
    try:
        yield
    finally:
        _stopping -= 1
        if not _stopping and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise(signum)
