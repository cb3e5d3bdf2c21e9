"""Reading payments, refunds and refund shipping tax over GraphQL, against a Shopify sandbox over HTTP."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from connector.config import Settings
from connector.db import session_scope
from connector.services.context import Services
from connector.services.setup import add_shop
from connector.shopify import orders
from connector.shopify.client import ShopConnection, ShopifyClient, ShopifyError
from connector.shopify.orders import RefundShipping
from connector.vault import generate_key
from tests.factories import reference_order
from tests.sandbox.shopify.shopify_helpers import start_sandbox


@pytest.fixture(scope="module")
def sandbox():
    box, server = start_sandbox()
    yield box
    threading.Thread(target=server.stop, daemon=True).start()


class Shop:
    """A sandbox shop of the test's own, as the connector's client and as the merchant."""

    def __init__(self, sandbox, currency: str = "USD", taxes_included: bool = False, iana_timezone: str = "UTC"):
        self.sandbox = sandbox
        self.domain = f"orders-{uuid.uuid4().hex[:8]}.myshopify.com"
        response = sandbox.put_shop(self.domain, client_id="app-id", client_secret="app-secret", webhook_url=None,
                                    currency=currency, taxes_included=taxes_included, iana_timezone=iana_timezone)
        assert response.status_code == 201, response.text
        self.admin_base_url = f"{sandbox.url}/shops/{self.domain}"
        self.client = ShopifyClient(ShopConnection(self.domain, "app-id", "app-secret", "2026-01",
                                                   admin_base_url=self.admin_base_url), allow_http=True)

    def post(self, path: str, body: dict) -> dict:
        response = self.sandbox.post(f"/_sandbox/shops/{self.domain}{path}?deliver=false", body)
        assert response.status_code == 201, response.text
        return response.json()

    def order(self, **fields) -> dict:
        return self.post("/orders", reference_order(customer=None, **fields))

    def pay(self, order: dict, **transaction) -> dict:
        return self.post(f"/orders/{order['id']}/transactions", transaction)

    def refund(self, order: dict, **refund) -> dict:
        return self.post(f"/orders/{order['id']}/refunds", refund)

    def rest_transactions(self, order: dict) -> list[dict]:
        return self.sandbox.get(f"/_sandbox/shops/{self.domain}/orders/{order['id']}/transactions").json()["transactions"]


def _summary(transactions) -> list[tuple]:
    return [(t.kind, t.status, t.amount, t.parent_id) for t in transactions]


def test_given_paid_order_then_its_sale_is_read_in_shop_money(sandbox):
    shop = Shop(sandbox)
    order = shop.order()
    [sale] = orders.transactions(shop.client, order["admin_graphql_api_id"])
    [rest] = shop.rest_transactions(order)
    assert (sale.id, sale.gid) == (str(rest["id"]), rest["admin_graphql_api_id"])
    assert (sale.kind, sale.status, sale.gateway, sale.parent_id) == ("sale", "success", "manual", None)
    assert (sale.amount, sale.currency) == (Decimal("66.74"), "USD") and isinstance(sale.amount, Decimal)
    assert sale.processed_at.startswith(rest["processed_at"][:10])


def test_given_authorization_captured_in_part_then_both_are_read_oldest_first(sandbox):
    shop = Shop(sandbox)
    order = shop.order(financial_status="authorized")
    [auth] = shop.rest_transactions(order)
    capture = shop.pay(order, kind="capture", amount="20.00", parent_id=auth["id"])
    read = orders.transactions(shop.client, order["admin_graphql_api_id"])
    assert _summary(read) == [("authorization", "success", Decimal("66.74"), None),
                              ("capture", "success", Decimal("20.00"), str(auth["id"]))]
    assert [t.id for t in read] == [str(auth["id"]), str(capture["id"])]


def test_given_authorization_only_then_it_is_the_one_transaction(sandbox):
    shop = Shop(sandbox)
    order = shop.order(financial_status="authorized")
    assert _summary(orders.transactions(shop.client, order["admin_graphql_api_id"])) == [
        ("authorization", "success", Decimal("66.74"), None)]


def test_given_payments_and_a_refund_then_every_transaction_comes_in_order(sandbox):
    shop = Shop(sandbox)
    order = shop.order(financial_status="pending")
    first = shop.pay(order, kind="sale", amount="30.00")
    shop.pay(order, kind="sale")
    shop.refund(order, refund_line_items=[{"line_item_id": order["line_items"][1]["id"], "quantity": 1}])
    read = orders.transactions(shop.client, order["admin_graphql_api_id"])
    assert _summary(read) == [("sale", "success", Decimal("30.00"), None), ("sale", "success", Decimal("36.74"), None),
                              ("refund", "success", Decimal("11.66"), str(first["id"]))]


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_given_three_refunds_then_they_come_in_creation_order(sandbox):
    shop = Shop(sandbox)
    order = shop.order(line_items=[{"title": "Pen", "quantity": 3, "price": "1.00"}], shipping_lines=[],
                       discount_codes=[], discount_applications=[])
    made = [shop.refund(order, refund_line_items=[{"line_item_id": order["line_items"][0]["id"], "quantity": 1}])
            for _ in range(3)]
    read = orders.refunds(shop.client, order["admin_graphql_api_id"])
    # the same instants: GraphQL writes them in UTC, the REST bodies in the shop's offset
    assert [(r.id, r.gid, _instant(r.created_at)) for r in read] == [
        (str(m["id"]), m["admin_graphql_api_id"], _instant(m["created_at"])) for m in made]
    assert orders.refunds(shop.client, shop.order()["admin_graphql_api_id"]) == []


def test_given_tax_exclusive_shop_then_refund_shipping_tax_is_read_to_the_cent(sandbox):
    # given the reference order (6.00 shipping, 8 % on top) with its shipping refunded
    shop = Shop(sandbox)
    order = shop.order()
    refund = shop.refund(order, shipping={"full_refund": True})
    assert "tax_amount_set" not in refund["refund_shipping_lines"][0]  # REST leaves it out
    # then GraphQL gives the net shipping and its tax
    assert orders.refund_shipping(shop.client, refund["admin_graphql_api_id"]) == [
        RefundShipping(str(order["shipping_lines"][0]["id"]), Decimal("6.00"), Decimal("0.48"))]


def test_given_tax_inclusive_shop_then_refund_shipping_is_net_with_its_tax_to_the_cent(sandbox):
    # given a VAT-inclusive order: 119.00 line and 5.95 shipping, 19 % VAT included in both
    shop = Shop(sandbox, currency="EUR", taxes_included=True)
    vat = [{"title": "VAT", "rate": "0.19"}]
    order = shop.post("/orders", {"financial_status": "paid",
                                  "line_items": [{"title": "Lamp", "quantity": 1, "price": "119.00", "tax_lines": vat}],
                                  "shipping_lines": [{"title": "Post", "price": "5.95", "tax_lines": vat}]})
    refund = shop.refund(order, shipping={"full_refund": True})
    # then the shipping refunded is 5.00 net and 0.95 VAT, which make the 5.95 given back
    [shipping] = orders.refund_shipping(shop.client, refund["admin_graphql_api_id"])
    assert (shipping.subtotal, shipping.tax) == (Decimal("5.00"), Decimal("0.95"))
    assert shipping.subtotal + shipping.tax == Decimal(refund["transactions"][0]["amount"]) == Decimal("5.95")


def test_given_more_shipping_lines_than_a_page_then_all_are_read(sandbox):
    shop = Shop(sandbox)
    count = orders.PAGE_SIZE + 2
    order = shop.order(shipping_lines=[{"title": f"Parcel {i}", "price": "1.00",
                                        "tax_lines": [{"title": "State Tax", "rate": "0.08"}]} for i in range(count)],
                       discount_codes=[], discount_applications=[])
    refund = shop.refund(order, shipping={"full_refund": True})
    read = orders.refund_shipping(shop.client, refund["admin_graphql_api_id"])
    assert [r.shipping_line_id for r in read] == [str(sl["id"]) for sl in order["shipping_lines"]]
    assert {(r.subtotal, r.tax) for r in read} == {(Decimal("1.00"), Decimal("0.08"))}


def test_given_unknown_order_or_refund_then_the_error_names_it(sandbox):
    shop = Shop(sandbox)
    for read, gid in ((orders.transactions, "gid://shopify/Order/1"), (orders.refunds, "gid://shopify/Order/1"),
                      (orders.refund_shipping, "gid://shopify/Refund/1")):
        with pytest.raises(ShopifyError, match=f"{shop.domain}: .*{gid} not found"):
            read(shop.client, gid)


@pytest.mark.parametrize("query", [orders.TRANSACTIONS_QUERY, orders.REFUNDS_QUERY, orders.REFUND_SHIPPING_QUERY])
def test_each_query_costs_well_under_shopifys_single_query_limit(sandbox, query):
    shop = Shop(sandbox)
    token = sandbox.token(shop.domain)
    body = sandbox.graphql(shop.domain, token, query, {"id": "gid://shopify/Order/1"}).json()
    assert body["extensions"]["cost"]["requestedQueryCost"] <= 500, body


def test_services_reuse_a_shops_client_until_its_configuration_changes(sandbox, migrated, redis_url):
    # given a shop configured the way an operator does it (committed: a worker's client reads its
    # stored token in transactions of its own)
    services = Services(Settings(database_url=migrated, redis_url=redis_url, encryption_keys=(generate_key(),),
                                 allow_http=True))
    shop = Shop(sandbox)
    with session_scope(migrated) as session:
        row = add_shop(session, services.vault, domain=shop.domain, client_id="app-id", client_secret="app-secret",
                       prefix="ORD" + uuid.uuid4().hex[:5].upper(), admin_base_url=shop.admin_base_url)
        # then the client comes from the vault's credentials, once per configuration
        client = services.shopify(session, row)
        assert services.shopify(session, row) is client
    assert orders.transactions(client, shop.order()["admin_graphql_api_id"])[0].kind == "sale"
    with session_scope(migrated) as session:
        row = add_shop(session, services.vault, domain=shop.domain, client_id="app-id", client_secret="rotated",
                       admin_base_url=shop.admin_base_url)
        assert services.shopify(session, row) is not client
