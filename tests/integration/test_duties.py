"""Duties and additional fees through the real processes: invoiced each on its own memo line, given
back by refunds and cancellations, Fusion in step with Shopify to the cent."""
from __future__ import annotations

from decimal import Decimal

from connector.models import BindingState
from tests.factories import new_order
from tests.support import eventually


def order_with_duties(**kw) -> dict:
    """The reference order (66.74) with a 5.00 duty on the tees (taxed 8 %: 0.40) and a 2.00 fee."""
    order = dict(new_order(), **kw)
    order["line_items"] = [dict(li) for li in order["line_items"]]
    order["line_items"][0]["duties"] = [{"price": "5.00", "harmonized_system_code": "610910",
                                         "country_code_of_origin": "CN",
                                         "tax_lines": [{"title": "State Tax", "rate": "0.08"}]}]
    order["additional_fees"] = [{"name": "Import handling", "price": "2.00"}]
    return order


def test_given_an_order_with_duties_and_fees_then_it_is_invoiced_to_the_cent(shop):
    # given an order whose total includes a taxed duty and an additional fee
    order = shop.place_order(order_with_duties())
    assert order["total_price"] == "74.14"

    # when the connector invoices it
    shop.wait_invoiced(order)

    # then the invoice is Shopify's total, the duty and the fee each on their own memo line
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)
    [invoice] = shop.fusion_invoices(order)
    assert Decimal(str(invoice["EnteredAmount"])) == Decimal("74.14")
    lines = {line["MemoLine"]: line for line in invoice["receivablesInvoiceLines"]}
    assert Decimal(str(lines["Duties"]["UnitSellingPrice"])) == Decimal("5.00")
    assert Decimal(str(lines["Additional Fees"]["UnitSellingPrice"])) == Decimal("2.00")


def test_given_a_paid_order_with_duties_when_they_are_refunded_then_the_memo_credits_them(shop):
    # given a paid order with duties, invoiced and its payment received
    order = shop.place_order(order_with_duties(financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)
    tee = order["line_items"][0]

    # when one tee is returned with its share of the duty
    refund = shop.act(f"orders/{order['id']}/refunds", {
        "refund_line_items": [{"line_item_id": tee["id"], "quantity": 1, "restock_type": "return"}],
        "refund_duties": [{"duty_id": tee["duties"][0]["id"], "refund_type": "PROPORTIONAL"}]})

    # then one memo credits the tee and half the duty with their tax, and the money leaves the receipt
    assert [t["amount"] for t in refund["transactions"]] == ["27.00"]  # 22.50 + 1.80 + 2.50 + 0.20
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=90), \
        shop.invariants(order)
    [memo] = shop.fusion_credit_memos(order)
    assert Decimal(str(memo["EnteredAmount"])) == Decimal("-27.00")
    assert shop.fusion_balance(order) == Decimal("0")
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")
    binding = shop.binding("refund", refund["id"])
    assert binding.state == BindingState.synced
    assert (binding.fusion_refs["line"], binding.fusion_refs["tax"]) == ("25.00", "2.00")


def test_given_an_order_with_duties_and_fees_when_it_is_cancelled_then_everything_is_credited(shop):
    # given a paid order with a duty and a fee, invoiced
    order = shop.place_order(order_with_duties(financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)

    # when it is cancelled (Shopify refunds the goods, the shipping, the duty and the fee)
    cancelled = shop.act(f"orders/{order['id']}/cancel", {"reason": "customer"})
    assert cancelled["current_total_price"] == "0.00"

    # then Fusion's documents come to nothing and nothing is open or unapplied
    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=120), \
        shop.invariants(order)
    assert shop.invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))
    assert sum((Decimal(str(m["EnteredAmount"])) for m in shop.fusion_credit_memos(order)), Decimal(0)) \
        == Decimal("-74.14")
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")
