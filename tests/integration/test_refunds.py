"""Refunds become credit memos against the invoice, and refunded money leaves the receipt:
Fusion's documents and open balance follow Shopify's to the cent."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import TestShop, eventually


def line_refund(order, index=0, quantity=1, shipping=False) -> dict:
    body = {"refund_line_items": [{"line_item_id": order["line_items"][index]["id"], "quantity": quantity,
                                   "restock_type": "return"}]}
    if shipping:
        body["shipping"] = {"full_refund": True}
    return body


def test_given_a_paid_order_when_one_item_is_refunded_then_a_memo_and_the_money_leaves_the_receipt(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    refund = shop.act(f"orders/{order['id']}/refunds", line_refund(order))

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=90), \
        shop.invariants(order)
    [memo] = shop.fusion_credit_memos(order)
    money_back = Decimal(refund["transactions"][0]["amount"])  # single currency: presentment is shop money
    assert money_back == Decimal("24.30")  # one tee: 22.50 after its discount, 1.80 tax
    assert Decimal(str(memo["EnteredAmount"])) == -money_back
    assert shop.fusion_balance(order) == Decimal("0")  # the customer kept the rest, paid
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")  # nothing left on account
    [event] = [e for e in shop.inbox() if e.topic == "refunds/create"]
    assert event.state == InboxState.done


def test_given_a_refund_whose_money_is_pending_then_it_is_booked_once_the_provider_pays_it_out(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)

    refund = shop.act(f"orders/{order['id']}/refunds", dict(line_refund(order), _pending=True))

    # the refund waits: nothing is credited or written off while the money may still fail
    waiting = lambda: [e for e in shop.inbox() if e.topic == "refunds/create"]  # noqa: E731
    assert eventually(lambda: waiting() and "still pending" in shop.last_attempt_errors().get(waiting()[0].id, ""),
                      timeout=60)
    assert shop.fusion_credit_memos(order) == [] and waiting()[0].state == InboxState.received
    shop.act(f"orders/{order['id']}/transactions/{refund['transactions'][0]['id']}/settle", {"status": "success"})

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=90), \
        shop.invariants(order)
    [memo] = shop.fusion_credit_memos(order)
    assert Decimal(str(memo["EnteredAmount"])) == -Decimal("24.30")
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")  # the 24.30 left the receipt once paid out


def test_given_a_paid_order_when_everything_is_refunded_then_documents_sum_to_zero(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/refunds", {
        "refund_line_items": [{"line_item_id": li["id"], "quantity": li["quantity"], "restock_type": "return"}
                              for li in order["line_items"]], "shipping": {"full_refund": True}})

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.invariants(order)
    assert shop.invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))


def test_given_two_refunds_then_two_memos_numbered_in_order(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/refunds", line_refund(order, index=0))
    shop.act(f"orders/{order['id']}/refunds", line_refund(order, index=1, shipping=True))

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 2, timeout=120), \
        shop.invariants(order)
    numbers = sorted(m["TransactionNumber"] for m in shop.fusion_credit_memos(order))
    assert numbers == [f"{shop.prefix}-{order['order_number']}-C1", f"{shop.prefix}-{order['order_number']}-C2"]


def test_given_an_unpaid_order_when_an_item_is_refunded_then_the_memo_lowers_what_is_owed(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/refunds", line_refund(order))

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.invariants(order)
    assert shop.fusion_receipts(order) == []


def test_given_a_free_gift_when_only_it_is_returned_then_no_memo_and_the_reason_says_so(shop):
    order = dict(new_order(), financial_status="paid")
    order["line_items"] = order["line_items"] + [{"sku": "GIFT-CARD-TIN", "title": "Gift tin", "quantity": 1,
                                                  "price": "0.00", "tax_lines": []}]
    order = shop.place_order(order)
    shop.wait_invoiced(order)

    refund = shop.act(f"orders/{order['id']}/refunds", line_refund(order, index=len(order["line_items"]) - 1))

    # nothing to credit and no money back: no memo, and an accountant reading why is told the truth
    skipped = lambda: shop.binding("refund", refund["id"])  # noqa: E731
    assert eventually(lambda: skipped() is not None and skipped().state == BindingState.skipped, timeout=90)
    assert "only goods Shopify says were worth nothing" in skipped().last_error, skipped().last_error
    assert shop.fusion_credit_memos(order) == [] and shop.holds(order), shop.invariants(order)


@pytest.fixture
def vat_shop(stack):
    return TestShop.create(stack, prefix=("V" + uuid.uuid4().hex[:7]).upper(), taxes_included=True)


def test_given_a_vat_inclusive_shop_when_an_item_and_shipping_are_refunded_then_tax_is_not_counted_twice(vat_shop):
    shop = vat_shop
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/refunds", line_refund(order, shipping=True))

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.invariants(order)


def test_given_the_write_off_answer_is_lost_then_the_retry_does_not_write_off_twice(shop, fusion):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)
    # the write-off (SOAP createActivityApplication) commits, but its answer never arrives
    fusion.fault(kind="lost_response", count=1, methods=["POST"], path_prefix="/fscmService/StandardReceiptService")

    shop.act(f"orders/{order['id']}/refunds", line_refund(order))

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.invariants(order)
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")
    assert shop.binding("refund", shop.order(order["id"])["refunds"][0]["id"]).state == BindingState.synced
