"""Backfill through the real stack: a shop's history, listed by a Shopify bulk operation, goes
through the webhooks' flows once, even when the backfill is interrupted and started again, and
never doubles what live webhooks already brought."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import func, select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import Binding, BindingState, InboxState, Shop
from tests.factories import new_order
from tests.support import default_stop_signals, eventually

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

LIVE, HISTORY = 4, 26
PAID_HISTORY = 40


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
    assert len(shop.inbox()) == live_events + len(backfilled) + len(bulk_finished(shop))
    assert all(e.state != InboxState.received for e in shop.inbox())
    assert shop.audit("shopify.backfilled")


def test_given_customers_who_never_ordered_when_a_shop_is_backfilled_then_each_goes_through_customers_create_once(
        shop, fusion):
    # given customers created before the connector was installed (their webhooks never sent): one
    # with an address, one without, and one who also placed an order
    def customer(address: bool) -> dict:
        email = f"quiet-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "first_name": "Ines", "last_name": "Okafor", "addresses": [
            {"address1": "5 Elm St", "city": "Denver", "province_code": "CO", "zip": "80202", "country_code": "US",
             "first_name": "Ines", "last_name": "Okafor"}] if address else []}
        response = requests.post(f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/customers",
                                 params={"deliver": "false"}, json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()
    with_address, without_address = customer(True), customer(False)
    buyer = shop.place_order(new_order(), deliver=False)
    since = datetime.now(timezone.utc).date().isoformat()

    # when the shop is backfilled, twice
    first = backfill("--since", since, "--shop", shop.domain)
    assert eventually(lambda: shop.holds(buyer) and shop.events_handled(), timeout=90)
    second = backfill("--since", since, "--shop", shop.domain)

    # then the customer with an address is a Fusion customer, once, as customers/create makes it
    assert "complete" in first and "complete" in second, first + second
    stored = [e for e in shop.inbox() if e.topic == "customers/create"]
    assert sorted(e.resource_id for e in stored) == sorted([str(with_address["id"]), str(without_address["id"])])
    assert {e.source for e in stored} == {"backfill"}
    assert shop.binding("customer", with_address["id"]).state == BindingState.synced
    assert len(fusion.persons(with_address["email"])) == 1
    # and the one without an address waits for its first order, as it does live
    assert shop.binding("customer", without_address["id"]) is None
    # and the buyer came with its order only (no customers/create of its own)
    assert shop.binding("customer", buyer["customer"]["id"]).state == BindingState.synced
    [second_run] = shop.audit("shopify.backfilled")[-1:]
    assert second_run.detail["enqueued"] == 0, second_run.detail


def test_given_the_shops_token_expires_mid_backfill_while_the_workers_read_shopify_then_it_is_refreshed_once(shop):
    # given a shop on expiring offline tokens whose history is of paid orders (each one's payment
    # is read from Shopify's Admin API by the worker that books it)
    shopify = f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}"
    requests.put(shopify, json={"expiring_offline_tokens": True}, timeout=10).raise_for_status()
    given = requests.post(f"{shopify}/offline_token", timeout=10).json()
    installed = subprocess.run([sys.executable, "-m", "cli.main", "shops", "token", shop.domain, "--stdin",
                                "--expires-in", str(given["expires_in"])], capture_output=True, text=True, timeout=120,
                               input=f"{given['access_token']}\n{given['refresh_token']}\n", env=dict(os.environ))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    response = requests.post(f"{shopify}/orders/generate", params={"deliver": "false"}, timeout=60, json={
        "count": PAID_HISTORY, "seed": 3, "first": random.randrange(10**6, 10**9), "customers": 2, "guest_share": 0,
        "financial_status": "paid"})
    response.raise_for_status()
    history = response.json()["orders"]

    # when a backfill runs and, once the workers are booking its orders (reading Shopify as they
    # go), the token Shopify issued reaches its end
    running = subprocess.Popen([sys.executable, "-m", "cli.main", "backfill", "--since", "2000-01-01", "--shop",
                                shop.domain], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "300", "MLC_BACKFILL_BUDGET_SHARE": "1"})
    try:
        assert eventually(lambda: synced_orders(shop) >= 4, timeout=120)
        assert requests.post(f"{shopify}/tokens/expire", timeout=10).json()["expired"] == 1
        out, _ = running.communicate(timeout=120)
    finally:
        running.kill()
    assert running.returncode == 0 and "complete" in out, out

    # then every order is booked, invoice and receipt, once
    assert eventually(lambda: synced_orders(shop) == len(history) and shop.events_handled(), timeout=180), \
        (synced_orders(shop), shop.last_attempt_errors())
    for order in history[::7]:
        assert shop.holds(order), shop.invariants(order)
    # and Shopify refused the expired token to the workers that held it, and was asked for one
    # refresh in all: the workers waited for it and used it
    tokens = requests.get(f"{shopify}/tokens", timeout=10).json()
    assert tokens["refresh_token"] == 1 and tokens["refused"] == 0 and tokens["unauthorized"] >= 1, tokens
    assert all(e.state == InboxState.done for e in shop.inbox() if e.topic != "bulk_operations/finish")


def synced_orders(shop) -> int:
    with session_scope(load_settings().database_url) as session:
        return session.scalar(select(func.count()).select_from(Binding).join(Shop, Shop.id == Binding.shop_id).where(
            Shop.domain == shop.domain, Binding.kind == "order", Binding.state == BindingState.synced))


def bulk_finished(shop) -> list:
    """The ``bulk_operations/finish`` webhooks the shop's backfills brought (stored, no flow takes them)."""
    return [e for e in shop.inbox() if e.topic == "bulk_operations/finish"]


def test_given_a_backfill_stopped_while_shopify_writes_its_listing_when_run_again_then_it_waits_for_that_listing(
        shop, redis_client):
    # given a shop's history, and a bulk listing Shopify takes its time to write
    history = [shop.place_order(new_order(), deliver=False) for _ in range(3)]
    hold = f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/bulk"
    requests.put(hold, json={"held": True}, timeout=10).raise_for_status()
    since = datetime.now(timezone.utc).date().isoformat()
    command = [sys.executable, "-m", "cli.main", "backfill", "--since", since, "--shop", shop.domain]
    env = {**os.environ, "COLUMNS": "300", "MLC_BACKFILL_BUDGET_SHARE": "1"}
    with session_scope(load_settings().database_url) as session:
        checkpoint = f"mlc:backfill:{session.scalar(select(Shop.id).where(Shop.domain == shop.domain))}:{since}"

    # when the operator presses Ctrl-C while the backfill waits for the listing
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             preexec_fn=default_stop_signals)
    try:
        assert eventually(lambda: redis_client.hget(checkpoint, "operation") or first.poll() is not None, timeout=60)
        assert first.poll() is None, first.communicate()[0]
        started = redis_client.hget(checkpoint, "operation")
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    finally:
        first.kill()
    # and runs the backfill again while that listing is still being written
    polled = requests.put(hold, json={"held": True}, timeout=10).json()["polls"]
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert eventually(lambda: second.poll() is not None
                          or requests.put(hold, json={"held": True}, timeout=10).json()["polls"] > polled, timeout=60)
        requests.put(hold, json={"held": False}, timeout=10).raise_for_status()
        out, _ = second.communicate(timeout=120)
    finally:
        second.kill()

    # then the second run waited for the listing the first one started, and finished the backfill
    assert second.returncode == 0 and "complete" in out, out
    assert redis_client.hget(checkpoint, "operation") == started
    assert eventually(lambda: all(shop.holds(order) for order in history), timeout=90)
