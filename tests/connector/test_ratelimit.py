"""The Fusion budget is shared: two clients on one bucket get the rate once, not twice."""
import uuid

from connector.ratelimit import TokenBucket


def test_given_burst_when_exhausted_then_next_caller_must_wait(redis_client):
    key = f"test:{uuid.uuid4()}"
    first, second = TokenBucket(redis_client, key, rate=1, burst=3), TokenBucket(redis_client, key, rate=1, burst=3)
    waits = [first.try_take(), second.try_take(), first.try_take(), second.try_take()]
    assert waits[:3] == [0, 0, 0]
    assert 0.5 < waits[3] <= 1.0


def test_given_retry_after_when_paused_then_everyone_waits(redis_client):
    key = f"test:{uuid.uuid4()}"
    bucket = TokenBucket(redis_client, key, rate=10, burst=10)
    bucket.pause(5)
    assert TokenBucket(redis_client, key, rate=10, burst=10).try_take() > 4.5
