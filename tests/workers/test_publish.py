"""``workers.publish``: the message ``send_task`` sends, on a real Redis, through a broker restart, and
the log correlation it carries to the task."""
from __future__ import annotations

import json

import pytest
from kombu.exceptions import OperationalError

from connector import logs
from connector.flows import lane_lists
from tests.support import on_a_new_thread
from workers import publish
from workers.app import CORRELATION_HEADER, app

TASK, QUEUE = "mlc.invoices.process_webhook", "invoices"


def without_ids(raw: bytes) -> dict:
    message = json.loads(raw)
    for key in ("id", "root_id"):
        message["headers"].pop(key)
    for key in ("correlation_id", "delivery_tag"):
        message["properties"].pop(key)
    return message


def test_the_message_is_the_one_send_task_sends_but_for_its_ids(broker):
    redis, _, _ = broker

    def both():
        with app.connection_for_write() as connection:
            app.send_task(TASK, args=[4711], queue=QUEUE, ignore_result=True, connection=connection)
        return publish.send(TASK, [4711], QUEUE)

    task_id = on_a_new_thread(both)

    ours, celerys = redis.lrange(QUEUE, 0, 1)  # LPUSH: the newest first
    assert json.loads(ours)["headers"]["id"] == task_id
    assert without_ids(ours) == without_ids(celerys)


def test_given_the_broker_restarted_then_the_next_send_reconnects(broker):
    redis, start, stop = broker

    def send_across_a_restart():
        publish.send(TASK, [1], QUEUE)
        stop()
        start()
        publish.send(TASK, [2], QUEUE)

    on_a_new_thread(send_across_a_restart)

    [message] = redis.lrange(QUEUE, 0, -1)  # the first went with the old server's memory
    assert json.loads(message)["headers"]["argsrepr"] == "[2]"


def test_given_the_broker_down_then_the_send_fails_within_the_retry_policy_and_the_next_one_succeeds(broker):
    redis, start, stop = broker

    def send_while_down_then_up():
        publish.send(TASK, [1], QUEUE)
        stop()
        with pytest.raises(OperationalError):  # it gives up (the policy below bounds how long it tries)
            publish.send(TASK, [2], QUEUE)
        start()
        publish.send(TASK, [3], QUEUE)

    on_a_new_thread(send_while_down_then_up)
    assert [json.loads(m)["headers"]["argsrepr"] for m in redis.lrange(QUEUE, 0, -1)] == ["[3]"]


def test_the_retry_policy_gives_up_on_a_lost_broker_well_within_the_5_s_shopify_waits():
    policy = app.conf.task_publish_retry_policy
    waits = [min(policy["interval_start"] + i * policy["interval_step"], policy["interval_max"])
             for i in range(policy["max_retries"])]

    # the receiver sends after its commit and before it answers: past 5 s Shopify would retry a
    # delivery that is stored already
    assert sum(waits) <= 1


def test_given_a_bound_correlation_then_the_message_carries_it_in_its_own_header(broker):
    redis, _, _ = broker

    def send_for_an_event():
        with logs.bind(shop="acme.myshopify.com", gid="gid://shopify/Order/9", task_id="the-senders"):
            return publish.send(TASK, [77], QUEUE, logs.carried(inbox_id=77, topic="orders/create"))

    on_a_new_thread(send_for_an_event)

    [message] = redis.lrange(QUEUE, 0, -1)
    assert json.loads(message)["headers"][CORRELATION_HEADER] == {
        "inbox_id": 77, "shop": "acme.myshopify.com", "topic": "orders/create", "gid": "gid://shopify/Order/9"}


def test_given_a_task_with_the_header_then_it_runs_bound_to_it_and_unbound_after():
    @app.task(name="tests.publish.correlation")
    def correlation() -> dict:
        return logs.correlation()

    carried = {"inbox_id": 5, "shop": "acme.myshopify.com", "message": "not a correlation field"}
    result = correlation.apply(headers={CORRELATION_HEADER: carried}, task_id="t-5")

    assert result.get() == {"inbox_id": 5, "shop": "acme.myshopify.com", "task_id": "t-5",
                            "task": "tests.publish.correlation"}
    assert logs.correlation() == {}


def test_given_a_priority_then_the_message_waits_in_that_lanes_list(broker):
    redis, _, _ = broker
    on_a_new_thread(lambda: publish.send(TASK, [5], QUEUE, priority=6))
    first, backlog = lane_lists(QUEUE)
    assert redis.llen(first) == 0
    [message] = redis.lrange(backlog, 0, -1)
    assert json.loads(message)["properties"]["priority"] == 6


def test_given_sends_from_many_short_lived_threads_then_the_redis_connections_do_not_grow(broker):
    # a greenlet per delivery under the receiver's gevent workers is such a thread: thread-local
    # producers opened Redis connections for each delivery
    redis, _, _ = broker

    def connections() -> int:
        return sum(1 for c in redis.client_list() if c["cmd"] != "client|list")

    def send_from_threads(count: int) -> None:
        for number in range(count):
            on_a_new_thread(lambda: publish.send(TASK, [number], QUEUE))

    send_from_threads(2)
    after_two = connections()
    send_from_threads(20)

    assert redis.llen(QUEUE) == 22
    assert connections() == after_two
