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
