"""One writer per Shopify object at a time, across every worker on every machine.

An advisory Redis lock with a timeout: if a worker dies holding it the lock expires. It keeps
two workers from doing the same Fusion work at once; the database's unique keys and the binding
state remain the guarantee.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.exceptions import LockError


class Busy(RuntimeError):
    """Another worker holds the object; try again in a moment."""


@contextmanager
def object_lock(redis: Redis, shop_id: int, kind: str, shopify_id: str, *,
                timeout: int = 120, wait: float = 10.0) -> Iterator[None]:
    lock = redis.lock(f"mlc:lock:{shop_id}:{kind}:{shopify_id}", timeout=timeout,
                      blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise Busy(f"{kind} {shopify_id} is being written by another worker")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:  # expired while we worked; the binding state protects us
            pass
