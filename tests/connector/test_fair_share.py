"""A pod's Fusion budget shared out per shop: a shop over its share yields to a waiting shop, and
to no one else (an idle pod is anyone's)."""
import uuid

import pytest

from connector.fair_share import FairShareBucket, FusionYielded, acting_for
from connector.ratelimit import TokenBucket


@pytest.fixture
def bucket(redis_client):
    """1 token/s, 4 in the bucket: no refill worth a token happens between a test's calls."""
    return FairShareBucket(redis_client, f"test:{uuid.uuid4()}", rate=1, burst=4, window=60)


def take(bucket: FairShareBucket, shop: str) -> float:
    with acting_for(shop):
        return bucket.try_take()


def empty_pod(bucket: FairShareBucket) -> None:
    """Shop B active (one token), then shop A spends the rest: A is over its half, the pod empty."""
    assert take(bucket, "B") == 0
    assert [take(bucket, "A") for _ in range(3)] == [0, 0, 0]


def test_given_one_shop_when_it_bursts_then_it_has_the_whole_pod(bucket):
    waits = [take(bucket, "A") for _ in range(5)]
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4] > 0.5  # the pod's rate, not a share: waiting, never yielded


def test_given_a_shop_over_its_share_when_no_other_shop_waits_then_it_still_uses_the_pod(bucket):
    empty_pod(bucket)  # A's third token was beyond its share of two: B was active but not waiting
    assert take(bucket, "A") > 0.5  # the pod is empty: A waits for it like anyone, it is not yielded


def test_given_a_shop_within_its_share_waits_when_the_busy_shop_asks_then_it_yields(bucket):
    empty_pod(bucket)
    assert take(bucket, "B") > 0.5  # within its share, the pod empty: B waits, and says so
    with pytest.raises(FusionYielded) as yielded:
        take(bucket, "A")
    assert yielded.value.retry_after > 0


def test_given_a_yield_when_the_pod_refills_then_the_waiting_shop_gets_the_token(bucket, redis_client):
    empty_pod(bucket)
    take(bucket, "B")
    redis_client.hset(bucket.key, "tokens", "1")  # a token arrives
    with pytest.raises(FusionYielded):
        take(bucket, "A")  # left for B
    assert take(bucket, "B") == 0
    assert take(bucket, "A") > 0.5  # nobody waits any more: A waits for the pod, not yielded


def test_given_its_share_refills_later_than_its_patience_when_taking_then_it_yields_at_once(redis_client):
    bucket = FairShareBucket(redis_client, f"test:{uuid.uuid4()}", rate=1, burst=4, window=60, patience=0)
    empty_pod(bucket)
    take(bucket, "B")
    with acting_for("A"), pytest.raises(FusionYielded):
        bucket.take()


def test_given_the_pods_own_work_when_shops_wait_then_it_never_yields(bucket):
    empty_pod(bucket)
    take(bucket, "B")
    assert bucket.try_take() > 0.5  # the poller, outside any shop: waits for the pod


def test_given_a_429_when_paused_then_every_shop_waits(bucket):
    bucket.pause(5)
    assert take(bucket, "A") > 4.5
    assert take(bucket, "B") > 4.5


def test_given_the_plain_bucket_and_the_fair_one_then_they_spend_one_budget(bucket, redis_client):
    plain = TokenBucket(redis_client, bucket.key, rate=1, burst=4)
    assert [plain.try_take() for _ in range(4)] == [0, 0, 0, 0]
    assert take(bucket, "A") > 0.5
