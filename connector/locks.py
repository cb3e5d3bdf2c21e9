"""One writer per Shopify object at a time, across every worker on every machine.

A Redis lock with a short time-to-live that a heartbeat thread keeps extending while the work
runs: a long Fusion call keeps its lock, and a worker that dies (killed, out of memory) frees the
object within ``ttl`` seconds instead of blocking it for the longest imaginable task. Before a
write that must not happen twice, callers check :meth:`ObjectLock.still_held`.

A worker that finds the object taken waits for its release rather than asking again every 0.1 s
(redis-py's own wait): the release pushes a token on the lock's ``:released`` list in the same
script that frees it, and the waiter blocks on that list (``BLPOP``), looking at the lock again
at least every :data:`LOOK_EVERY` seconds for a holder that died. A paid order's ``orders/paid``
arrives with its ``orders/create`` and waits for it: the polls were about 7 % of a busy
worker's CPU (BENCHMARKS.md, "Worker CPU per order").
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.lock import Lock

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """Another worker holds the object; try again once its lock can have expired."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


#: Seconds between two looks at a taken lock while waiting for its release (its holder may have
#: died, and its lock then expires without a release).
LOOK_EVERY = 0.5
#: Milliseconds a release's token waits for a waiter: one that comes later finds the lock free.
_TOKEN_MS = 2000


class _WakingLock(Lock):
    """redis-py's lock, whose release also leaves a token for one worker waiting for it."""

    LUA_RELEASE_SCRIPT = """
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        redis.call('lpush', KEYS[2], 1)
        redis.call('ltrim', KEYS[2], 0, 0)
        redis.call('pexpire', KEYS[2], ARGV[2])
        return 1
    """
    lua_release = None  # registered for this class's script, not the base class's

    def do_release(self, expected_token: str) -> None:
        if not self.lua_release(keys=[self.name, released(self.name)], args=[expected_token, _TOKEN_MS],
                                client=self.redis):
            raise LockNotOwnedError("Cannot release a lock that's no longer owned", lock_name=self.name)


def released(key: str) -> str:
    """The list a lock's release pushes its token on."""
    return f"{key}:released"


class ObjectLock:
    def __init__(self, redis: Redis, key: str, ttl: float):
        self._redis = redis
        self._lock = _WakingLock(redis, key, timeout=ttl, thread_local=False)
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
        """Take the lock, waiting up to ``wait`` seconds for its holder to release it."""
        deadline = time.monotonic() + wait
        while not self._lock.acquire(blocking=False):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:  # woken by the holder's release, or after a while to look again
                self._redis.blpop([released(self._lock.name)], timeout=min(left, LOOK_EVERY))
            except RedisError:
                time.sleep(min(left, 0.1))
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
    lock = ObjectLock(redis, f"mlc:lock:{shop_id}:{kind}:{shopify_id}", ttl)
    if not lock.acquire(wait):
        raise Busy(f"{kind} {shopify_id} is being written by another worker", retry_after=wait)
    try:
        yield lock
    finally:
        lock.release()
