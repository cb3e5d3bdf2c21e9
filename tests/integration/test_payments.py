"""Payments become receipts applied to the invoice: Fusion's open balance follows Shopify's."""
from __future__ import annotations

from decimal import Decimal

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import eventually


def settled(shop, order) -> bool:
    """Every event of the order processed and the invoice's balance what Shopify says is owed."""
    return shop.events_handled() and shop.fusion_balance(order) == Decimal(shop.order(order["id"])["total_outstanding"])


def test_given_a_paid_order_then_one_receipt_applied_and_nothing_left_open(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))

    assert eventually(lambda: settled(shop, order), timeout=60)
    [receipt] = shop.fusion_receipts(order)
    assert (Decimal(str(receipt["Amount"])), Decimal(str(receipt["UnappliedAmount"]))) == \
        (Decimal("66.74"), Decimal("0"))
    assert shop.fusion_balance(order) == Decimal("0")
    [payment] = [e for e in shop.inbox() if e.topic == "orders/paid"]
    assert payment.state == InboxState.done  # no longer kept for a later release


def test_given_two_partial_payments_then_two_receipts_and_the_right_open_balance(shop):
    order = shop.place_order(new_order())
    assert eventually(lambda: (b := shop.binding("order", order["id"])) and b.state == BindingState.synced)

    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "20.00"})
    assert eventually(lambda: settled(shop, order) and len(shop.fusion_receipts(order)) == 1, timeout=60)
    assert shop.fusion_balance(order) == Decimal("46.74")

    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "6.74"})
    assert eventually(lambda: settled(shop, order) and len(shop.fusion_receipts(order)) == 2, timeout=60)
    assert shop.fusion_balance(order) == Decimal("40.00")


def test_given_only_an_authorization_then_no_receipt(shop):
    order = shop.place_order(dict(new_order(), financial_status="authorized"))

    assert eventually(lambda: settled(shop, order), timeout=60)
    assert shop.fusion_receipts(order) == []
    assert shop.fusion_balance(order) == Decimal("66.74")


def test_given_a_gateway_without_a_receipt_method_then_the_payment_parks_naming_the_key(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid", payment_gateway_names=["paypal"]))

    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.state == InboxState.parked), None), timeout=60)
    assert 'add paypal = "<receipt method>" under [receipt_methods]' in event.last_error
    assert shop.binding("order", order["id"]).state == BindingState.synced  # the invoice itself is fine
    assert shop.fusion_receipts(order) == []
