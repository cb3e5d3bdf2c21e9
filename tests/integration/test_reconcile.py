"""Shopify reconciliation through the real stack: what Shopify changed but never told the connector
(its webhooks lost) reaches Fusion after one reconciliation run, exactly once however often it runs."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal

from connector.config import load_settings
from connector.db import session_scope
from connector.models import BindingState, InboxState
from connector.services import reconcile
from connector.services.context import Services
from tests.factories import new_order
from tests.support import TestShop, eventually
from workers.dispatch import send_after_commit


def reconcile_shop(shop) -> reconcile.ShopResult:
    """One reconciliation run of the shop, as beat's task runs it (in this process)."""
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        [result] = reconcile.run(services, session, send_after_commit, shop_domain=shop.domain, days=1)
    assert not result.error, result.error
    return result


def reconcile_shopify(*args: str) -> str:
    """The operator's command, as a process of its own (wide, so rich does not fold the tables)."""
    done = subprocess.run([sys.executable, "-m", "cli.main", "reconcile-shopify", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "300"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_given_an_order_whose_webhooks_were_lost_then_the_next_reconciliation_invoices_it(shop):
    # given a paid order of a new customer: Shopify fired customers/create, orders/create and
    # orders/paid, and none of them arrived
    order = shop.place_order(dict(new_order(), financial_status="paid"), deliver=False)
    assert shop.inbox() == []

    # when the operator runs a reconciliation
    out = reconcile_shopify("--shop", shop.domain, "--days", "1")

    # then the order and its customer were found missing and enqueued, and the order is invoiced
    # and paid in Fusion like any other
    assert str(order["id"]) in out and "missing" in out and "orders/create" in out, out
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)
    assert shop.binding("order", order["id"]).state == BindingState.synced
    assert len(shop.fusion_invoices(order)) == 1 and len(shop.fusion_receipts(order)) == 1
    events = {e.topic: e for e in shop.inbox()}
    assert sorted(events) == ["customers/create", "orders/create"]
    assert {e.source for e in events.values()} == {"reconcile"}
    assert events["orders/create"].state == InboxState.done
    # (a customer with no address of its own waits for its first order's, as its webhook would)
    assert events["customers/create"].state in (InboxState.done, InboxState.deferred)


def test_given_a_reconciliation_run_twice_then_nothing_is_created_twice(shop):
    # given two orders whose webhooks were lost
    orders = [shop.place_order(dict(new_order(), financial_status="paid"), deliver=False) for _ in range(2)]

    # when reconciliation runs twice before the workers get to them, and once more after
    first, second = reconcile_shop(shop), reconcile_shop(shop)
    assert eventually(lambda: all(shop.holds(order) for order in orders), timeout=60)
    third = reconcile_shop(shop)

    # then only the first run enqueued anything: one invoice and one receipt per order
    assert sorted((f.kind, f.reason) for f in first.found) == [("customer", "missing")] * 2 + [("order", "missing")] * 2
    assert (first.orders, second.found, third.found) == (2, [], [])
    assert len(shop.inbox()) == 4
    for order in orders:
        assert shop.document_counts(order)["invoices"] == (1, 1)
        assert len(shop.fusion_receipts(order)) == 1


def test_given_a_refund_whose_webhooks_were_lost_then_reconciliation_books_its_credit_memo(shop):
    # given an invoiced, paid order, then a refund of one tee whose refunds/create and
    # orders/updated never arrived
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)
    refund = shop.act(f"orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": order["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}]}, deliver=False)
    assert shop.fusion_credit_memos(order) == []

    # when reconciliation runs
    result = reconcile_shop(shop)

    # then the refund was missing (and the order stale), and its credit memo is booked to the cent
    assert sorted((f.kind, f.shopify_id, f.reason) for f in result.found) == [
        ("order", str(order["id"]), "stale"), ("refund", str(refund["id"]), "missing")]
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=60), \
        shop.invariants(order)
    [memo] = shop.fusion_credit_memos(order)
    assert Decimal(str(memo["EnteredAmount"])) == -Decimal("24.30")  # one tee: 22.50 after its discount, 1.80 tax
    assert shop.binding("refund", refund["id"]).state == BindingState.synced
    assert reconcile_shop(shop).found == []


def test_given_the_lost_webhook_arrives_after_reconciliation_then_nothing_is_booked_twice(shop):
    # given an order reconciled and invoiced while its webhooks were still being retried
    order = shop.place_order(dict(new_order(), financial_status="paid"), deliver=False)
    reconcile_shop(shop)
    assert eventually(lambda: shop.holds(order), timeout=60)

    # when Shopify's retry of orders/create finally arrives
    assert shop.deliver("orders/create", shop.order(order["id"])).status_code == 200

    # then it is handled, and Fusion still holds one invoice and one receipt
    assert eventually(lambda: shop.holds(order) and len(shop.inbox()) == 3, timeout=60)
    assert {e.source for e in shop.inbox()} == {"webhook", "reconcile"}
    assert shop.document_counts(order)["invoices"] == (1, 1)
    assert len(shop.fusion_receipts(order)) == 1


def test_given_a_cancellation_whose_webhooks_were_lost_then_reconciliation_credits_the_invoice(shop):
    # given an invoiced, unpaid order cancelled in Shopify: its orders/cancelled, orders/updated
    # (and, with nothing paid, an empty refunds/create) never arrived
    order = shop.place_order(new_order())
    assert eventually(lambda: shop.holds(order), timeout=60)
    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"}, deliver=False)

    # when reconciliation runs
    result = reconcile_shop(shop)

    # then the cancellation is handled as its webhook would have been: the invoice credited to zero
    assert ("order", "stale", "orders/cancelled") in {(f.kind, f.reason, f.topic) for f in result.found}, result
    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=60), \
        shop.invariants(order)
    assert shop.fusion_balance(order) == Decimal("0.00")
    assert reconcile_shop(shop).found == []


def test_given_a_new_york_shop_then_an_order_at_2330_local_is_invoiced_that_day_by_webhook_and_by_reconciliation(
        stack):
    # given a New York shop and two orders processed at 23:30 local on 31 January (04:30 UTC on
    # 1 February): the webhooks of one arrive, those of the other are lost
    shop = TestShop.create(stack, prefix=("T" + uuid.uuid4().hex[:7]).upper(), iana_timezone="America/New_York")
    late = dict(new_order(), processed_at="2026-01-31T23:30:00-05:00", created_at="2026-01-31T23:30:00-05:00")
    delivered = shop.place_order(dict(late))
    lost = shop.place_order(dict(late), deliver=False)
    assert delivered["processed_at"] == "2026-01-31T23:30:00-05:00"  # REST writes the shop's offset
    shop.wait_invoiced(delivered)

    # when a reconciliation finds the lost one (over GraphQL, which writes UTC)
    reconcile_shop(shop)
    shop.wait_invoiced(lost)

    # then both invoices take the shop's local date, 31 January
    [by_webhook], [by_reconciliation] = shop.fusion_invoices(delivered), shop.fusion_invoices(lost)
    assert by_webhook["TransactionDate"] == by_reconciliation["TransactionDate"] == "2026-01-31"
