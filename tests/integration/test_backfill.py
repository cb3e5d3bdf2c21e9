"""Backfill through the real stack: a shop's history, listed by a Shopify bulk operation, goes
through the webhooks' flows once, even when the backfill is interrupted and started again, and
never doubles what live webhooks already brought."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

from connector.models import InboxState
from tests.factories import new_order
from tests.support import eventually

LIVE, HISTORY = 4, 26


def backfill(*args: str) -> str:
    """The operator's command, as a process of its own (wide, so rich does not fold the table),
    allowed the shop's whole Shopify budget (no live traffic to leave room for: a shorter test)."""
    done = subprocess.run([sys.executable, "-m", "cli.main", "backfill", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "300", "MLC_BACKFILL_BUDGET_SHARE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_given_history_and_live_orders_when_a_backfill_is_interrupted_and_resumed_then_each_order_is_invoiced_once(shop):
    # given orders whose webhooks were never sent (the shop's history), one of them refunded,
    # and a few live orders already invoiced through their webhooks
    history = [shop.place_order(new_order(), deliver=False) for _ in range(HISTORY)]
    refunded = history[3]
    refund = shop.act(f"orders/{refunded['id']}/refunds", {"refund_line_items": [
        {"line_item_id": refunded["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}]}, deliver=False)
    live = [shop.place_order(new_order()) for _ in range(LIVE)]
    assert eventually(lambda: all(shop.holds(order) for order in live), timeout=60)
    live_events = len(shop.inbox())
    since = datetime.now(timezone.utc).date().isoformat()

    # when a backfill is stopped after 12 orders, then run again to the end, then once more
    first = backfill("--since", since, "--shop", shop.domain, "--limit", "12")
    second = backfill("--since", since, "--shop", shop.domain)
    assert eventually(lambda: all(shop.holds(order) for order in history + live), timeout=90), \
        [shop.invariants(order) for order in history if not shop.holds(order)][:3]
    third = backfill("--since", since, "--shop", shop.domain)

    # then the first run stopped part-way, the second went on from there, the third found nothing
    # left to do and read the same listing
    assert "stopped: run again to resume" in first and f" {HISTORY + LIVE} " in first, first
    assert "complete" in second and " 12 " in second, second
    assert "complete" in third, third
    # and each order of the history and of live traffic is invoiced once in Fusion, the refund
    # credited once
    for order in history + live:
        assert len(shop.fusion_invoices(order)) == 1, order["id"]
    assert len(shop.fusion_credit_memos(refunded)) == 1
    assert shop.binding("refund", refund["id"]) is not None
    # and the backfill stored only what live traffic had not: the history's orders and the refund
    backfilled = [e for e in shop.inbox() if e.source == "backfill"]
    assert sorted({e.resource_id for e in backfilled if e.topic.startswith("orders/")}) == \
        sorted(str(order["id"]) for order in history)
    assert [e.resource_id for e in backfilled if e.topic.startswith("refunds/")] == [str(refund["id"])]
    assert len(shop.inbox()) == live_events + len(backfilled)
    assert all(e.state != InboxState.received for e in shop.inbox())
    assert shop.audit("shopify.backfilled")


def test_given_a_backfill_killed_mid_run_when_it_is_run_again_then_it_goes_on_and_creates_nothing_twice(shop):
    # given a shop's history of orders whose webhooks were never sent
    history = [shop.place_order(new_order(), deliver=False) for _ in range(10)]
    since = datetime.now(timezone.utc).date().isoformat()

    # when a backfill (slowed to a fifth of the budget) is killed once it has stored a few orders,
    # then the same command runs again
    slow = subprocess.Popen([sys.executable, "-m", "cli.main", "backfill", "--since", since, "--shop", shop.domain],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MLC_BACKFILL_BUDGET_SHARE": "0.2"})
    try:
        assert eventually(lambda: sum(e.source == "backfill" for e in shop.inbox()) >= 3, timeout=60)
    finally:
        slow.kill()
        slow.wait(timeout=30)
    out = backfill("--since", since, "--shop", shop.domain)

    # then the second run resumed after what the first had done, and each order is invoiced once
    assert "complete" in out, out
    [second] = shop.audit("shopify.backfilled")  # the killed run recorded nothing
    assert second.detail["resumed_from"] >= 2 and second.detail["done"] == len(history), second.detail
    assert eventually(lambda: all(shop.holds(order) for order in history), timeout=90)
    for order in history:
        assert len(shop.fusion_invoices(order)) == 1, order["id"]
    orders = [e.resource_id for e in shop.inbox() if e.topic.startswith("orders/")]
    assert sorted(orders) == sorted(str(order["id"]) for order in history)
