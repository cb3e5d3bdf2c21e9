"""Customers: creation and update fire their topics; Shopify's uniqueness rule on email."""
from __future__ import annotations

from sandbox.shopify import jsonio


def test_customer_create_and_update_fire_webhooks(sandbox, shop, receiver):
    # given a new customer
    created = sandbox.post(f"/_sandbox/shops/{shop}/customers",
                           {"first_name": "Ana", "last_name": "Silva", "email": "Ana@Example.com", "tags": "wholesale, vip",
                            "addresses": [{"address1": "1 Main St", "city": "Austin", "country_code": "US", "zip": "78701"}]})
    assert created.status_code == 201
    c = created.json()
    assert c["admin_graphql_api_id"] == f"gid://shopify/Customer/{c['id']}" and c["email"] == "ana@example.com"
    assert c["default_address"]["customer_id"] == c["id"] and c["default_address"]["default"] is True
    # when it is updated
    r = sandbox.put(f"/_sandbox/shops/{shop}/customers/{c['id']}", {"phone": "+15125550100"})
    updated = r.json()
    sandbox.wait_idle()
    # then customers/create then customers/update arrive, and updated_at moved forward
    assert updated["phone"] == "+15125550100" and updated["updated_at"] > c["updated_at"]
    assert sorted(h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks()) == ["customers/create", "customers/update"]
    body = jsonio.loads(receiver.webhooks("customers/update")[0]["body"])
    assert body["id"] == c["id"] and body["tags"] == "wholesale, vip"


def test_duplicate_email_is_refused(sandbox, shop):
    sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false", {"email": "a@example.com"})
    r = sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false", {"email": "A@example.com"})
    assert r.status_code == 422 and "taken" in r.text


def test_unknown_customer_update_is_404(sandbox, shop):
    r = sandbox.put(f"/_sandbox/shops/{shop}/customers/42", {})
    assert r.status_code == 404


def _two_customers(sandbox, shop) -> tuple[dict, dict]:
    one = sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false",
                       {"email": "one@example.com", "first_name": "One",
                        "addresses": [{"address1": "1 Main St", "city": "Austin", "country_code": "US"}]}).json()
    two = sandbox.post(f"/_sandbox/shops/{shop}/customers?deliver=false", {"last_name": "Two"}).json()
    return one, two


def test_merging_two_customers_keeps_the_second_with_the_others_orders_and_sends_customers_merge(
        sandbox, shop, receiver):
    # given two customers, the first with an order
    one, two = _two_customers(sandbox, shop)
    order = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false",
                         {"line_items": [{"title": "Tee", "quantity": 1, "price": "10.00"}],
                          "customer": {"id": one["id"]}}).json()
    # when the merchant merges them
    merged = sandbox.post(f"/_sandbox/shops/{shop}/customers/merge",
                          {"customer_one_id": one["id"], "customer_two_id": two["id"]}).json()
    sandbox.wait_idle()
    # then customer two survives with one's email, address and order; one is gone
    [hit] = receiver.webhooks("customers/merge")
    body = jsonio.loads(hit["body"])
    assert (body["admin_graphql_api_customer_kept_id"], body["admin_graphql_api_customer_deleted_id"]) == (
        two["admin_graphql_api_id"], one["admin_graphql_api_id"])
    assert body["status"] == "completed" and body["errors"] == []
    assert merged["customer"]["email"] == "one@example.com" and merged["customer"]["last_name"] == "Two"
    assert merged["customer"]["default_address"]["address1"] == "1 Main St"
    assert sandbox.get(f"/_sandbox/shops/{shop}/customers/{one['id']}").status_code == 404
    assert sandbox.get(f"/_sandbox/shops/{shop}/orders/{order['id']}").json()["customer"]["id"] == two["id"]


def test_customer_merge_mutation_answers_the_survivor_and_refuses_an_unknown_customer(sandbox, shop, receiver):
    one, two = _two_customers(sandbox, shop)
    token = sandbox.token(shop)
    mutation = """mutation($one: ID!, $two: ID!) { customerMerge(customerOneId: $one, customerTwoId: $two) {
        resultingCustomerId job { id done } userErrors { field code message } } }"""

    result = sandbox.graphql(shop, token, mutation, {"one": one["admin_graphql_api_id"],
                                                     "two": two["admin_graphql_api_id"]}).json()["data"]["customerMerge"]

    assert result["userErrors"] == [] and result["resultingCustomerId"] == two["admin_graphql_api_id"]
    assert result["job"]["done"] is True
    gone = sandbox.graphql(shop, token, "query($id: ID!) { customer(id: $id) { id } }",
                           {"id": one["admin_graphql_api_id"]}).json()["data"]["customer"]
    assert gone is None
    again = sandbox.graphql(shop, token, mutation, {"one": one["admin_graphql_api_id"],
                                                    "two": two["admin_graphql_api_id"]}).json()["data"]["customerMerge"]
    assert again["userErrors"][0]["code"] == "INVALID_CUSTOMER_ID" and again["resultingCustomerId"] is None
