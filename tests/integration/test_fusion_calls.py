"""What an order costs in calls: the Fusion budget is shared by every shop, so each call counts.

Counted from the connector's own audit trail (one ``<system>.call`` row per exchange), which is
what an operator reads when a pod's limit is reached.
"""
from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from connector.models import InboxState
from tests.factories import new_order
from tests.support import eventually


def calls(shop, system: str, order: dict) -> Counter:
    """The order's calls to ``system``, as "METHOD resource[/action]" with ids left out."""
    counted = Counter()
    for row in shop.audit(f"{system}.call"):
        if row.subject_id == str(order["id"]):
            path = re.sub(r"\?.*$", "", row.detail["url"].split("/resources/", 1)[-1])
            resource = "/".join(part for part in path.split("/")[1:] if not part.isdigit())
            counted[f"{row.detail['method']} {resource}"] += 1
    return counted


def known_customer(shop) -> str:
    """A customer whose Fusion account the connector has bound already."""
    first = shop.place_order(new_order())
    shop.wait_invoiced(first)
    assert shop.quiet()
    return first["email"]


def test_an_unpaid_order_of_a_known_customer_costs_one_fusion_request_the_invoice(shop):
    email = known_customer(shop)

    order = shop.place_order(new_order(email))

    assert eventually(lambda: shop.quiet() and shop.binding("order", order["id"]).state.value == "synced", timeout=60)
    assert calls(shop, "fusion", order) == Counter({"POST receivablesInvoices": 1})
    # (a later state of a settled order is handled in full: tests/integration/test_payments.py)


def test_a_paid_order_of_a_known_customer_costs_four_and_its_repeated_webhook_none(shop):
    email = known_customer(shop)

    # when: a paid order arrives, as orders/create and orders/paid with the same state
    order = shop.place_order(dict(new_order(email), financial_status="paid"))
    assert eventually(lambda: shop.quiet() and shop.holds(order), timeout=60)

    # then: the invoice, the receipt, the invoice's installments and the application, nothing else
    assert calls(shop, "fusion", order) == Counter({
        "POST receivablesInvoices": 1, "POST standardReceipts": 1, "GET receivablesInvoices": 1,
        "POST standardReceipts/action/applyReceipt": 1})
    # and of its two webhooks, the one that found the state in Fusion asked neither system anything
    events = [e for e in shop.inbox() if e.resource_id == str(order["id"])]
    assert sorted(e.topic for e in events) == ["orders/create", "orders/paid"]
    assert all(e.state == InboxState.done for e in events)
    rows = shop.audit("fusion.call") + shop.audit("shopify.call")
    assert [sum(1 for r in rows if r.detail.get("inbox_id") == e.id) for e in events].count(0) == 1
    assert [Decimal(str(r["UnappliedAmount"])) for r in shop.fusion_receipts(order)] == [Decimal(0)]

