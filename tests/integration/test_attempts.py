"""Why an event is where it is: every processing attempt is a row an operator can read."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from redis import Redis
from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.locks import object_lock
from connector.models import AttemptOutcome, BindingState, InboxState, Shop
from connector.services import status
from tests.factories import new_order
from tests.support import eventually

INVOICES = "/fscmRestApi/resources/11.13.18.05/receivablesInvoices"


def attempts_of(event_id):
    with session_scope(load_settings().database_url) as session:
        return status.attempts(session, event_id)


def order_event(shop):
    return eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                    and e.state != InboxState.received), None), timeout=45)


def test_given_fusion_throttling_past_one_attempt_then_each_attempt_is_recorded_with_its_reason(shop, fusion):
    # 429 means Fusion did nothing: the client retries it 4 times within an attempt, then gives up
    fusion.fault(kind="429", count=4, methods=["POST"], path_prefix=INVOICES)

    order = shop.place_order(new_order())
    event = order_event(shop)

    assert event.state == InboxState.done
    assert eventually(lambda: shop.binding("order", order["id"]).state == BindingState.synced)
    rows = attempts_of(event.id)
    assert [r.number for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].outcome == AttemptOutcome.retry and "HTTP 429" in rows[0].error
    assert rows[-1].outcome == AttemptOutcome.done and rows[-1].error == ""
    assert all(r.task_id and r.worker.startswith("invoices-") and r.finished_at >= r.started_at for r in rows)
    assert rows[-1].fusion_calls >= 1  # at least the invoice POST that finally went through


def test_given_a_parked_event_then_status_and_replay_show_print_its_attempts(shop):
    order = shop.place_order(new_order(), deliver=False)
    # a total its lines do not add up to: the invoice is refused, the event parked
    money = {"amount": "1.00", "currency_code": "USD"}
    tampered = dict(order, total_price="1.00", total_price_set={"shop_money": money, "presentment_money": money})
    assert shop.deliver("orders/create", tampered).status_code == 200
    event = order_event(shop)

    for command in (["status", str(event.id)], ["replay", "--show", str(event.id)]):
        shown = subprocess.run([sys.executable, "-m", "cli.main", *command], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, COLUMNS="250"))

        assert shown.returncode == 0, shown.stderr
        assert f"inbox event {event.id}: orders/create for {order['id']}" in shown.stdout
        assert event.state.value in shown.stdout
        assert "Shopify's total is 1.00" in shown.stdout
        [attempt] = attempts_of(event.id)
        assert attempt.task_id in shown.stdout and "parked" in shown.stdout
    assert event.state == InboxState.parked


def test_given_another_event_holding_the_order_for_a_few_seconds_then_the_order_event_waits_once_and_is_done(
        shop, redis_url):
    order = shop.place_order(new_order(), deliver=False)
    with session_scope(load_settings().database_url) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == shop.domain))

    # another worker's event of the same order (its invoice and payments) holds the order for 3 s
    with object_lock(Redis.from_url(redis_url), shop_id, "order", str(order["id"]), wait=0):
        assert shop.deliver("orders/create", order).status_code == 200
        time.sleep(3)
    event = order_event(shop)

    # it waited for the order instead of being sent again: one attempt, done
    assert event.state == InboxState.done
    assert [r.outcome for r in attempts_of(event.id)] == [AttemptOutcome.done]
    assert shop.binding("order", order["id"]).state == BindingState.synced
