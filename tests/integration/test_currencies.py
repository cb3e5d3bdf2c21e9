"""A shop in yen, a currency without decimals: Fusion books whole yen and follows Shopify to the yen."""
from __future__ import annotations

import uuid
from decimal import Decimal

from tests.support import TestShop, eventually


def yen_order(email: str) -> dict:
    """3 tees at 1234 yen and 600 yen of shipping, 7.25 % tax on top, unpaid."""
    tax = [{"title": "Tax", "rate": "0.0725"}]
    return {"email": email, "financial_status": "pending",
            "line_items": [{"sku": "TEE", "title": "Tee", "quantity": 3, "price": "1234", "tax_lines": tax}],
            "shipping_lines": [{"title": "Standard", "code": "STANDARD", "price": "600", "tax_lines": tax}],
            "billing_address": {"first_name": "Hiro", "last_name": "Tanaka", "address1": "1-1 Jingumae",
                                "city": "Tokyo", "country_code": "JP", "zip": "150-0001"},
            "customer": {"email": email, "first_name": "Hiro", "last_name": "Tanaka"}}


def whole(amount) -> bool:
    """An amount as Fusion's JSON gives it, with no decimals (a JSON integer)."""
    return isinstance(amount, int)


def test_a_yen_order_paid_in_two_parts_and_partly_refunded_stays_in_step_to_the_yen(stack):
    # given a JPY shop and an unpaid order: 3702 + 268 tax (268.395) + 600 shipping + 44 tax (43.5) = 4614 yen
    shop = TestShop.create(stack, prefix=("Y" + uuid.uuid4().hex[:7]).upper(), currency="JPY")
    order = shop.place_order(yen_order(f"hiro-{uuid.uuid4().hex[:8]}@example.jp"))
    assert order["total_price"] == "4614"
    shop.wait_invoiced(order)

    # when the customer pays 1000 yen, then the rest
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "1000"})
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_receipts(order)) == 1, timeout=60)
    assert shop.fusion_balance(order) == Decimal(3614)
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "3614"})
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_receipts(order)) == 2, timeout=60)

    # and gets one tee back: 1234 + 89 tax (268 / 3) = 1323 yen
    tee = order["line_items"][0]
    refund = shop.act(f"orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": tee["id"], "quantity": 1, "restock_type": "return"}]})
    assert [t["amount"] for t in refund["transactions"]] == ["1323"]
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=90)

    # then Fusion holds the 4614-yen invoice, a 1323-yen credit memo and both receipts, all in whole yen
    now = shop.order(order["id"])
    assert (now["current_total_price"], now["total_outstanding"]) == ("3291", "0")
    [invoice] = shop.fusion_invoices(order)
    [memo] = shop.fusion_credit_memos(order)
    receipts = sorted(shop.fusion_receipts(order), key=lambda r: r["Amount"])
    assert (invoice["InvoiceCurrencyCode"], invoice["EnteredAmount"], invoice["InvoiceBalanceAmount"]) == ("JPY", 4614, 0)
    assert memo["EnteredAmount"] == -1323
    assert [(r["Currency"], r["Amount"]) for r in receipts] == [("JPY", 1000), ("JPY", 3614)]
    assert sum(r["UnappliedAmount"] for r in receipts) == 0
    amounts = [invoice["EnteredAmount"], invoice["InvoiceBalanceAmount"], memo["EnteredAmount"]] + \
        [r[key] for r in receipts for key in ("Amount", "UnappliedAmount")] + \
        [line[key] for line in invoice["receivablesInvoiceLines"] for key in ("LineAmount", "UnitSellingPrice")]
    assert all(whole(a) for a in amounts), amounts
    # and the invariants hold to the yen: 4614 − 1323 = 3291 = current_total_price, nothing open
    assert shop.invariants(order) == {"documents": (Decimal(3291), Decimal(3291)), "balance": (Decimal(0), Decimal(0))}
