"""Events for one order arrive in any order and any number of times; each document waits for what
it depends on, and nothing is booked twice."""
from __future__ import annotations

import requests

from connector.models import InboxState
from tests.factories import new_order
from tests.support import eventually


def holds(shop, order) -> bool:
    quiet = all(e.state != InboxState.received for e in shop.inbox())
    return quiet and all(fusion == shopify for fusion, shopify in shop.money_invariants(order).values())


def test_given_the_refund_arrives_before_the_order_then_it_waits_and_everything_is_booked_once(shop):
    order = shop.place_order(new_order(), deliver=False)
    shop.act(f"orders/{order['id']}/transactions?deliver=false", {"kind": "sale", "amount": "66.74"})
    refund = shop.act(f"orders/{order['id']}/refunds?deliver=false", {
        "refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1, "restock_type": "return"}]})

    assert shop.deliver("refunds/create", refund).status_code == 200   # first: no invoice, no receipt yet
    waiting = eventually(lambda: next((e for e in shop.inbox() if e.attempts > 0), None))
    assert waiting is not None and waiting.state == InboxState.received   # waiting, not failed
    assert shop.deliver("orders/paid", shop.order(order["id"])).status_code == 200

    assert eventually(lambda: holds(shop, order) and shop.fusion_credit_memos(order), timeout=120), \
        shop.money_invariants(order)
    assert len(shop.fusion_invoices(order)) == 1 and len(shop.fusion_receipts(order)) == 1
    assert len(shop.fusion_credit_memos(order)) == 1
    assert all(e.state == InboxState.done for e in shop.inbox())


def test_given_every_webhook_duplicated_and_shuffled_then_one_document_each(shop):
    sandbox = shop.stack.urls["shopify_sandbox"]
    requests.post(f"{sandbox}/_sandbox/webhooks/config", json={"duplicates": 3, "out_of_order": True,
                                                                "max_delay_seconds": 1.0}, timeout=10).raise_for_status()
    try:
        order = shop.place_order(new_order())
        shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "30.00"})
        shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "36.74"})
        shop.act(f"orders/{order['id']}/refunds", {
            "refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1,
                                   "restock_type": "return"}]})

        assert eventually(lambda: holds(shop, order) and shop.fusion_credit_memos(order), timeout=150), \
            shop.money_invariants(order)
    finally:
        requests.post(f"{sandbox}/_sandbox/webhooks/config", json={"reset": True}, timeout=10).raise_for_status()
    assert len(shop.fusion_invoices(order)) == 1
    assert len(shop.fusion_receipts(order)) == 2
    assert len(shop.fusion_credit_memos(order)) == 1
