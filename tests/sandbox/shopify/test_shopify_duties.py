"""Duties and additional fees: posted with an order, in its totals, refunded, cancelled."""
from __future__ import annotations

import uuid
from decimal import Decimal

from tests.factories import reference_order

DUTY = {"harmonized_system_code": "610910", "country_code_of_origin": "CN", "price": "5.00",
        "tax_lines": [{"title": "State Tax", "rate": "0.08"}]}
FEE = {"name": "Import handling", "price": "2.00"}


def _with_duties(**kw) -> dict:
    order = reference_order(customer=None, **kw)
    order["line_items"][0]["duties"] = [dict(DUTY)]
    order["additional_fees"] = [dict(FEE)]
    return order


def _post(sandbox, shop, order):
    return sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", order)


def _amount(bag) -> str:
    return bag["shop_money"]["amount"]


def _refund(sandbox, shop, order_id, body):
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order_id}/refunds", body)
    assert r.status_code == 201, r.text
    return r.json()


def _get(sandbox, shop, order_id):
    return sandbox.get(f"/_sandbox/shops/{shop}/orders/{order_id}").json()


def test_an_order_with_duties_and_fees_counts_them_in_its_totals(sandbox, shop):
    # given the reference order (66.74) with a 5.00 duty taxed 8 % on the tees and a 2.00 fee
    r = _post(sandbox, shop, _with_duties())
    assert r.status_code == 201, r.text
    order = r.json()
    [duty] = order["line_items"][0]["duties"]
    # then the duty is completed as REST shows it, with its tax
    assert duty["admin_graphql_api_id"] == f"gid://shopify/Duty/{duty['id']}"
    assert _amount(duty["price_set"]) == "5.00" and duty["shop_money"]["amount"] == "5.00"
    assert duty["tax_lines"][0]["price"] == "0.40" and duty["harmonized_system_code"] == "610910"
    assert order["additional_fees"][0]["name"] == "Import handling"
    # and the totals include them: 66.74 + 5.00 + 0.40 + 2.00
    assert order["total_price"] == "74.14" and order["current_total_price"] == "74.14"
    assert order["total_tax"] == "5.34" and order["total_outstanding"] == "0.00"
    assert _amount(order["original_total_duties_set"]) == "5.00" == _amount(order["current_total_duties_set"])
    assert _amount(order["original_total_additional_fees_set"]) == "2.00"
    assert _amount(order["current_total_additional_fees_set"]) == "2.00"


def test_an_order_without_duties_leaves_their_totals_null(sandbox, shop):
    order = _post(sandbox, shop, reference_order(customer=None)).json()
    assert order["original_total_duties_set"] is None and order["current_total_duties_set"] is None
    assert order["original_total_additional_fees_set"] is None and order["additional_fees"] == []


def test_a_posted_total_without_the_duties_is_refused(sandbox, shop):
    r = _post(sandbox, shop, _with_duties(total_price="66.74"))
    assert r.status_code == 422 and "duties 5.00" in r.text and "additional fees 2.00" in r.text


def test_refunds_give_duties_back_proportionally_then_in_full(sandbox, shop, receiver):
    order = _post(sandbox, shop, _with_duties()).json()
    tee = order["line_items"][0]
    duty_id = tee["duties"][0]["id"]
    # when one of the two tees is refunded with its share of the duty
    first = _refund(sandbox, shop, order["id"], {
        "refund_line_items": [{"line_item_id": tee["id"], "quantity": 1}],
        "refund_duties": [{"duty_id": duty_id, "refund_type": "PROPORTIONAL"}]})
    # then half the duty comes back with its tax, in the refund's money: 22.50 + 1.80 + 2.50 + 0.20
    assert first["duties"] == [{"duty_id": duty_id, "amount_set": first["duties"][0]["amount_set"]}]
    assert _amount(first["duties"][0]["amount_set"]) == "2.50" and _amount(first["total_duties_set"]) == "2.50"
    assert [t["amount"] for t in first["transactions"]] == ["27.00"]
    now = _get(sandbox, shop, order["id"])
    assert _amount(now["current_total_duties_set"]) == "2.50" and now["current_total_price"] == "47.14"
    # when the rest of the duty and the fee are refunded without goods
    second = _refund(sandbox, shop, order["id"], {
        "refund_duties": [{"duty_id": duty_id, "refund_type": "FULL"}],
        "refund_additional_fees": [{"additional_fee_id": order["additional_fees"][0]["id"]}]})
    assert [t["amount"] for t in second["transactions"]] == ["4.70"]
    assert _amount(second["total_additional_fees_set"]) == "2.00"
    now = _get(sandbox, shop, order["id"])
    assert _amount(now["current_total_duties_set"]) == "0.00" and now["current_total_price"] == "42.44"
    assert _amount(now["current_total_additional_fees_set"]) == "0.00" and now["total_outstanding"] == "0.00"
    # and a duty cannot be refunded twice
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds",
                     {"refund_duties": [{"duty_id": duty_id, "refund_type": "FULL"}]})
    assert r.status_code == 422 and "nothing of duty" in r.text


def test_cancelling_refunds_the_duties_and_fees(sandbox, shop, receiver):
    order = _post(sandbox, shop, _with_duties()).json()
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/cancel", {"reason": "customer"})
    assert r.status_code in (200, 201), r.text
    now = r.json()
    assert now["current_total_price"] == "0.00" and now["total_outstanding"] == "0.00"
    assert _amount(now["current_total_duties_set"]) == "0.00" and now["current_total_tax"] == "0.00"
    [refund] = now["refunds"]
    assert _amount(refund["total_duties_set"]) == "5.00" and _amount(refund["total_additional_fees_set"]) == "2.00"
    assert [t["amount"] for t in refund["transactions"]] == ["74.14"]


QUERY = """query($id: ID!) { order(id: $id) {
  originalTotalDutiesSet { shopMoney { amount } } currentTotalDutiesSet { shopMoney { amount } }
  currentTotalAdditionalFeesSet { shopMoney { amount } }
  additionalFees { id name price { shopMoney { amount } } taxLines { priceSet { shopMoney { amount } } } }
  lineItems(first: 5) { nodes { duties { id harmonizedSystemCode countryCodeOfOrigin price { shopMoney { amount } }
    taxLines { priceSet { shopMoney { amount } } } } } }
  refunds(first: 5) { duties { amountSet { shopMoney { amount } } originalDuty { id price { shopMoney { amount } } } }
    additionalFees { amountSet { shopMoney { amount } } originalAdditionalFee { name } } } } }"""


def test_graphql_shows_duties_fees_and_their_refunds(sandbox, shop):
    order = _post(sandbox, shop, _with_duties()).json()
    _refund(sandbox, shop, order["id"], {
        "refund_duties": [{"duty_id": order["line_items"][0]["duties"][0]["id"]}],
        "refund_additional_fees": [{"additional_fee_id": order["additional_fees"][0]["id"]}]})
    body = sandbox.graphql(shop, sandbox.token(shop), QUERY, {"id": order["admin_graphql_api_id"]}).json()
    assert "errors" not in body, body
    got = body["data"]["order"]
    assert got["originalTotalDutiesSet"]["shopMoney"]["amount"] == "5.00"
    assert got["currentTotalDutiesSet"]["shopMoney"]["amount"] == "0.00"
    assert got["additionalFees"][0]["name"] == "Import handling"
    [duty] = got["lineItems"]["nodes"][0]["duties"]
    assert duty["harmonizedSystemCode"] == "610910" and duty["taxLines"][0]["priceSet"]["shopMoney"]["amount"] == "0.40"
    [refund] = got["refunds"]
    assert refund["duties"][0]["amountSet"]["shopMoney"]["amount"] == "5.00"
    assert refund["duties"][0]["originalDuty"]["id"] == duty["id"]
    assert refund["additionalFees"][0]["originalAdditionalFee"]["name"] == "Import handling"


def test_tax_inclusive_duties_include_their_tax(sandbox, receiver):
    domain = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    sandbox.put_shop(domain, client_id="app-id", client_secret="app-secret", webhook_url=receiver.url,
                     currency="EUR", taxes_included=True)
    posted = {"line_items": [{"title": "Jacket", "quantity": 1, "price": "121.00",
                              "tax_lines": [{"title": "VAT", "rate": "0.21"}],
                              "duties": [{"price": "12.10", "tax_lines": [{"title": "VAT", "rate": "0.21"}]}]}],
              "financial_status": "paid"}
    order = _post(sandbox, domain, posted).json()
    assert order["total_price"] == "133.10" and order["total_tax"] == "23.10"
    [refund] = [_refund(sandbox, domain, order["id"], {"refund_duties": [{"duty_id": order["line_items"][0]["duties"][0]["id"]}]})]
    assert [t["amount"] for t in refund["transactions"]] == ["12.10"]
    assert _get(sandbox, domain, order["id"])["current_total_tax"] == "21.00"


def test_a_refunds_duties_outside_its_money_as_a_setting(make_sandbox, receiver):
    box = make_sandbox(refund_duties_in_transactions=False)
    domain = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    box.put_shop(domain, client_id="app-id", client_secret="app-secret", webhook_url=receiver.url,
                 currency="USD", taxes_included=False)
    order = _post(box, domain, _with_duties()).json()
    refund = _refund(box, domain, order["id"], {
        "refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1}],
        "refund_duties": [{"duty_id": order["line_items"][0]["duties"][0]["id"]}]})
    # the mug's 10.80 + 0.86 only: the duty is refunded in the figures, its money stays unpaid
    assert [t["amount"] for t in refund["transactions"]] == ["11.66"]
    now = _get(box, domain, order["id"])
    assert Decimal(now["total_outstanding"]) == Decimal("-5.40")
    assert now["current_total_price"] == "57.08"
