"""Each currency at its own decimals: whole yen in a JPY shop, three decimals in a KWD one.

Shopify rounds every amount to its currency's minor units (ISO 4217) and writes it with exactly
that many decimals: "3970" yen, "25.925" dinars, "66.74" dollars.
"""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from sandbox.shopify import jsonio
from sandbox.shopify.money import allocate, fmt, rounded, unit


def _shop(sandbox, receiver, currency: str, taxes_included: bool = False) -> str:
    domain = f"{currency.lower()}-{uuid.uuid4().hex[:8]}.myshopify.com"
    r = sandbox.put_shop(domain, client_id="app-id", client_secret="app-secret", webhook_url=receiver.url,
                         currency=currency, taxes_included=taxes_included)
    assert r.status_code == 201, r.text
    return domain


def _order(lines, rate: str, **extra) -> dict:
    """An order of (price, quantity) lines, each taxed at ``rate``, with nothing computed."""
    return {"email": "ana@example.com", "financial_status": "paid",
            "line_items": [{"title": f"Item {i}", "price": price, "quantity": quantity,
                            "tax_lines": [{"title": "Tax", "rate": rate}]}
                           for i, (price, quantity) in enumerate(lines)], **extra}


def _place(sandbox, shop: str, order: dict) -> dict:
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", order)
    assert r.status_code == 201, r.text
    return r.json()


# -- the arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize("currency, amount, shown", [
    ("JPY", "3390.33", "3390"), ("JPY", "268.5", "269"), ("KRW", "1000", "1000"),
    ("KWD", "1.2345", "1.235"), ("BHD", "12.3", "12.300"), ("USD", "66.745", "66.75"), ("EUR", "0", "0.00"),
])
def test_an_amount_is_written_with_its_currency_s_decimals(currency, amount, shown):
    assert fmt(amount, currency) == shown


def test_a_currency_iso_does_not_list_gets_two_decimals():
    assert unit("BGN") == unit("XYZ") == Decimal("0.01") and unit("JPY") == 1 and unit("KWD") == Decimal("0.001")


def test_a_yen_discount_is_allocated_in_whole_yen_and_adds_up():
    # given a 10 % discount of 470 yen over lines of 3702 and 999 yen
    # when it is allocated
    parts = allocate(rounded(Decimal("4701") / 10, "JPY"), [Decimal(3702), Decimal(999)], "JPY")
    # then each part is whole yen and together they are the discount
    assert parts == [Decimal(370), Decimal(100)] and sum(parts) == 470


# -- orders in a yen shop ----------------------------------------------------------------------


def test_a_yen_order_is_taxed_per_line_in_whole_yen(sandbox, receiver):
    # given a JPY shop that adds 7.25 % tax
    shop = _shop(sandbox, receiver, "JPY")
    # when 3 items at 1234 yen are ordered
    order = _place(sandbox, shop, _order([("1234", 3)], "0.0725"))
    # then the tax is 268 yen (3702 × 7.25 % = 268.395) and the order totals 3970 yen, no decimals anywhere
    assert order["line_items"][0]["tax_lines"][0]["price"] == "268"
    assert (order["total_line_items_price"], order["total_tax"], order["total_price"]) == ("3702", "268", "3970")
    assert order["total_price_set"] == {"shop_money": {"amount": "3970", "currency_code": "JPY"},
                                        "presentment_money": {"amount": "3970", "currency_code": "JPY"}}
    assert order["current_total_price"] == "3970" and order["total_outstanding"] == "0"
    [sale] = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions").json()["transactions"]
    assert sale["amount"] == "3970"


def test_a_yen_discount_and_a_partial_refund_stay_in_whole_yen(sandbox, receiver):
    # given a paid JPY order: 3 × 1234 and 1 × 999 yen, 10 % off across both, 8 % tax
    shop = _shop(sandbox, receiver, "JPY")
    order = _place(sandbox, shop, _order([("1234", 3), ("999", 1)], "0.08",
                                         discount_applications=[{"type": "manual", "title": "Ten", "value": "10.0",
                                                                 "value_type": "percentage",
                                                                 "allocation_method": "across"}]))
    # then the 470-yen discount is split 370 / 100 and each line's tax is whole yen
    assert [li["discount_allocations"][0]["amount"] for li in order["line_items"]] == ["370", "100"]
    assert [li["tax_lines"][0]["price"] for li in order["line_items"]] == ["267", "72"]
    assert order["total_price"] == "4570"                     # 4701 − 470 + 339
    # when one of the three 1234-yen items is refunded
    first = order["line_items"][0]
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds",
                     {"refund_line_items": [{"line_item_id": first["id"], "quantity": 1, "restock_type": "return"}]})
    assert r.status_code == 201, r.text
    refund = r.json()
    # then its share is pro-rated in whole yen: 3332 / 3 = 1110.67 → 1111, tax 267 / 3 = 89
    [rli] = refund["refund_line_items"]
    assert (rli["subtotal_set"]["shop_money"]["amount"], rli["total_tax_set"]["shop_money"]["amount"]) == ("1111", "89")
    assert [t["amount"] for t in refund["transactions"]] == ["1200"]
    now = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert now["current_total_price"] == "3370" and now["total_outstanding"] == "0"


def test_yen_amounts_posted_with_decimals_are_rounded_to_the_yen(sandbox, receiver):
    # given a JPY shop
    shop = _shop(sandbox, receiver, "JPY")
    # when an order is posted with a price of 1234.5 yen, unpaid, and 100.4 yen of it is paid
    order = _place(sandbox, shop, _order([("1234.5", 1)], "0", financial_status="pending"))
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions", {"kind": "sale", "amount": "100.4"})
    assert r.status_code == 201, r.text
    # then Shopify holds 1235 yen (its Money rounds half up) and takes a payment of 100 yen
    assert order["line_items"][0]["price"] == "1235" and order["total_price"] == "1235"
    now = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert now["total_outstanding"] == "1135"


def test_the_webhook_and_graphql_show_whole_yen(sandbox, receiver):
    # given a JPY shop's order of 3 × 1234 yen at 7.25 %
    shop = _shop(sandbox, receiver, "JPY")
    order = sandbox.post(f"/_sandbox/shops/{shop}/orders", _order([("1234", 3)], "0.0725")).json()
    sandbox.wait_idle()
    # then orders/create carries "3970", and GraphQL's totalPriceSet too
    created = jsonio.loads(receiver.webhooks("orders/create")[0]["body"])
    assert created["total_price"] == "3970" and created["total_tax_set"]["shop_money"]["amount"] == "268"
    body = sandbox.graphql(shop, sandbox.token(shop), "query($id: ID!) { order(id: $id) { totalPriceSet { "
                           "shopMoney { amount currencyCode } } totalReceivedSet { shopMoney { amount } } } }",
                           {"id": order["admin_graphql_api_id"]}).json()
    assert body["data"]["order"]["totalPriceSet"]["shopMoney"] == {"amount": "3970", "currencyCode": "JPY"}
    assert body["data"]["order"]["totalReceivedSet"]["shopMoney"]["amount"] == "3970"


# -- a dinar shop ------------------------------------------------------------------------------


def test_a_dinar_order_keeps_three_decimals(sandbox, receiver):
    # given a KWD shop with 5 % tax on top
    shop = _shop(sandbox, receiver, "KWD")
    # when 2 items at 12.345 dinars are ordered
    order = _place(sandbox, shop, _order([("12.345", 2)], "0.05"))
    # then the tax is 1.235 (24.690 × 5 % = 1.2345, half up) and the total 25.925, to the fils
    assert order["line_items"][0]["price"] == "12.345"
    assert (order["total_tax"], order["total_price"], order["total_outstanding"]) == ("1.235", "25.925", "0.000")
