"""An object's lock: a worker that finds it taken is woken by its release instead of polling, and
still takes it when its holder died without releasing it."""
from __future__ import annotations

import threading
import time
import uuid

from redis import Redis

from connector.locks import Busy, ObjectLock, object_lock, released
from tests.support import eventually


class CountingRedis(Redis):
    """The test's Redis, counting the lock attempts (``SET … NX``) made through it."""

    sets = 0

    def execute_command(self, *args, **options):
        if args and args[0] == "SET" and "NX" in args:
            type(self).sets += 1
        return super().execute_command(*args, **options)


def key() -> str:
    return f"mlc:lock:test:{uuid.uuid4().hex}"


def test_given_a_taken_lock_then_its_waiter_takes_it_once_released_without_polling(redis_url):
    redis = CountingRedis.from_url(redis_url)
    name = key()
    holder = ObjectLock(redis, name, ttl=30)
    assert holder.acquire(wait=0)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(ObjectLock(redis, name, ttl=30).acquire(wait=20)))

    # when another worker waits for it, and the holder releases it a moment later
    CountingRedis.sets = 0
    waiter.start()
    time.sleep(1.2)  # the waiter blocks on the release list meanwhile
    holder.release()
    waiter.join(20)

    # then the waiter has it, after one look when it came, about one every LOOK_EVERY while it
    # waited, and one when the release woke it (redis-py's own wait looks every 0.1 s: a dozen)
    assert got == [True]
    assert CountingRedis.sets <= 5, CountingRedis.sets


def test_given_a_holder_that_died_then_its_lock_is_taken_once_it_expires(redis_url):
    redis = Redis.from_url(redis_url)
    name = key()
    redis.set(name, "a worker that was killed", px=800)  # never released

    assert ObjectLock(redis, name, ttl=30).acquire(wait=10)


def test_given_a_release_nobody_waits_for_then_it_leaves_one_token_that_expires(redis_url):
    redis = Redis.from_url(redis_url)
    name = key()
    for _ in range(3):
        lock = ObjectLock(redis, name, ttl=30)
        assert lock.acquire(wait=0)
        lock.release()
    assert redis.llen(released(name)) == 1 and 0 < redis.pttl(released(name)) <= 2000
    assert eventually(lambda: not redis.exists(released(name)), timeout=10)


def test_given_an_object_busy_past_the_wait_then_the_task_is_told_to_come_back(redis_url):
    redis = Redis.from_url(redis_url)
    shop, kind, object_id = 7, "order", uuid.uuid4().hex
    holder = ObjectLock(redis, f"mlc:lock:{shop}:{kind}:{object_id}", ttl=30)
    assert holder.acquire(wait=0)
    try:
        with object_lock(redis, shop, kind, object_id, wait=0.6):
            raise AssertionError("two holders")
    except Busy as busy:
        assert busy.retry_after == 0.6
    finally:
        holder.release()
