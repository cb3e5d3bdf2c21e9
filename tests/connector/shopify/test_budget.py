"""The shop's GraphQL cost budget against the Shopify sandbox over HTTP: charged before each call,
corrected from ``throttleStatus`` after it, and a THROTTLED answer waited out exactly as long as
Shopify's restore rate needs."""
from __future__ import annotations

import json
import uuid

import pytest

from connector.http import recording
from connector.ratelimit import TokenBucket
from connector.shopify.budget import CostBudget, throttle_wait
from connector.shopify.client import ShopifyClient, ShopifyThrottled
from tests.connector.shopify.conftest import new_shop

#: ``orders(first: 40)`` with one object per node: requested 2 + 40 = 42 points.
ORDERS = "query Orders { orders(first: 40) { nodes { id } } }"
REQUESTED = 42


def client_for(sandbox, redis_client, *, rate=100.0, burst=2000, max_wait=30.0, **shop):
    """A client on a bucket of its own, its token fetched and the sandbox's schema loaded (a bucket
    drained before that would refill while the schema loads)."""
    connection = new_shop(sandbox, **shop)
    bucket = TokenBucket(redis_client, f"mlc:test:shopify:{uuid.uuid4().hex}", rate, burst)
    ShopifyClient(connection, allow_http=True).ping()
    return ShopifyClient(connection, allow_http=True, budget=CostBudget(bucket, max_wait)), bucket


def stored(bucket: TokenBucket) -> dict:
    """The bucket as Redis holds it (no refill applied)."""
    return {k.decode(): float(v) for k, v in bucket.redis.hgetall(bucket.key).items()}


def sandbox_bucket(sandbox, connection, **state) -> dict:
    response = sandbox.put(f"/_sandbox/shops/{connection.domain}/bucket", state)
    assert response.status_code == 200, response.text
    return response.json()


def answers(exchanges) -> list[dict]:
    return [json.loads(x.response_body) for x in exchanges if x.status in (200, 429)]


def test_given_an_answer_then_the_shared_bucket_holds_what_shopify_says_is_left(make_shopify, redis_client):
    sandbox = make_shopify()
    client, bucket = client_for(sandbox, redis_client)
    # given a shop on another plan than the configured one, already half spent by someone else
    sandbox_bucket(sandbox, client.connection, maximum_available=4000, restore_rate=200, currently_available=1500)
    # when a query is sent
    exchanges = []
    with recording(exchanges.append):
        body = client.graphql_response(ORDERS)
    # then the bucket is what Shopify's throttleStatus says, at Shopify's rate and size, for every worker
    status = body["extensions"]["cost"]["throttleStatus"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == REQUESTED
    state = stored(bucket)
    assert state["tokens"] == status["currentlyAvailable"] and state["inflight"] == 0
    assert (state["rate"], state["burst"]) == (200.0, 4000.0)
    assert client.budget.stats.calls == 1 and len(exchanges) == 1


def test_given_a_query_once_sent_then_it_is_charged_its_requested_cost_before_the_call(make_shopify, redis_client):
    sandbox = make_shopify()
    client, bucket = client_for(sandbox, redis_client)
    client.graphql(ORDERS)
    first = client.budget.stats.charged
    # when the same query goes again, it is charged what Shopify said it requests
    client.graphql(ORDERS)
    assert client.budget.stats.charged - first == REQUESTED
    assert client.budget.estimate(ORDERS) == REQUESTED


def test_given_a_bucket_that_cannot_pay_within_the_max_wait_then_nothing_is_sent(make_shopify, redis_client):
    sandbox = make_shopify()
    client, bucket = client_for(sandbox, redis_client, rate=1.0, burst=2000, max_wait=2.0)
    bucket.adjust(0)  # every worker's points are spent
    exchanges = []
    with recording(exchanges.append), pytest.raises(ShopifyThrottled) as raised:
        client.graphql(ORDERS, cost=REQUESTED)
    # then the call never left: Shopify's own bucket is untouched, and the task is told when to come back
    assert exchanges == []
    assert raised.value.retry_after == pytest.approx(REQUESTED, abs=1.0)


def test_given_shopify_throttles_then_the_call_waits_exactly_what_the_restore_rate_needs(make_shopify, redis_client):
    sandbox = make_shopify()
    # given a client that believes the bucket is full, and a shop whose bucket is empty
    client, bucket = client_for(sandbox, redis_client)
    # (slowly refilled: the call must reach it before it holds the points again, on a loaded machine too)
    sandbox_bucket(sandbox, client.connection, restore_rate=10, currently_available=0)
    exchanges = []
    with recording(exchanges.append):
        data = client.graphql(ORDERS, cost=REQUESTED)
    # then Shopify said THROTTLED once, the client waited (requested − available) / restoreRate, and the retry went through
    assert data == {"orders": {"nodes": []}}
    throttled, done = answers(exchanges)
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED" and "data" not in throttled
    status = throttled["extensions"]["cost"]["throttleStatus"]
    assert client.budget.stats.throttled == 1
    assert client.budget.stats.waits == [(REQUESTED - status["currentlyAvailable"]) / 10.0]
    assert client.budget.stats.waits == [throttle_wait(REQUESTED, status)]
    assert done["extensions"]["cost"]["actualQueryCost"] is not None


def test_given_a_throttle_longer_than_the_max_wait_then_no_wait_and_the_task_learns_when_to_retry(make_shopify,
                                                                                                   redis_client):
    sandbox = make_shopify()
    client, bucket = client_for(sandbox, redis_client, max_wait=2.0)
    sandbox_bucket(sandbox, client.connection, restore_rate=1, currently_available=0)
    with pytest.raises(ShopifyThrottled) as raised:
        client.graphql(ORDERS, cost=REQUESTED)
    # then it waited for nothing: the wait Shopify needs is handed to the task's retry instead
    assert client.budget.stats.waits[0] > 2.0
    assert raised.value.retry_after == client.budget.stats.waits[0]
    # and every worker's bucket now knows the shop is empty and slow
    assert stored(bucket)["rate"] == 1.0 and stored(bucket)["tokens"] < REQUESTED


def test_given_throttling_answered_429_then_retry_after_is_waited_for_everyone(make_shopify, redis_client):
    sandbox = make_shopify(throttled_http_status=429)
    client, bucket = client_for(sandbox, redis_client)
    sandbox_bucket(sandbox, client.connection, restore_rate=10, currently_available=0)
    exchanges = []
    with recording(exchanges.append):
        assert client.graphql(ORDERS, cost=REQUESTED) == {"orders": {"nodes": []}}
    [first, second] = exchanges
    assert first.status == 429 and second.status == 200
    assert client.budget.stats.throttled == 1 and 0 < client.budget.stats.waits[0] <= REQUESTED / 10.0
