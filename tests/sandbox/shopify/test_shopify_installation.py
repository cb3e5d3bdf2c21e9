"""The app's own installation: granted access scopes and the shop's webhook subscriptions."""
from __future__ import annotations

INSTALLATION = "{ currentAppInstallation { accessScopes { handle } } }"
SUBSCRIPTIONS = """query($after: String) { webhookSubscriptions(first: 3, after: $after) {
  nodes { topic uri apiVersion { handle } format }
  pageInfo { hasNextPage endCursor } } }"""


def _subscriptions(sandbox, shop, token) -> list[dict]:
    nodes, after = [], None
    while True:
        page = sandbox.graphql(shop, token, SUBSCRIPTIONS, {"after": after}).json()["data"]["webhookSubscriptions"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_access_scopes_are_the_shops_own_or_the_sandboxs(sandbox, shop):
    token = sandbox.token(shop)
    granted = sandbox.graphql(shop, token, INSTALLATION).json()["data"]["currentAppInstallation"]["accessScopes"]
    assert [s["handle"] for s in granted] == ["read_orders", "write_orders", "read_customers", "read_all_orders",
                                             "read_customer_merge"]

    sandbox.put_shop(shop, scopes="read_orders").raise_for_status()
    token = sandbox.token(shop)
    granted = sandbox.graphql(shop, token, INSTALLATION).json()["data"]["currentAppInstallation"]["accessScopes"]
    assert [s["handle"] for s in granted] == ["read_orders"]


def test_one_subscription_per_delivered_topic_with_the_shops_address_and_version(sandbox, shop):
    sandbox.put_shop(shop, webhook_url="https://mlc.example.com/webhooks/shopify", api_version="2026-04",
                     webhook_topics=["orders/create", "refunds/create", "customers/redact"]).raise_for_status()
    nodes = _subscriptions(sandbox, shop, sandbox.token(shop))
    assert nodes == [{"topic": topic, "uri": "https://mlc.example.com/webhooks/shopify",
                      "apiVersion": {"handle": "2026-04"}, "format": "JSON"}
                     for topic in ("ORDERS_CREATE", "REFUNDS_CREATE")]  # compliance topics are no subscription


def test_every_fired_topic_when_the_shop_names_none_and_none_without_an_address(sandbox, shop):
    token = sandbox.token(shop)
    assert len(_subscriptions(sandbox, shop, token)) == 9  # paged by three
    sandbox.put_shop(shop, webhook_url=None).raise_for_status()
    assert _subscriptions(sandbox, shop, token) == []
