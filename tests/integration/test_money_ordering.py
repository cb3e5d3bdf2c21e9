"""Events for one order arrive in any order and any number of times; each document waits for what
it depends on, and nothing is booked twice."""
from __future__ import annotations

import requests

from connector.models import InboxState
from tests.factories import new_order
from tests.support import eventually


def test_given_the_refund_arrives_before_the_order_then_it_waits_and_everything_is_booked_once(shop):
    order = shop.place_order(new_order(), deliver=False)
    shop.act(f"orders/{order['id']}/transactions?deliver=false", {"kind": "sale", "amount": "66.74"})
    refund = shop.act(f"orders/{order['id']}/refunds?deliver=false", {
        "refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1, "restock_type": "return"}]})

    assert shop.deliver("refunds/create", refund).status_code == 200   # first: no invoice, no receipt yet
    waiting = eventually(lambda: next((e for e in shop.inbox() if "waits for" in e.last_error), None), timeout=45)
    assert waiting is not None and waiting.state == InboxState.received   # waiting, not failed
    assert shop.deliver("orders/paid", shop.order(order["id"])).status_code == 200

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=120), \
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

        assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=150), \
            shop.money_invariants(order)
    finally:
        requests.post(f"{sandbox}/_sandbox/webhooks/config", json={"reset": True}, timeout=10).raise_for_status()
    assert len(shop.fusion_invoices(order)) == 1
    assert len(shop.fusion_receipts(order)) == 2
    assert len(shop.fusion_credit_memos(order)) == 1


def test_given_two_refunds_delivered_in_reverse_then_each_waits_its_turn_and_both_are_right(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)
    first = shop.act(f"orders/{order['id']}/refunds?deliver=false", {
        "refund_line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}]})
    second = shop.act(f"orders/{order['id']}/refunds?deliver=false", {
        "refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1, "restock_type": "return"}],
        "shipping": {"full_refund": True}})

    assert shop.deliver("refunds/create", second).status_code == 200
    assert eventually(lambda: any("waits for the order's earlier refund" in e.last_error
                                  for e in shop.inbox() if e.topic == "refunds/create"), timeout=45)
    assert shop.deliver("refunds/create", first).status_code == 200
    assert shop.deliver("orders/updated", shop.order(order["id"])).status_code == 200

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 2, timeout=120), \
        shop.money_invariants(order)
    memos = {m["TransactionNumber"]: m for m in shop.fusion_credit_memos(order)}
    stem = f"{shop.prefix}-{order['order_number']}-C"
    assert memos[f"{stem}1"]["CustomerReference"] == first["admin_graphql_api_id"]
    assert memos[f"{stem}2"]["CustomerReference"] == second["admin_graphql_api_id"]
    [receipt] = shop.fusion_receipts(order)
    assert str(receipt["UnappliedAmount"]) in ("0", "0.00", "0.0")
    assert all(e.state == InboxState.done for e in shop.inbox() if e.topic.startswith(("refunds", "orders"))), \
        [(e.topic, e.state, e.last_error) for e in shop.inbox()]
