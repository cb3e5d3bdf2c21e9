"""``workers.dispatch``: a shop's first events in a window go in the first lane, a burst's rest in
the backlog lane, on a real Redis."""
from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import text

from connector import flows, logs, metrics
from connector.db import session_scope
from connector.flows import lane_lists
from tests.support import on_a_new_thread
from tests.workers.test_publish import without_ids
from workers import dispatch, publish
from workers.app import CORRELATION_HEADER, app

NOW = 1_000_000.0  # one window for the whole test, whatever the clock


@pytest.fixture
def counted_on(redis_client, monkeypatch):
    monkeypatch.setattr(dispatch, "_redis", redis_client)  # the test's Redis, not the broker's
    return redis_client


def test_given_a_burst_when_dispatched_then_only_its_first_events_go_first(counted_on):
    shop = random.randrange(10**9)
    lanes = [dispatch.lane(shop, NOW) for _ in range(dispatch.FIRST_DOCUMENTS + 5)]
    assert lanes == [dispatch.FIRST] * dispatch.FIRST_DOCUMENTS + [dispatch.BACKLOG] * 5


def test_given_a_burst_when_a_quiet_shop_sends_then_its_event_goes_first(counted_on):
    busy, quiet = random.sample(range(10**9), 2)
    for _ in range(dispatch.FIRST_DOCUMENTS + 1):
        dispatch.lane(busy, NOW)
    assert dispatch.lane(busy, NOW) == dispatch.BACKLOG
    assert dispatch.lane(quiet, NOW) == dispatch.FIRST


def test_given_a_new_window_when_the_busy_shop_sends_then_its_first_events_go_first_again(counted_on):
    shop = random.randrange(10**9)
    for _ in range(dispatch.FIRST_DOCUMENTS + 1):
        dispatch.lane(shop, NOW)
    assert dispatch.lane(shop, NOW + 3600) == dispatch.FIRST


def test_given_no_shop_then_the_event_is_backlog(counted_on):
    assert dispatch.lane(None) == dispatch.BACKLOG



def test_given_a_backfill_event_then_it_is_sent_in_the_backlog_lane_and_leaves_the_shops_first_lane_alone(
        counted_on, broker, migrated):
    # given a quiet shop, and a broker of the test's own
    redis, _, _ = broker
    shop = random.randrange(10**9)
    first, backlog = lane_lists("invoices")

    # when a backfill sends an event of that shop once its transaction commits, then a live webhook does
    def send(**how) -> None:
        with session_scope(migrated) as session:
            dispatch.send_after_commit(session, 1, "orders/create", **how)
            session.commit()

    on_a_new_thread(lambda: send(backlog=True))
    assert (redis.llen(first), redis.llen(backlog)) == (0, 1)
    on_a_new_thread(lambda: send(shop_id=shop))

    # then the backfill's waits in the backlog lane, and the live one still goes first
    assert (redis.llen(first), redis.llen(backlog)) == (1, 1)


def commands(redis) -> dict[str, int]:
    """Calls of each command the server ran (a script's own commands included), but INFO."""
    return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in redis.info("commandstats").items()
            if name != "cmdstat_info"}


def test_given_a_new_event_when_its_transaction_commits_then_task_lane_and_counts_go_in_one_round_trip(
        broker, migrated):
    # given a broker that also keeps the /metrics counts (as in production: both are REDIS_URL)
    redis, _, _ = broker
    shop = random.randrange(10**9)
    first, _ = lane_lists("invoices")

    def receive(inbox_id: int) -> None:
        tally = metrics.Tally(app.conf.broker_write_url)
        with logs.bind(shop="acme.myshopify.com"), session_scope(migrated) as session:
            tally.moved(session, "orders/create", None, "received")
            dispatch.send_after_commit(session, inbox_id, "orders/create", shop_id=shop)
            session.commit()

    on_a_new_thread(lambda: receive(1))  # the first loads the script and opens the connection
    before = commands(redis)

    # when another event of the shop is stored and committed
    on_a_new_thread(lambda: receive(2))

    # then the client sent the broker one command, the hand-off script (which counted the lane,
    # pushed the task and counted the event): its task waits in the first lane, counted
    after = commands(redis)
    assert {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name)} == {
        "evalsha": 1, "incr": 1, "expire": 1, "lpush": 1, "hincrby": 2}
    newest = json.loads(redis.lrange(first, 0, 0)[0])
    assert newest["headers"]["argsrepr"] == "[2]"
    assert newest["headers"][CORRELATION_HEADER] == {"shop": "acme.myshopify.com", "inbox_id": 2,
                                                     "topic": "orders/create"}
    assert metrics.read(redis).stored == {"orders/create": 2}
    assert metrics.read(redis).inbox == {("orders/create", "received"): 2}


def test_given_three_events_in_one_transaction_then_their_tasks_leave_in_one_round_trip(broker, migrated):
    # given a broker that holds the hand-off script already
    redis, _, _ = broker
    shop = random.randrange(10**9)
    first, _ = lane_lists("invoices")

    def receive(*inbox_ids: int) -> None:
        with session_scope(migrated) as session:
            for inbox_id in inbox_ids:  # as the receiver's group commit stores deliveries together
                with logs.bind(shop=f"shop-{inbox_id}.myshopify.com"):
                    dispatch.send_after_commit(session, inbox_id, "orders/create", shop_id=shop)
            session.commit()

    on_a_new_thread(lambda: receive(1))
    before = commands(redis)

    # when three events are stored and committed in one transaction
    on_a_new_thread(lambda: receive(2, 3, 4))

    # then one script ran per event, pipelined (no script check or load in between), and each task
    # waits in the first lane with its own correlation
    after = commands(redis)
    assert {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name)} == {
        "evalsha": 3, "incr": 3, "expire": 3, "lpush": 3}
    newest = [json.loads(message) for message in redis.lrange(first, 0, 2)]
    assert [m["headers"][CORRELATION_HEADER]["shop"] for m in newest] == [
        "shop-4.myshopify.com", "shop-3.myshopify.com", "shop-2.myshopify.com"]


@pytest.mark.parametrize("inbox_ids", [(2,), (2, 3)], ids=["a lone event", "two events together"])
def test_given_a_redis_without_the_script_then_each_task_is_pushed_once(broker, migrated, inbox_ids, caplog):
    # given a broker that lost its scripts (a restart, a SCRIPT FLUSH)
    redis, _, _ = broker
    first, _ = lane_lists("invoices")
    on_a_new_thread(lambda: _commit_events(migrated, 1))
    redis.script_flush()
    waiting = redis.llen(first)

    # when events are committed (one alone goes without a pipeline, several in one)
    on_a_new_thread(lambda: _commit_events(migrated, *inbox_ids))

    # then the script was loaded again and each task pushed exactly once, by the script, not by
    # the fallback that follows a failed round trip
    assert redis.script_exists(dispatch._HAND_OFF_SHA) == [True]
    assert redis.llen(first) == waiting + len(inbox_ids)
    pushed = redis.lrange(first, 0, len(inbox_ids) - 1)
    assert sorted(json.loads(m)["headers"]["argsrepr"] for m in pushed) == [f"[{i}]" for i in inbox_ids]
    assert not [r for r in caplog.records if "failed" in r.getMessage()]


def test_given_a_lone_events_script_failing_then_its_task_is_sent_on_its_own(broker, migrated, caplog):
    # given a broker whose customers lanes Redis cannot push to (the keys hold strings)
    redis, _, _ = broker
    on_a_new_thread(lambda: _commit_events(migrated, 1))  # the script loaded
    for lane_list in lane_lists("customers"):
        redis.set(lane_list, "not a list")

    # when a customer's event is committed alone
    def one() -> None:
        with session_scope(migrated) as session:
            dispatch.send_after_commit(session, 4, "customers/create", shop_id=random.randrange(10**9))
            session.commit()

    # then the script's error does not escape the commit: the task goes the old way, whose own
    # failure (the lane still holds a string) is logged, for the sweeper to send it later
    on_a_new_thread(one)
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "round trip failed" in m]  # the round trip itself went through
    assert [m for m in said if "hand-off of inbox event 4 failed" in m]  # its own script's error said
    [failed] = [m for m in said if "could not be sent" in m]
    assert failed.startswith("inbox event 4:")
    assert all(redis.type(lane_list) == b"string" for lane_list in lane_lists("customers"))


def test_given_one_script_of_a_pipeline_failing_then_only_its_event_is_sent_again(broker, migrated, caplog):
    # given a broker whose customers lanes Redis cannot push to (the keys hold strings)
    redis, _, _ = broker
    invoices, _ = lane_lists("invoices")
    on_a_new_thread(lambda: _commit_events(migrated, 1))  # the script loaded, the connection open
    for lane_list in lane_lists("customers"):  # whichever lane the event would go in
        redis.set(lane_list, "not a list")
    waiting = redis.llen(invoices)

    caplog.handler.addFilter(logs.CorrelationFilter())  # the bound fields on each record, as on every handler

    # when an order's event and a customer's event are committed together, each counted for /metrics
    def both() -> None:
        tally = metrics.Tally(app.conf.broker_write_url)
        with session_scope(migrated) as session:
            for inbox_id, topic in ((2, "orders/create"), (3, "customers/create")):
                with logs.bind(gid=f"gid://shopify/Thing/{inbox_id}"):
                    tally.moved(session, topic, None, "received")
                    dispatch.send_after_commit(session, inbox_id, topic, shop_id=random.randrange(10**9))
            session.commit()

    on_a_new_thread(both)

    # then the order's task was pushed once and counted once; only the customer's was sent again,
    # and the line saying it could not be sent names the customer's event, not the order's
    assert redis.llen(invoices) == waiting + 1
    assert metrics.read(redis).stored["orders/create"] == 1
    [failed] = [r for r in caplog.records if "could not be sent" in r.getMessage()]
    assert failed.getMessage().startswith("inbox event 3:") and failed.gid == "gid://shopify/Thing/3"


def _commit_events(migrated, *inbox_ids: int) -> None:
    with session_scope(migrated) as session:
        for inbox_id in inbox_ids:
            dispatch.send_after_commit(session, inbox_id, "orders/create", shop_id=random.randrange(10**9))
        session.commit()


def test_the_handed_off_message_is_the_one_publish_sends_but_for_its_ids(broker, migrated):
    redis, _, _ = broker
    first, _ = lane_lists("invoices")
    correlation = {"inbox_id": 9, "topic": "orders/create"}

    def both() -> None:
        publish.send(flows.webhook_task("invoices"), [9], "invoices", correlation, priority=dispatch.FIRST)
        with session_scope(migrated) as session:
            dispatch.send_after_commit(session, 9, "orders/create", shop_id=random.randrange(10**9))
            session.commit()

    on_a_new_thread(both)

    ours, sent = redis.lrange(first, 0, 1)  # LPUSH: the newest first
    assert without_ids(ours) == without_ids(sent)


def test_given_a_burst_when_sent_after_commit_then_only_its_first_events_go_first(broker, migrated):
    redis, _, _ = broker
    shop = random.randrange(10**9)
    first, backlog = lane_lists("invoices")

    def burst() -> None:
        for inbox_id in range(dispatch.FIRST_DOCUMENTS + 3):
            with session_scope(migrated) as session:
                dispatch.send_after_commit(session, inbox_id, "orders/create", shop_id=shop)
                session.commit()

    on_a_new_thread(burst)

    assert (redis.llen(first), redis.llen(backlog)) == (dispatch.FIRST_DOCUMENTS, 3)
    [message] = redis.lrange(backlog, 0, 0)
    assert json.loads(message)["properties"]["priority"] == dispatch.BACKLOG


def test_given_a_rollback_then_nothing_is_sent_counted_or_charged_to_the_shop(broker, migrated):
    redis, _, _ = broker
    shop = random.randrange(10**9)

    def rolled_back() -> None:
        tally = metrics.Tally(app.conf.broker_write_url)
        with session_scope(migrated) as session:
            session.execute(text("SELECT 1"))  # a transaction under way, as the receiver's insert
            tally.moved(session, "orders/create", None, "received")
            dispatch.send_after_commit(session, 3, "orders/create", shop_id=shop)
            session.rollback()

    on_a_new_thread(rolled_back)

    assert redis.keys("*") == []


def test_given_the_broker_down_at_the_commit_then_the_send_fails_and_the_sweeper_is_left_to_find_it(
        broker, migrated, caplog):
    redis, start, stop = broker
    first, backlog = lane_lists("invoices")
    stop()

    def send() -> None:
        with session_scope(migrated) as session:
            dispatch.send_after_commit(session, 4, "orders/create", shop_id=random.randrange(10**9))
            session.commit()  # the commit stands: the hand-off's failure is logged

    on_a_new_thread(send)
    start()

    assert "inbox event 4: its task could not be sent; the sweeper sends it again" in caplog.text
    assert (redis.llen(first), redis.llen(backlog)) == (0, 0)


def test_given_the_broker_down_at_a_commit_of_several_events_then_the_rest_are_left_to_the_sweeper(
        broker, migrated, caplog):
    # given a broker that is down when three events' transaction commits
    redis, start, stop = broker
    stop()

    on_a_new_thread(lambda: _commit_events(migrated, 5, 6, 7))
    start()

    # then the first task's send waited out kombu's retries, and the two others did not: one line
    # says they are the sweeper's to send
    assert caplog.text.count("its task could not be sent") == 1
    assert "the tasks of inbox events 6, 7 are left to the inbox sweeper" in caplog.text
    assert redis.dbsize() == 0


def test_given_a_counter_redis_cannot_increment_then_the_event_still_goes_in_the_backlog_lane(broker, migrated):
    # given a shop whose lane counter holds something else (Redis answers INCR with an error)
    redis, _, _ = broker
    shop = random.randrange(10**9)
    first, backlog = lane_lists("invoices")
    redis.hset(dispatch._lane_key(shop), "not", "a number")

    def send() -> None:
        with session_scope(migrated) as session:
            dispatch.send_after_commit(session, 5, "orders/create", shop_id=shop)
            session.commit()

    on_a_new_thread(send)

    # then its task is sent all the same, as backlog
    assert (redis.llen(first), redis.llen(backlog)) == (0, 1)
