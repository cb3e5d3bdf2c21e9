"""Payments, refunds, cancellations and edits: webhooks fired and current_* kept true."""
from __future__ import annotations

from decimal import Decimal

from sandbox.shopify import jsonio
from tests.factories import reference_order


def _order(sandbox, shop, **kw):
    return sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order(customer=None, **kw)).json()


def _topics(receiver):
    return sorted(h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks())


REFUND_SHIPPING = """query($id: ID!) { refund(id: $id) { refundShippingLines(first: 5) { nodes {
  subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } } } } }"""


def _graphql_shipping(sandbox, shop, refund) -> list[tuple[Decimal, Decimal]]:
    """(subtotal, tax) of each refund shipping line, from GraphQL: REST refunds carry no tax there."""
    body = sandbox.graphql(shop, sandbox.token(shop), REFUND_SHIPPING,
                           {"id": refund["admin_graphql_api_id"]}).json()
    assert "errors" not in body, body
    return [(Decimal(n["subtotalAmountSet"]["shopMoney"]["amount"]), Decimal(n["taxAmountSet"]["shopMoney"]["amount"]))
            for n in body["data"]["refund"]["refundShippingLines"]["nodes"]]


def test_refund_of_the_mug_and_shipping_matches_the_reference(sandbox, shop, receiver):
    # given the paid reference order
    order = _order(sandbox, shop)
    mug = order["line_items"][1]
    # when the mug and the full shipping are refunded
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds",
                     {"note": "Mug arrived broken", "shipping": {"full_refund": True},
                      "refund_line_items": [{"line_item_id": mug["id"], "quantity": 1, "restock_type": "no_restock"}]})
    assert r.status_code == 201, r.text
    sandbox.wait_idle()
    # then refunds/create carries the reference figures, subtotal and total_tax as JSON numbers
    hit = receiver.webhooks("refunds/create")[0]
    refund = jsonio.loads(hit["body"])
    rli = refund["refund_line_items"][0]
    assert b'"subtotal":10.8' in hit["body"] and b'"total_tax":0.86' in hit["body"]
    assert rli["subtotal_set"]["shop_money"]["amount"] == "10.80" and rli["line_item"]["sku"] == "MUG-01"
    # and its shipping line has the subtotal but, as in Shopify's REST reference, no tax: GraphQL has it
    [rsl] = refund["refund_shipping_lines"]
    assert rsl["subtotal_amount_set"]["shop_money"]["amount"] == "6.00" and "tax_amount_set" not in rsl
    assert _graphql_shipping(sandbox, shop, refund) == [(Decimal("6.00"), Decimal("0.48"))]
    assert [(t["kind"], t["status"], t["amount"]) for t in refund["transactions"]] == [("refund", "success", "18.14")]
    assert refund["order_adjustments"] == []
    # and orders/updated, same event, shows current totals and nothing outstanding
    updated = receiver.webhooks("orders/updated")[0]
    assert updated["headers"]["X-Shopify-Event-Id"] == hit["headers"]["X-Shopify-Event-Id"]
    current = jsonio.loads(updated["body"])
    assert current["current_total_price"] == "48.60" and current["total_price"] == "66.74"
    assert current["current_subtotal_price"] == "45.00" and current["current_total_tax"] == "3.60"
    assert current["current_shipping_price_set"]["shop_money"]["amount"] == "0.00"
    assert current["current_total_discounts"] == "5.00"
    assert current["total_outstanding"] == "0.00" and current["financial_status"] == "partially_refunded"
    assert current["refunds"][0]["id"] == refund["id"]
    assert [li["current_quantity"] for li in current["line_items"]] == [2, 0]


def test_partial_quantity_refunds_add_up_to_the_line(sandbox, shop):
    order = _order(sandbox, shop, line_items=[{"title": "Pen", "quantity": 3, "price": "1.00",
                                               "tax_lines": [{"title": "Tax", "rate": "0.1"}]}],
                   shipping_lines=[], discount_codes=[], discount_applications=[])
    line = order["line_items"][0]
    subtotals = []
    for _ in range(3):
        refund = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds?deliver=false",
                              {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1}]}).json()
        subtotals.append(Decimal(refund["refund_line_items"][0]["total_tax_set"]["shop_money"]["amount"]))
    assert sum(subtotals) == Decimal(line["tax_lines"][0]["price"]) == Decimal("0.30")
    final = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert final["current_total_price"] == "0.00" and final["financial_status"] == "refunded"
    too_many = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds",
                            {"refund_line_items": [{"line_item_id": line["id"], "quantity": 1}]})
    assert too_many.status_code == 422


def test_payment_on_a_pending_order_fires_paid_and_updated(sandbox, shop, receiver):
    order = _order(sandbox, shop, financial_status="pending")
    assert order["total_outstanding"] == "66.74"
    half = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions", {"amount": "30.00", "kind": "sale"})
    assert half.status_code == 201
    sandbox.wait_idle()
    assert _topics(receiver) == ["orders/updated"]
    after_half = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert after_half["financial_status"] == "partially_paid" and after_half["total_outstanding"] == "36.74"
    sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions", {"kind": "sale"})
    sandbox.wait_idle()
    assert _topics(receiver) == ["orders/paid", "orders/updated", "orders/updated"]
    paid = jsonio.loads(receiver.webhooks("orders/paid")[0]["body"])
    assert paid["financial_status"] == "paid" and paid["total_outstanding"] == "0.00"
    over = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions", {"amount": "1.00"})
    assert over.status_code == 422


def test_cancelling_an_unpaid_order_voids_it(sandbox, shop, receiver):
    order = _order(sandbox, shop, financial_status="pending")
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/cancel", {"reason": "customer"})
    sandbox.wait_idle()
    cancelled = r.json()
    assert r.status_code == 200 and cancelled["cancel_reason"] == "customer" and cancelled["cancelled_at"]
    assert cancelled["current_total_price"] == "0.00" and cancelled["total_outstanding"] == "0.00"
    assert cancelled["financial_status"] == "voided"
    assert _topics(receiver) == ["orders/cancelled", "orders/updated", "refunds/create"]
    refund = jsonio.loads(receiver.webhooks("refunds/create")[0]["body"])
    assert refund["transactions"] == []  # nothing was paid, so no money goes back


def test_cancelling_a_paid_order_refunds_it_in_full(sandbox, shop, receiver):
    order = _order(sandbox, shop)
    cancelled = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/cancel", {"reason": "fraud"}).json()
    sandbox.wait_idle()
    assert cancelled["financial_status"] == "refunded" and cancelled["current_total_price"] == "0.00"
    refund = jsonio.loads(receiver.webhooks("refunds/create")[0]["body"])
    assert [t["amount"] for t in refund["transactions"]] == ["66.74"]
    events = {h["headers"]["X-Shopify-Event-Id"] for h in receiver.webhooks()}
    assert len(events) == 1
    assert sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/cancel", {}).status_code == 422


def test_edit_reprices_the_order_and_fires_orders_updated(sandbox, shop, receiver):
    # given the pending reference order
    order = _order(sandbox, shop, financial_status="pending")
    tee, mug = order["line_items"]
    # when the merchant drops the mug and keeps the tees
    r = sandbox.put(f"/_sandbox/shops/{shop}/orders/{order['id']}", {"line_items": [{"id": tee["id"], "quantity": 2}]})
    assert r.status_code == 200, r.text
    sandbox.wait_idle()
    # then totals are recomputed (10% of 50 = 5.00; tax 8% of 45 + 8% of 6 = 3.60 + 0.48)
    o = r.json()
    assert [li["id"] for li in o["line_items"]] == [tee["id"]]
    assert (o["subtotal_price"], o["total_tax"], o["total_price"]) == ("45.00", "4.08", "55.08")
    assert o["current_total_price"] == "55.08" and o["total_outstanding"] == "55.08"
    assert o["id"] == order["id"] and o["name"] == order["name"] and o["updated_at"] > order["updated_at"]
    assert _topics(receiver) == ["orders/updated"]


def test_refund_transactions_carry_total_unsettled_set_and_amount_rounding(sandbox, shop, receiver):
    # given the paid reference order
    order = _order(sandbox, shop)
    # when the mug is refunded
    sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds",
                 {"refund_line_items": [{"line_item_id": order["line_items"][1]["id"], "quantity": 1}]})
    sandbox.wait_idle()
    # then each refunds/create transaction has a settled total_unsettled_set whose bags use the key
    # "currency" (not "currency_code"), and no cash rounding
    refund = jsonio.loads(receiver.webhooks("refunds/create")[0]["body"])
    [tx] = refund["transactions"]
    assert tx["total_unsettled_set"] == {"presentment_money": {"amount": "0.0", "currency": "USD"},
                                         "shop_money": {"amount": "0.0", "currency": "USD"}}
    assert "amount_rounding" in tx and tx["amount_rounding"] is None
    # and, as in Shopify's sample, its money is `amount` + `currency` only: no `amount_set`
    assert "amount_set" not in tx and tx["currency"] == "USD"


def _vat_order(sandbox, receiver):
    """A paid VAT-inclusive order: one line at 110.00 and shipping at 11.00, both with 10 % included."""
    domain = "vat-shop.myshopify.com"
    sandbox.put_shop(domain, client_id="app-id", client_secret="app-secret", webhook_url=receiver.url, currency="EUR",
                     taxes_included=True, webhook_topics=["refunds/create"])
    vat = [{"title": "VAT", "rate": "0.1"}]
    order = sandbox.post(f"/_sandbox/shops/{domain}/orders?deliver=false", {
        "financial_status": "paid", "line_items": [{"title": "Lamp", "quantity": 1, "price": "110.00", "tax_lines": vat}],
        "shipping_lines": [{"title": "Post", "price": "11.00", "tax_lines": vat}]}).json()
    assert (order["total_price"], order["total_tax"]) == ("121.00", "11.00"), order
    return domain, order


def test_vat_inclusive_refund_follows_the_tax_inclusive_formula(sandbox, receiver):
    # given a paid VAT-inclusive order of 121.00 (110.00 line + 11.00 shipping, tax 10.00 + 1.00 included)
    domain, order = _vat_order(sandbox, receiver)
    # when the line and the shipping are refunded
    r = sandbox.post(f"/_sandbox/shops/{domain}/orders/{order['id']}/refunds",
                     {"refund_line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1}],
                      "shipping": {"full_refund": True}})
    assert r.status_code == 201, r.text
    sandbox.wait_idle()
    refund = jsonio.loads(receiver.webhooks("refunds/create")[0]["body"])
    # then the line subtotal is in the order's (tax-inclusive) prices and the shipping subtotal is net
    [rli] = refund["refund_line_items"]
    amount = lambda bag: Decimal(bag["shop_money"]["amount"])  # noqa: E731
    assert (amount(rli["subtotal_set"]), amount(rli["total_tax_set"])) == (Decimal("110.00"), Decimal("10.00"))
    [(shipping, shipping_tax)] = _graphql_shipping(sandbox, domain, refund)
    assert (shipping, shipping_tax) == (Decimal("10.00"), Decimal("1.00"))
    # and the refund transaction is line subtotals + shipping subtotals + shipping taxes (line taxes
    # are inside the line subtotals), which is the whole order
    [tx] = refund["transactions"]
    formula = amount(rli["subtotal_set"]) + shipping + shipping_tax
    assert Decimal(tx["amount"]) == formula == Decimal("121.00")
    after = sandbox.get(f"/_sandbox/shops/{domain}/orders/{order['id']}").json()
    assert (after["current_total_price"], after["current_total_tax"]) == ("0.00", "0.00")
    assert after["current_shipping_price_set"]["shop_money"]["amount"] == "0.00"
    assert after["financial_status"] == "refunded"


def test_vat_inclusive_shipping_only_refund_gives_back_the_gross_shipping(sandbox, receiver):
    # given the same VAT-inclusive order
    domain, order = _vat_order(sandbox, receiver)
    # when only the shipping is refunded
    refund = sandbox.post(f"/_sandbox/shops/{domain}/orders/{order['id']}/refunds?deliver=false",
                          {"shipping": {"full_refund": True}}).json()
    # then the money back is the shipping as charged (net 10.00 + VAT 1.00) and the order keeps the line
    assert [t["amount"] for t in refund["transactions"]] == ["11.00"]
    after = sandbox.get(f"/_sandbox/shops/{domain}/orders/{order['id']}").json()
    assert (after["current_total_price"], after["current_total_tax"]) == ("110.00", "10.00")


def test_rest_refund_shipping_tax_is_a_setting(make_sandbox, receiver):
    # given a sandbox told that REST refunds do carry the shipping tax
    sandbox = make_sandbox(rest_refund_shipping_tax=True)
    domain, order = _vat_order(sandbox, receiver)
    # when the shipping is refunded
    refund = sandbox.post(f"/_sandbox/shops/{domain}/orders/{order['id']}/refunds?deliver=false",
                          {"shipping": {"full_refund": True}}).json()
    # then the refund and the order's refunds[] show tax_amount_set, equal to GraphQL's taxAmountSet
    after = sandbox.get(f"/_sandbox/shops/{domain}/orders/{order['id']}").json()
    for rsl in (refund["refund_shipping_lines"][0], after["refunds"][0]["refund_shipping_lines"][0]):
        assert rsl["tax_amount_set"]["shop_money"] == {"amount": "1.00", "currency_code": "EUR"}
    assert _graphql_shipping(sandbox, domain, refund) == [(Decimal("10.00"), Decimal("1.00"))]


def test_a_pending_refund_pays_nothing_out_until_the_provider_settles_it(sandbox, shop, receiver):
    # given the paid reference order, and a refund of the mug whose money the provider has not paid out
    order = _order(sandbox, shop)
    mug = order["line_items"][1]
    refund = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/refunds", {
        "_pending": True, "refund_line_items": [{"line_item_id": mug["id"], "quantity": 1,
                                                 "restock_type": "no_restock"}]}).json()
    [money] = refund["transactions"]
    assert money["status"] == "pending"
    pending = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert pending["financial_status"] == "paid" and Decimal(pending["total_outstanding"]) < 0  # owed, not paid
    # when the provider settles it
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions/{money['id']}/settle",
                     {"status": "success"})
    assert r.status_code == 200, r.text
    sandbox.wait_idle()
    # then the order shows it paid out, and apps are told by orders/updated
    settled = sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()
    assert settled["financial_status"] == "partially_refunded" and Decimal(settled["total_outstanding"]) == 0
    assert "orders/updated" in _topics(receiver)
    # and a transaction settles once
    again = sandbox.post(f"/_sandbox/shops/{shop}/orders/{order['id']}/transactions/{money['id']}/settle",
                         {"status": "success"})
    assert again.status_code == 422
