"""An object's lock: one holder at a time, a holder that died frees it within its time-to-live,
and a worker that finds it busy past its wait is told to come back."""
from __future__ import annotations

import threading
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


def test_given_a_thread_holding_an_object_when_it_locks_the_object_again_then_it_goes_on_and_keeps_it(redis_url):
    redis = Redis.from_url(redis_url)
    shop, kind, object_id = 7, "order", uuid.uuid4().hex
    name = f"mlc:lock:{shop}:{kind}:{object_id}"

    with object_lock(redis, shop, kind, object_id, wait=0) as outer:
        with object_lock(redis, shop, kind, object_id, wait=0) as inner:  # no wait: it is this thread's
            assert inner is outer
        # leaving the inner block did not free the object for another worker
        assert outer.still_held()
        assert not ObjectLock(redis, name, ttl=30).acquire(wait=0)
    after = ObjectLock(redis, name, ttl=30)
    assert after.acquire(wait=0)  # freed by the outer block only
    after.release()


def test_given_an_object_held_by_one_thread_then_another_thread_of_the_process_does_not_share_it(redis_url):
    redis = Redis.from_url(redis_url)
    shop, kind, object_id = 7, "order", uuid.uuid4().hex
    outcome = []

    def other_thread():
        try:
            with object_lock(redis, shop, kind, object_id, wait=0.3):
                outcome.append("entered")
        except Busy:
            outcome.append("busy")

    with object_lock(redis, shop, kind, object_id, wait=0):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["busy"]


def test_given_a_holder_that_lets_go_just_before_the_wait_ends_then_the_waiter_gets_the_lock(redis_url):
    redis = Redis.from_url(redis_url)
    name = key()
    # another worker's lock that frees itself 1.75 s from now: after the waiter's last poll (every
    # 0.5 s) that fits in its 2 s, before the wait ends
    redis.set(name, "another worker", px=1750)

    lock = ObjectLock(redis, name, ttl=30)
    assert lock.acquire(wait=2.0)
    lock.release()
