"""One writer per Shopify object at a time, across every worker on every machine.

A Redis lock with a short time-to-live that a heartbeat thread keeps extending while the work
runs: a long Fusion call keeps its lock, and a worker that dies (killed, out of memory) frees the
object within ``ttl`` seconds instead of blocking it for the longest imaginable task. Before a
write that must not happen twice, callers check :meth:`ObjectLock.still_held`.

A thread that holds an object's lock already gets the same lock again (it is re-entrant within a
thread): an order's event holds the order from its invoice through its payments, and the invoice's
own create, made inside, does not let go of the order in between.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)
#: How often a waiter asks for a busy lock: the holder's work takes Fusion round trips (a few
#: hundred milliseconds each), so asking more often only spends the waiter's CPU on Redis.
POLL_SECONDS = 0.5
#: The object locks each thread holds, by key (the outermost holder releases them).
_held = threading.local()


class Busy(RuntimeError):
    """Another worker holds the object; try again once its lock can have expired."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class ObjectLock:
    def __init__(self, redis: Redis, key: str, ttl: float):
        self._lock = redis.lock(key, timeout=ttl, thread_local=False, sleep=POLL_SECONDS)
        self._ttl = ttl
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._heart = threading.Thread(target=self._beat, daemon=True, name=f"lock-heartbeat {key}")

    def _beat(self) -> None:
        extended = time.monotonic()
        while not self._stop.wait(self._ttl / 3):
            try:
                self._lock.reacquire()
                extended = time.monotonic()
            except LockError:  # expired, or taken by someone else
                self._give_up()
                return
            except RedisError:  # a blip: the lock is ours until it would have expired
                if time.monotonic() - extended >= self._ttl:
                    self._give_up()
                    return

    def _give_up(self) -> None:
        log.warning("lost the lock %s", self._lock.name)
        self._lost.set()

    def still_held(self) -> bool:
        try:
            return not self._lost.is_set() and self._lock.owned()
        except RedisError:
            return False

    def acquire(self, wait: float) -> bool:
        """Take the lock, waiting up to ``wait`` seconds; the last try is made at the end of the wait
        (redis-py stops one poll early: a 5 s wait would have given up after 4.5 s)."""
        deadline = time.monotonic() + wait
        if not self._lock.acquire(blocking_timeout=wait):
            time.sleep(max(0.0, deadline - time.monotonic()))
            if not self._lock.acquire(blocking=False):
                return False
        self._heart.start()
        return True

    def release(self) -> None:
        self._stop.set()
        self._heart.join(timeout=5)
        try:
            self._lock.release()
        except (LockError, RedisError):  # expired or Redis gone: it frees itself after ttl
            pass


@contextmanager
def object_lock(redis: Redis, shop_id: int, kind: str, shopify_id: str, *,
                ttl: float = 30.0, wait: float = 2.0) -> Iterator[ObjectLock]:
    """The object's lock, waited for briefly: a task that finds its object busy gives its thread
    back and is tried again a little later (as ``Busy``), rather than holding a thread that
    could be waiting on Fusion for another object. A holder that died frees it within ``ttl``."""
    key = f"mlc:lock:{shop_id}:{kind}:{shopify_id}"
    held = _held.__dict__.setdefault("locks", {})
    if key in held:  # this thread holds it already (an order's event around its invoice's create)
        yield held[key]
        return
    lock = ObjectLock(redis, key, ttl)
    if not lock.acquire(wait):
        raise Busy(f"{kind} {shopify_id} is being written by another worker", retry_after=wait)
    held[key] = lock
    try:
        yield lock
    finally:
        del held[key]
        lock.release()
