"""An object's lock: one holder at a time, a holder that died frees it within its time-to-live,
and a worker that finds it busy past its wait is told to come back."""
from __future__ import annotations

import uuid

import pytest
from redis import Redis

from connector.locks import Busy, ObjectLock, object_lock


def key() -> str:
    return f"mlc:lock:test:{uuid.uuid4().hex}"


def test_given_a_holder_that_died_then_its_lock_is_taken_once_it_expires(redis_url):
    redis = Redis.from_url(redis_url)
    name = key()
    redis.set(name, "a worker that was killed", px=800)  # never released

    lock = ObjectLock(redis, name, ttl=30)
    assert lock.acquire(wait=10)
    lock.release()  # (and its heartbeat stops)


def test_given_an_object_busy_past_the_wait_then_the_task_is_told_to_come_back(redis_url):
    redis = Redis.from_url(redis_url)
    shop, kind, object_id = 7, "order", uuid.uuid4().hex
    holder = ObjectLock(redis, f"mlc:lock:{shop}:{kind}:{object_id}", ttl=30)
    assert holder.acquire(wait=0)
    try:
        with pytest.raises(Busy) as busy:
            with object_lock(redis, shop, kind, object_id, wait=0.6):
                pass
        assert busy.value.retry_after == 0.6
    finally:
        holder.release()
