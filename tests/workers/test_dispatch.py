"""``workers.dispatch``: a shop's first events in a window go in the first lane, a burst's rest in
the backlog lane, on a real Redis."""
from __future__ import annotations

import random

import pytest

from connector.db import session_scope
from connector.flows import lane_lists
from tests.support import on_a_new_thread
from workers import dispatch

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
