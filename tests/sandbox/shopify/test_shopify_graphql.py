"""Admin GraphQL: schema validation, resolvers over the store, cost, throttling, versions."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from tests.factories import reference_order

ORDER_QUERY = """
query Order($id: ID!) {
  order(id: $id) {
    id legacyResourceId name email createdAt updatedAt processedAt cancelledAt cancelReason
    currencyCode presentmentCurrencyCode taxesIncluded displayFinancialStatus
    customer { id }  billingAddress { address1 city provinceCode countryCodeV2 zip company }
    subtotalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    currentTotalPriceSet { shopMoney { amount currencyCode } }  totalTaxSet { shopMoney { amount } }
    totalDiscountsSet { shopMoney { amount } }  totalShippingPriceSet { shopMoney { amount } }
    totalOutstandingSet { shopMoney { amount } }
    taxLines { title rate ratePercentage priceSet { shopMoney { amount } } }
    discountApplications(first: 5) { nodes { allocationMethod targetSelection targetType
      value { ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } } } }
    shippingLines(first: 2) { nodes { id title code originalPriceSet { shopMoney { amount } }
      discountedPriceSet { shopMoney { amount } } taxLines { title rate priceSet { shopMoney { amount } } } } }
    lineItems(first: 20) { pageInfo { hasNextPage endCursor } nodes { id sku quantity currentQuantity
      originalUnitPriceSet { shopMoney { amount } }
      discountAllocations { allocatedAmountSet { shopMoney { amount } } }
      taxLines { title rate priceSet { shopMoney { amount } } } } }
    refunds(first: 2) { id createdAt totalRefundedSet { shopMoney { amount } }
      refundLineItems(first: 5) { nodes { quantity restockType lineItem { id sku }
        subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } } }
      refundShippingLines(first: 2) { nodes { subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } } }
      transactions(first: 3) { nodes { id kind status gateway amountSet { shopMoney { amount currencyCode } } } } }
  }
}
"""


def _setup(sandbox, shop, **order):
    created = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order(**order)).json()
    return created, sandbox.token(shop)


def test_shop_ping_answers_with_cost_and_version(sandbox, shop):
    token = sandbox.token(shop)
    r = sandbox.graphql(shop, token, "{ shop { name myshopifyDomain currencyCode } }")
    body = r.json()
    assert r.status_code == 200 and r.headers["X-Shopify-API-Version"] == "2026-01"
    assert body["data"]["shop"] == {"name": shop.split(".")[0], "myshopifyDomain": shop, "currencyCode": "USD"}
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 and cost["actualQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0


def test_unsupported_version_falls_forward(sandbox, shop):
    r = sandbox.graphql(shop, sandbox.token(shop), "{ shop { name } }", version="2019-04")
    assert r.status_code == 200 and r.headers["X-Shopify-API-Version"] == "2025-10"


def test_query_is_validated_against_shopifys_schema(sandbox, shop):
    token = sandbox.token(shop)
    r = sandbox.graphql(shop, token, "{ shop { name totalRevenue } }")
    body = r.json()
    assert r.status_code == 200 and "data" not in body
    assert body["errors"][0]["message"] == "Field 'totalRevenue' doesn't exist on type 'Shop'"
    assert body["errors"][0]["extensions"] == {"code": "undefinedField", "typeName": "Shop", "fieldName": "totalRevenue"}
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 15}]
    assert "throttleStatus" in body["extensions"]["cost"]
    syntax = sandbox.graphql(shop, token, "{ shop { name ").json()
    assert syntax["errors"][0]["locations"]
    missing = sandbox.graphql(shop, token, "{ order { id } }").json()
    assert missing["errors"][0]["extensions"]["code"] == "missingRequiredArguments"


def test_order_query_from_the_reference_reads_the_stored_order(sandbox, shop):
    created, token = _setup(sandbox, shop)
    r = sandbox.graphql(shop, token, ORDER_QUERY, {"id": created["admin_graphql_api_id"]})
    body = r.json()
    assert "errors" not in body, body
    o = body["data"]["order"]
    assert o["legacyResourceId"] == str(created["id"]) and o["name"] == "#1001"
    assert o["displayFinancialStatus"] == "PAID" and o["currencyCode"] == "USD"
    assert o["currentTotalPriceSet"]["shopMoney"] == {"amount": "66.74", "currencyCode": "USD"}
    assert o["totalTaxSet"]["shopMoney"]["amount"] == "4.94"
    assert o["totalOutstandingSet"]["shopMoney"]["amount"] == "0.00"
    assert o["taxLines"] == [{"title": "State Tax", "rate": 0.08, "ratePercentage": 8.0,
                              "priceSet": {"shopMoney": {"amount": "4.94"}}}]
    assert o["discountApplications"]["nodes"][0]["value"] == {"percentage": 10.0}
    assert [n["discountAllocations"][0]["allocatedAmountSet"]["shopMoney"]["amount"]
            for n in o["lineItems"]["nodes"]] == ["5.00", "1.20"]
    assert o["shippingLines"]["nodes"][0]["taxLines"][0]["priceSet"]["shopMoney"]["amount"] == "0.48"
    assert o["customer"]["id"] == created["customer"]["admin_graphql_api_id"]
    assert o["billingAddress"]["countryCodeV2"] == "US" and o["refunds"] == []
    assert body["extensions"]["cost"]["actualQueryCost"] <= body["extensions"]["cost"]["requestedQueryCost"]


def test_unknown_order_is_null(sandbox, shop):
    _, token = _setup(sandbox, shop)
    body = sandbox.graphql(shop, token, "query($id: ID!){ order(id: $id) { id } }",
                           {"id": "gid://shopify/Order/1"}).json()
    assert body["data"] == {"order": None}


def test_refund_is_read_by_id_and_as_a_node_with_its_shipping_tax(sandbox, shop):
    # given the paid reference order, with the mug and the shipping refunded
    created, token = _setup(sandbox, shop, customer=None)
    refund = sandbox.post(f"/_sandbox/shops/{shop}/orders/{created['id']}/refunds?deliver=false",
                          {"shipping": {"full_refund": True},
                           "refund_line_items": [{"line_item_id": created["line_items"][1]["id"], "quantity": 1}]}).json()
    fields = """id legacyResourceId createdAt refundShippingLines(first: 1) { pageInfo { hasNextPage }
        nodes { shippingLine { id } subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } } }"""
    # when it is read with refund(id:) and with node(id:)
    by_id = sandbox.graphql(shop, token, f"query($id: ID!) {{ refund(id: $id) {{ {fields} }} }}",
                            {"id": refund["admin_graphql_api_id"]}).json()
    as_node = sandbox.graphql(shop, token, f"query($id: ID!) {{ node(id: $id) {{ ... on Refund {{ {fields} }} }} }}",
                              {"id": refund["admin_graphql_api_id"]}).json()
    # then both answer the same refund, its shipping line with the tax REST leaves out
    assert "errors" not in by_id, by_id
    assert by_id["data"]["refund"] == as_node["data"]["node"]
    got = by_id["data"]["refund"]
    assert got["legacyResourceId"] == str(refund["id"]) and got["createdAt"] == refund["created_at"].replace("+00:00", "Z")
    [line] = got["refundShippingLines"]["nodes"]
    assert line == {"shippingLine": {"id": f"gid://shopify/ShippingLine/{created['shipping_lines'][0]['id']}"},
                    "subtotalAmountSet": {"shopMoney": {"amount": "6.00"}},
                    "taxAmountSet": {"shopMoney": {"amount": "0.48"}}}
    unknown = sandbox.graphql(shop, token, "{ refund(id: \"gid://shopify/Refund/1\") { id } }").json()
    assert unknown["data"] == {"refund": None}


def test_transactions_name_their_parent(sandbox, shop):
    # given an authorized order, captured in part
    created, token = _setup(sandbox, shop, customer=None, financial_status="authorized")
    auth = sandbox.get(f"/_sandbox/shops/{shop}/orders/{created['id']}/transactions").json()["transactions"][0]
    capture = sandbox.post(f"/_sandbox/shops/{shop}/orders/{created['id']}/transactions?deliver=false",
                           {"kind": "capture", "amount": "20.00", "parent_id": auth["id"]}).json()
    # when the order's transactions are read
    q = """query($id: ID!) { order(id: $id) { transactionsCount { count }
             transactions(first: 5) { id kind parentTransaction { id kind } } } }"""
    order = sandbox.graphql(shop, token, q, {"id": created["admin_graphql_api_id"]}).json()["data"]["order"]
    # then the capture names the authorization as its parent
    assert order["transactionsCount"] == {"count": 2}
    assert order["transactions"] == [
        {"id": auth["admin_graphql_api_id"], "kind": "AUTHORIZATION", "parentTransaction": None},
        {"id": capture["admin_graphql_api_id"], "kind": "CAPTURE",
         "parentTransaction": {"id": auth["admin_graphql_api_id"], "kind": "AUTHORIZATION"}}]


def test_orders_are_paged_by_updated_at_with_cursors(sandbox, shop):
    token = sandbox.token(shop)
    for _ in range(5):
        sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order(customer=None))
    query = """query($q: String, $after: String) { orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
                 pageInfo { hasNextPage endCursor } nodes { name updatedAt } } }"""
    names, after = [], None
    while True:
        page = sandbox.graphql(shop, token, query, {"q": "updated_at:>='2020-01-01T00:00:00Z'", "after": after}).json()
        orders = page["data"]["orders"]
        names += [n["name"] for n in orders["nodes"]]
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    assert names == ["#1001", "#1002", "#1003", "#1004", "#1005"]
    future = sandbox.graphql(shop, token, query, {"q": "updated_at:>='2099-01-01'"}).json()
    assert future["data"]["orders"]["nodes"] == []


def test_connection_without_first_or_last_is_an_error(sandbox, shop):
    body = sandbox.graphql(shop, sandbox.token(shop), "{ orders { nodes { id } } }").json()
    assert "first or last" in body["errors"][0]["message"]


def test_customers_query_pages_with_filters(sandbox, shop):
    token = sandbox.token(shop)
    for i in range(3):
        sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false",
                     {"email": f"c{i}@example.com", "first_name": f"C{i}", "tags": "vip",
                      "addresses": [{"address1": f"{i} Main", "city": "Austin", "country_code": "US"}]})
    q = """query($q: String) { customers(first: 2, query: $q, sortKey: UPDATED_AT) { pageInfo { hasNextPage }
             nodes { id legacyResourceId firstName tags defaultEmailAddress { emailAddress }
               defaultAddress { address1 countryCodeV2 } addressesV2(first: 2) { nodes { city } } } } }"""
    page = sandbox.graphql(shop, token, q, {"q": "updated_at:>='2020-01-01'"}).json()["data"]["customers"]
    assert page["pageInfo"]["hasNextPage"] is True and len(page["nodes"]) == 2
    first = page["nodes"][0]
    assert first["defaultEmailAddress"] == {"emailAddress": "c0@example.com"} and first["tags"] == ["vip"]
    assert first["defaultAddress"]["countryCodeV2"] == "US" and first["addressesV2"]["nodes"] == [{"city": "Austin"}]
    one = sandbox.graphql(shop, token, q, {"q": "email:c2@example.com"}).json()["data"]["customers"]["nodes"]
    assert [c["firstName"] for c in one] == ["C2"]


def test_order_mark_as_paid_records_payment_and_fires_webhooks(sandbox, shop, receiver):
    created, token = _setup(sandbox, shop, financial_status="pending", customer=None)
    mutation = """mutation($input: OrderMarkAsPaidInput!) { orderMarkAsPaid(input: $input) {
        order { id displayFinancialStatus totalOutstandingSet { shopMoney { amount } } } userErrors { field message } } }"""
    body = sandbox.graphql(shop, token, mutation, {"input": {"id": created["admin_graphql_api_id"]}}).json()
    result = body["data"]["orderMarkAsPaid"]
    assert result["userErrors"] == [] and result["order"]["displayFinancialStatus"] == "PAID"
    assert result["order"]["totalOutstandingSet"]["shopMoney"]["amount"] == "0.00"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    sandbox.wait_idle()
    hits = receiver.webhooks()
    assert [h["headers"]["X-Shopify-Topic"] for h in hits] == ["orders/paid", "orders/updated"] or \
        sorted(h["headers"]["X-Shopify-Topic"] for h in hits) == ["orders/paid", "orders/updated"]
    assert len({h["headers"]["X-Shopify-Event-Id"] for h in hits}) == 1
    again = sandbox.graphql(shop, token, mutation, {"input": {"id": created["admin_graphql_api_id"]}}).json()
    assert again["data"]["orderMarkAsPaid"]["userErrors"][0]["field"] == ["id"]


def test_order_create_manual_payment_records_the_amount_and_refuses_more_than_the_balance(sandbox, shop, receiver):
    created, token = _setup(sandbox, shop, financial_status="pending", customer=None)
    total = Decimal(created["total_outstanding"])
    mutation = """mutation($id: ID!, $amount: MoneyInput!) { orderCreateManualPayment(id: $id, amount: $amount) {
        order { displayFinancialStatus totalOutstandingSet { shopMoney { amount } }
                transactions(first: 5) { kind status gateway amountSet { shopMoney { amount } } } }
        userErrors { field message code } } }"""

    def pay(amount: str) -> dict:
        return sandbox.graphql(shop, token, mutation, {"id": created["admin_graphql_api_id"],
                                                      "amount": {"amount": amount, "currencyCode": "USD"}}
                               ).json()["data"]["orderCreateManualPayment"]

    result = pay("20.00")
    assert result["userErrors"] == [] and result["order"]["displayFinancialStatus"] == "PARTIALLY_PAID"
    assert Decimal(result["order"]["totalOutstandingSet"]["shopMoney"]["amount"]) == total - Decimal("20.00")
    [payment] = result["order"]["transactions"]
    assert (payment["kind"], payment["status"], payment["amountSet"]["shopMoney"]["amount"]) == \
        ("SALE", "SUCCESS", "20.00")
    assert [e["code"] for e in pay(str(total))["userErrors"]] == ["AMOUNT_EXCEEDS_BALANCE"]
    assert [e["code"] for e in pay("0.00")["userErrors"]] == ["AMOUNT_NOT_POSITIVE"]
    assert pay(str(total - Decimal("20.00")))["order"]["displayFinancialStatus"] == "PAID"
    sandbox.wait_idle()
    assert "orders/paid" in [h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks()]


def test_throttled_when_the_bucket_lacks_the_requested_cost(make_sandbox):
    # given a bucket of 50 points that refills at 1 point per second
    box = make_sandbox(bucket_size=50, restore_rate=1)
    box.put_shop("b.myshopify.com", client_id="app-id", client_secret="app-secret", webhook_url=None)
    token = box.token("b.myshopify.com")
    query = "{ " + " ".join(f"s{i}: shop {{ name }}" for i in range(30)) + " }"  # 30 objects = 30 points
    # when it is sent twice in a row
    first = box.graphql("b.myshopify.com", token, query).json()
    second = box.graphql("b.myshopify.com", token, query)
    # then the first costs 30 and the second is THROTTLED, at HTTP 200, without data
    assert first["extensions"]["cost"]["requestedQueryCost"] == 30
    assert first["extensions"]["cost"]["actualQueryCost"] == 30
    assert first["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 20
    body = second.json()
    assert second.status_code == 200 and "data" not in body
    assert body["errors"] == [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert body["extensions"]["cost"] == {"requestedQueryCost": 30, "actualQueryCost": None, "throttleStatus": {
        "maximumAvailable": 50.0, "currentlyAvailable": 20, "restoreRate": 1.0}}


def test_unused_requested_cost_is_given_back(make_sandbox):
    box = make_sandbox(bucket_size=50, restore_rate=0.001)
    box.put_shop("b.myshopify.com", client_id="app-id", client_secret="app-secret", webhook_url=None)
    token = box.token("b.myshopify.com")
    body = box.graphql("b.myshopify.com", token, "{ orders(first: 39) { nodes { id } } }").json()
    cost = body["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (41, 2)
    assert cost["throttleStatus"]["currentlyAvailable"] == 48


def test_query_over_1000_points_is_max_cost_exceeded(sandbox, shop):
    q = "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }"
    body = sandbox.graphql(shop, sandbox.token(shop), q).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["errors"][0]["message"].startswith("Query cost is ")
    assert body["extensions"]["cost"]["requestedQueryCost"] > 1000


def test_schema_falls_back_to_the_introspection_file(tmp_path: Path):
    from sandbox.shopify import graphql_api
    assert graphql_api.schema_file(str(tmp_path / "missing.graphql")) == graphql_api.PACKAGED_SDL
    (tmp_path / graphql_api.INTROSPECTION_NAME).write_bytes(b"introspection")
    assert graphql_api.schema_file(str(tmp_path)) == tmp_path / graphql_api.INTROSPECTION_NAME

def test_actual_cost_counts_the_objects_a_page_returns_through_nodes_or_edges(make_sandbox):
    box = make_sandbox()
    box.put_shop("n.myshopify.com", client_id="app-id", client_secret="app-secret", webhook_url=None)
    assert box.post("/_sandbox/shops/n.myshopify.com/orders/generate?deliver=false",
                    {"count": 3, "seed": 1}).status_code == 201
    token = box.token("n.myshopify.com")
    costs = [box.graphql("n.myshopify.com", token, query).json()["extensions"]["cost"] for query in (
        "{ orders(first: 10) { nodes { id } } }", "{ orders(first: 10) { edges { node { id } } } }")]
    # then each is charged the connection (2) and the three orders it returned, not the ten it asked for
    assert [(c["requestedQueryCost"], c["actualQueryCost"]) for c in costs] == [(12, 5), (12, 5)]


def test_given_a_new_york_shop_then_rest_and_webhooks_write_its_offset_and_graphql_writes_utc(sandbox, shop, receiver):
    # given a shop in New York
    assert sandbox.put_shop(shop, iana_timezone="America/New_York").status_code == 200

    # when an order is placed at 23:30 local on 31 January (its webhook delivered)
    created = sandbox.post(f"/_sandbox/shops/{shop}/orders",
                           reference_order(processed_at="2026-02-01T04:30:00Z")).json()
    sandbox.wait_idle()

    # then REST and the webhook write the shop's offset, GraphQL the same instant in UTC, and the
    # shop names its zone
    assert created["processed_at"] == "2026-01-31T23:30:00-05:00"
    [hook] = receiver.webhooks("orders/create")
    assert json.loads(hook["body"])["processed_at"] == "2026-01-31T23:30:00-05:00"
    got = sandbox.graphql(shop, sandbox.token(shop), "query($id: ID!) { order(id: $id) { processedAt createdAt } "
                          "shop { ianaTimezone timezoneOffset } }", {"id": created["admin_graphql_api_id"]}).json()
    assert got["data"]["order"]["processedAt"] == "2026-02-01T04:30:00Z"
    assert got["data"]["order"]["createdAt"].endswith("Z")
    assert got["data"]["shop"]["ianaTimezone"] == "America/New_York"


def test_given_an_unknown_zone_then_the_shop_is_refused(sandbox, shop):
    response = sandbox.put_shop(shop, iana_timezone="Mars/Olympus")
    assert response.status_code == 422 and "iana_timezone" in response.text
