"""Cancellations: the refund that comes with one is its credit; an uninvoiced one gets no invoice."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import eventually


def test_given_a_paid_order_when_cancelled_then_its_refund_credits_everything_and_nothing_is_owed(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.money_invariants(order)
    assert shop.money_invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))
    [cancelled] = [e for e in shop.inbox() if e.topic == "orders/cancelled"]
    assert cancelled.state == InboxState.done, cancelled.last_error


@pytest.mark.parametrize("status", ["paid", "pending"])
def test_given_an_order_with_a_tip_when_cancelled_then_the_tip_is_credited_with_the_goods(shop, status):
    order = shop.place_order(dict(new_order(), financial_status=status, total_tip_received="5.00"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order), timeout=60), shop.money_invariants(order)

    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})

    # the cancellation's refund gives the tip back too, though its REST body has no line for it
    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.money_invariants(order)
    assert shop.money_invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))
    assert all(e.state == InboxState.done for e in shop.inbox() if e.topic in ("refunds/create", "orders/cancelled"))


def test_given_an_unpaid_order_when_cancelled_then_the_invoice_is_credited_to_zero(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.money_invariants(order)
    assert shop.fusion_balance(order) == Decimal("0.00")


def test_given_an_order_cancelled_before_it_was_invoiced_then_no_invoice_and_its_refund_books_nothing(shop):
    order = shop.place_order(new_order(), deliver=False)
    cancelled = shop.act(f"orders/{order['id']}/cancel?deliver=false", {"reason": "fraud"})
    [refund] = shop.order(order["id"])["refunds"]

    assert shop.deliver("refunds/create", dict(refund, order_id=order["id"])).status_code == 200
    assert shop.deliver("orders/create", cancelled).status_code == 200
    assert shop.deliver("orders/cancelled", cancelled).status_code == 200

    assert eventually(lambda: len(shop.inbox()) == 3 and all(e.state == InboxState.done for e in shop.inbox()),
                      timeout=60), [(e.topic, e.state, e.last_error) for e in shop.inbox()]
    assert shop.fusion_invoices(order) == []
    assert len(shop.audit("invoice.skipped")) == 1
    assert shop.binding("order", order["id"]).state == BindingState.skipped
