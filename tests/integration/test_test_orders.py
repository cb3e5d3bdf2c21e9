"""Test orders (Shopify's test gateway: no money moved) put nothing in Fusion unless asked to."""
from __future__ import annotations

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import eventually


def test_given_a_paid_test_order_and_its_refund_then_fusion_holds_nothing_and_the_audit_says_why(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid", test=True))
    refund = shop.act(f"orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": order["line_items"][1]["id"], "quantity": 1}]})

    money = lambda: [e for e in shop.inbox() if e.topic.startswith(("orders/", "refunds/"))]  # noqa: E731
    assert eventually(lambda: any(e.topic == "refunds/create" for e in money())
                      and all(e.state == InboxState.done for e in money()), timeout=60), \
        [(e.topic, e.state, e.last_error) for e in money()]
    assert shop.fusion_invoices(order) == []
    skipped = shop.binding("order", order["id"])
    assert skipped.state == BindingState.skipped and "test order" in skipped.last_error
    assert shop.binding("refund", refund["id"]).state == BindingState.skipped
    assert len(shop.audit("invoice.skipped")) == 1
