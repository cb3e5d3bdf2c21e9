"""Order scenario: completion, Shopify's arithmetic, 422 on orders Shopify could not produce."""
from __future__ import annotations

from decimal import Decimal

from sandbox.shopify import jsonio
from tests.factories import reference_order


def test_shop_is_created_then_updated_then_read(sandbox, receiver):
    # given a new shop domain
    # when it is put twice
    created = sandbox.put_shop("acme.myshopify.com", client_id="c", client_secret="s", webhook_url=receiver.url)
    updated = sandbox.put_shop("acme.myshopify.com", currency="EUR", taxes_included=True)
    # then the first put creates, the second updates, and GET shows the result
    assert (created.status_code, updated.status_code) == (201, 200)
    shop = sandbox.get("/_sandbox/shops/acme.myshopify.com").json()
    assert shop["currency"] == "EUR" and shop["taxes_included"] is True and shop["api_version"] == "2026-01"
    assert "client_secret" not in shop
    assert sandbox.get("/_sandbox/shops/nope.myshopify.com").status_code == 404


def test_new_shop_without_credentials_is_refused(sandbox):
    r = sandbox.put_shop("x.myshopify.com", webhook_url=None)
    assert r.status_code == 422 and "client_id" in r.text


def test_reference_order_is_completed_with_shopify_totals(sandbox, shop):
    # given the reference §2.5 order without any computed figure
    # when it is posted
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order())
    # then the sandbox answers 201 with Shopify's numbers, to the cent
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["name"] == "#1001" and order["order_number"] == 1001
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert [a["amount"] for li in order["line_items"] for a in li["discount_allocations"]] == ["5.00", "1.20"]
    assert [t["price"] for li in order["line_items"] for t in li["tax_lines"]] == ["3.60", "0.86"]
    assert order["shipping_lines"][0]["tax_lines"][0]["price"] == "0.48"
    assert (order["total_line_items_price"], order["total_discounts"], order["subtotal_price"],
            order["total_tax"], order["total_price"]) == ("62.00", "6.20", "55.80", "4.94", "66.74")
    assert order["discount_codes"][0]["amount"] == "6.20"
    assert order["tax_lines"] == [{"price": "4.94", "rate": 0.08, "title": "State Tax", "channel_liable": False,
                                   "price_set": order["tax_lines"][0]["price_set"]}]
    assert order["total_price_set"] == {"shop_money": {"amount": "66.74", "currency_code": "USD"},
                                        "presentment_money": {"amount": "66.74", "currency_code": "USD"}}
    assert order["total_shipping_price_set"]["shop_money"]["amount"] == "6.00"
    assert order["current_total_price"] == "66.74" and order["current_subtotal_price"] == "55.80"
    assert order["total_outstanding"] == "0.00" and order["financial_status"] == "paid"
    for li in order["line_items"]:
        assert li["admin_graphql_api_id"] == f"gid://shopify/LineItem/{li['id']}"
        assert li["current_quantity"] == li["quantity"]
        assert li["price_set"]["presentment_money"]["amount"] == li["price"]


def test_posted_order_is_read_back_and_unknown_order_is_404(sandbox, shop):
    created = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order()).json()
    read = sandbox.get(f"/_sandbox/shops/{shop}/orders/{created['id']}")
    assert read.status_code == 200 and read.json() == created
    assert sandbox.get(f"/_sandbox/shops/{shop}/orders/1").status_code == 404


def test_totals_that_do_not_add_up_are_refused_with_the_reason(sandbox, shop):
    # given an order claiming a total one cent off
    order = reference_order(total_price="66.75")
    # when it is posted
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders", order)
    # then Shopify's total is named in a 422
    assert r.status_code == 422
    assert "total_price" in r.text and "66.74" in r.text


def test_tax_not_rounded_per_line_is_refused(sandbox, shop):
    order = reference_order()
    order["line_items"][1]["tax_lines"][0]["price"] = "0.87"  # 8% of 10.80 is 0.864 → 0.86
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders", order)
    assert r.status_code == 422 and "0.86" in r.text


def test_allocations_that_miss_a_fixed_discount_are_refused(sandbox, shop):
    order = reference_order(discount_codes=[], discount_applications=[
        {"type": "manual", "title": "Fixed", "value": "5.00", "value_type": "fixed_amount",
         "allocation_method": "across", "target_selection": "all", "target_type": "line_item"}])
    order["line_items"][0]["discount_allocations"] = [{"amount": "3.00", "discount_application_index": 0}]
    order["line_items"][1]["discount_allocations"] = [{"amount": "1.00", "discount_application_index": 0}]
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders", order)
    assert r.status_code == 422 and "allocations sum to 4.00" in r.text


def test_foreign_presentment_currency_needs_presentment_amounts(sandbox, shop):
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders", reference_order(presentment_currency="EUR"))
    assert r.status_code == 422 and "presentment" in r.text


def test_vat_inclusive_order_keeps_tax_inside_the_total(sandbox, receiver):
    # given a VAT shop (prices include 20% VAT)
    sandbox.put_shop("vat.myshopify.com", client_id="c", client_secret="s", webhook_url=None,
                     currency="GBP", taxes_included=True)
    order = {"line_items": [{"title": "Tee", "quantity": 1, "price": "24.00",
                             "tax_lines": [{"title": "VAT", "rate": "0.2"}]}],
             "financial_status": "pending"}
    # when posted
    created = sandbox.post("/_sandbox/shops/vat.myshopify.com/orders", order).json()
    # then tax is 24.00 × 0.2 / 1.2 = 4.00 and the total is still 24.00, all outstanding
    assert created["total_tax"] == "4.00" and created["total_price"] == "24.00"
    assert created["total_outstanding"] == "24.00" and created["financial_status"] == "pending"
    assert created["currency"] == "GBP"


def test_money_is_serialised_like_shopify(sandbox, shop):
    raw = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order()).content
    parsed = jsonio.loads(raw)
    # amounts are strings, rates are JSON numbers, slashes are escaped as Shopify's Rails does
    assert b'"total_price":"66.74"' in raw and b'"rate":0.08' in raw
    assert b"gid:\\/\\/shopify\\/Order\\/" in raw
    assert isinstance(parsed["line_items"][0]["tax_lines"][0]["rate"], Decimal)


def test_generate_route_creates_seeded_orders_that_list_back(sandbox, shop):
    made = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate?deliver=false", {"count": 5, "seed": 3})
    assert made.status_code == 201 and len(made.json()["orders"]) == 5
    listed = sandbox.get(f"/_sandbox/shops/{shop}/orders").json()["orders"]
    assert [o["name"] for o in listed] == ["#1001", "#1002", "#1003", "#1004", "#1005"]
    assert made.json()["orders"] == listed  # the placed orders, complete, as GET reads them back
    assert sandbox.deliveries(shop) == []


def test_generate_route_places_orders_with_their_webhooks_and_the_same_seed_gives_the_same_orders(
        sandbox, shop, receiver):
    made = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate", {"count": 3, "seed": 7}).json()["orders"]
    sandbox.wait_idle()
    created = [jsonio.loads(hit["body"])["id"] for hit in receiver.webhooks("orders/create")]
    assert sorted(created) == sorted(o["id"] for o in made)

    again = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate?deliver=false", {"count": 3, "seed": 7}).json()
    assert [o["total_price"] for o in again["orders"]] == [o["total_price"] for o in made]


def test_generate_route_numbers_customers_from_first_so_batches_bring_their_own(sandbox, shop):
    def emails(body):
        made = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate?deliver=false", body).json()["orders"]
        return {o["email"] for o in made}
    # two batches numbered from 0 share customers; a batch numbered from 30 brings its own
    first, again, later = emails({"count": 30, "seed": 1}), emails({"count": 30, "seed": 2}), \
        emails({"count": 30, "seed": 2, "first": 30})
    assert first & again and not first & later


def test_generate_route_makes_a_history_of_a_few_known_buyers_all_unpaid(sandbox, shop):
    # a backfill at scale: many orders, every one unpaid, from two returning customers, no guest
    made = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate?deliver=false", {
        "count": 60, "seed": 4, "customers": 2, "guest_share": 0, "financial_status": "pending"}).json()["orders"]
    assert len({o["customer"]["email"] for o in made}) == 2
    assert {o["financial_status"] for o in made if o["total_price"] != "0.00"} == {"pending"}


def test_generate_route_refuses_a_count_it_cannot_honour(sandbox, shop):
    for body in ({"count": 0}, {"count": 1001}, {"count": "5"}, {"count": 2, "seed": 1.5}, {"count": 2, "first": -1},
                 {"count": 2, "customers": 0}, {"count": 2, "guest_share": 2}, {"count": 2, "financial_status": "x"}):
        r = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate", body)
        assert r.status_code == 422, (body, r.text)
    assert sandbox.get(f"/_sandbox/shops/{shop}/orders").json()["orders"] == []


def test_unknown_route_answers_json_404(sandbox):
    r = sandbox.get("/admin/api/2026-01/products.json")
    assert r.status_code == 404 and r.json() == {"errors": "Not Found"}


def _whole_shop(sandbox, receiver) -> str:
    domain = "whole.myshopify.com"
    r = sandbox.put_shop(domain, client_id="c", client_secret="s", webhook_url=None, currency="USD",
                         total_conversion="whole")
    assert r.status_code == 201 and r.json()["total_conversion"] == "whole"
    return domain


def _parts(order: dict) -> Decimal:
    """The shop-money sum of an order's converted parts (a tax-exclusive shop without duties)."""
    return Decimal(order["subtotal_price"]) + sum(
        (Decimal(sl["discounted_price_set"]["shop_money"]["amount"]) for sl in order["shipping_lines"]),
        Decimal(0)) + Decimal(order["total_tax"]) + Decimal(order["total_tip_received"])


def test_a_shop_converting_totals_whole_keeps_totals_a_cent_or_two_off_their_converted_parts(sandbox, receiver):
    # given a shop whose presentment totals are converted on their own, with generated orders
    shop = _whole_shop(sandbox, receiver)
    made = sandbox.post(f"/_sandbox/shops/{shop}/orders/generate?deliver=false",
                        {"count": 200, "seed": 11}).json()["orders"]
    # then some foreign-currency orders carry a total a few cents away from their parts, and
    # orders in the shop's own currency none
    off = {o["name"]: Decimal(o["total_price"]) - _parts(o) for o in made if Decimal(o["total_price"]) != _parts(o)}
    assert Decimal("0.01") in off.values() and all(abs(d) <= Decimal("0.05") for d in off.values())
    assert all(o["presentment_currency"] != "USD" for o in made if o["name"] in off)
    # and the current total keeps the difference, so a paid order owes nothing
    for o in made:
        if o["name"] in off:
            assert o["current_total_price"] == o["total_price"]
            assert o["financial_status"] != "paid" or o["total_outstanding"] == "0.00"


def test_a_total_further_off_than_its_parts_roundings_is_refused_even_when_converted_whole(sandbox, receiver):
    # given a whole-converting shop and a EUR order of two tees (two conversions: a unit at most)
    # whose shop total is two cents off its parts
    shop = _whole_shop(sandbox, receiver)
    order = {"presentment_currency": "EUR", "financial_status": "pending", "line_items": [
        {"title": "Tee", "quantity": 2, "price_set": {"shop_money": {"amount": "27.13", "currency_code": "USD"},
                                                      "presentment_money": {"amount": "25.00", "currency_code": "EUR"}}}],
        "total_price_set": {"shop_money": {"amount": "54.28", "currency_code": "USD"},
                            "presentment_money": {"amount": "50.00", "currency_code": "EUR"}}}
    # when it is posted, then Shopify's total is named in a 422
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders", order)
    assert r.status_code == 422 and "54.26" in r.text
    # and one cent off is kept, in the total and the current total
    order["total_price_set"]["shop_money"]["amount"] = "54.27"
    kept = sandbox.post(f"/_sandbox/shops/{shop}/orders", order).json()
    assert (kept["total_price"], kept["current_total_price"], kept["subtotal_price"]) == ("54.27", "54.27", "54.26")
