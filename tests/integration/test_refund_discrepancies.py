"""Refunds that give back more or less than their lines: a restocking fee is charged on a debit
memo of its own, money given beyond the lines (an amount-only refund) is credited by a memo of
its own, and Fusion still follows Shopify to the cent."""
from __future__ import annotations

from decimal import Decimal

from tests.factories import new_order
from tests.support import eventually


def one_tee(order: dict, **extra) -> dict:
    return {"refund_line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1,
                                   "restock_type": "return"}], **extra}


def amount(document: dict, key: str = "EnteredAmount") -> Decimal:
    return Decimal(str(document[key]))


def test_given_a_paid_order_when_a_return_keeps_a_restocking_fee_then_the_fee_is_charged_apart(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    refund = shop.act(f"orders/{order['id']}/refunds", one_tee(order, restocking_fee="2.00"))

    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order, "F"), timeout=90), \
        shop.invariants(order)
    assert [a["reason"] for a in refund["order_adjustments"]] == ["restock"]
    [memo] = shop.fusion_credit_memos(order)
    assert amount(memo) == Decimal("-24.30")          # the tee returned: 22.50 and 1.80 tax, in full
    [fee] = shop.fusion_debit_memos(order, "F")
    assert fee["TransactionNumber"] == f"{shop.prefix}-{order['order_number']}-F1"
    assert amount(fee) == Decimal("2.00")             # kept from the customer, on its own memo line
    assert Decimal(shop.order(order["id"])["total_outstanding"]) == 0
    assert shop.fusion_balance(order) == 0 and amount(fee, "InvoiceBalanceAmount") == 0
    [receipt] = shop.fusion_receipts(order)
    assert amount(receipt, "UnappliedAmount") == 0    # 22.30 written off, the rest pays invoice and fee


def test_given_a_paid_order_when_money_is_given_back_without_a_return_then_a_memo_credits_it(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    refund = shop.act(f"orders/{order['id']}/refunds", {"transactions": [{"amount": "5.00"}], "note": "goodwill"})

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.invariants(order)
    assert refund["refund_line_items"] == [] and refund["order_adjustments"][0]["amount"] == "-5.00"
    [memo] = shop.fusion_credit_memos(order)
    assert (memo["TransactionNumber"], amount(memo)) == (f"{shop.prefix}-{order['order_number']}-C1", Decimal("-5.00"))
    assert memo["CustomerReference"] == refund["admin_graphql_api_id"]
    assert shop.fusion_balance(order) == 0
    [receipt] = shop.fusion_receipts(order)
    assert amount(receipt, "UnappliedAmount") == 0


def test_given_a_return_that_gives_back_more_than_the_line_then_the_extra_is_a_memo_of_its_own(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)

    shop.act(f"orders/{order['id']}/refunds", one_tee(order, transactions=[{"amount": "27.30"}]))

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 2, timeout=90), \
        shop.invariants(order)
    memos = {m["TransactionNumber"]: amount(m) for m in shop.fusion_credit_memos(order)}
    stem = f"{shop.prefix}-{order['order_number']}-C1"
    assert memos == {stem: Decimal("-24.30"), f"{stem}B": Decimal("-3.00")}   # the tee, then the extra 3.00
    assert shop.document_counts(order)["credit_memos"] == ([], [])  # one refund, one memo series


def test_given_a_partly_paid_order_when_a_return_keeps_a_fee_then_what_is_owed_matches_shopify(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "10.00"})

    shop.act(f"orders/{order['id']}/refunds", one_tee(order, restocking_fee="1.50"))

    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order, "F"), timeout=120), \
        shop.invariants(order)
    outstanding = Decimal(shop.order(order["id"])["total_outstanding"])
    assert outstanding > 0 and shop.invariants(order)["balance"] == (outstanding, outstanding)


def test_given_a_fee_was_kept_when_the_order_is_cancelled_then_nothing_more_is_credited_than_shopify_says(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    shop.act(f"orders/{order['id']}/refunds", one_tee(order, restocking_fee="2.00"))
    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order, "F"), timeout=90)

    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) >= 2, timeout=120), \
        shop.invariants(order)
    # everything returned, the fee kept: Fusion holds exactly the fee, and it is paid
    assert shop.invariants(order)["documents"] == (Decimal("2.00"), Decimal("2.00"))
    assert shop.invariants(order)["balance"] == (Decimal("0.00"), Decimal("0.00"))


def test_given_money_was_given_back_when_the_goods_come_back_then_it_is_not_credited_twice(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    shop.act(f"orders/{order['id']}/refunds", {"transactions": [{"amount": "5.00"}]})
    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90)

    shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})

    # Shopify keeps the 5.00 back from the return (a discrepancy in the merchant's favour): the
    # return's memo credits what the invoice still holds and nothing is charged back
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) >= 2, timeout=120), \
        shop.invariants(order)
    assert shop.invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))
    assert shop.fusion_debit_memos(order, "F") == []
    [receipt] = shop.fusion_receipts(order)
    assert amount(receipt, "UnappliedAmount") == 0
