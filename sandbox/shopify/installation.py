"""What an app can read about its own installation: ``currentAppInstallation`` and the shop's
``webhookSubscriptions``, as ``ml-connector fit`` checks them.

* ``accessScopes`` are the scopes the shop granted: the shop's own ``scopes`` (set with
  ``PUT /_sandbox/shops/{shop}``) or the sandbox's ``scopes`` setting, the same ones its tokens
  carry. Granted exactly as listed: Shopify's rule that a ``write_`` scope implies its ``read_``
  one is left to the client.
* ``webhookSubscriptions`` are the shop-scoped (Admin API) subscriptions, one per topic delivered
  to the shop's ``webhook_url`` (its ``webhook_topics``, or every topic the sandbox fires), with
  the shop's ``api_version``. None when the shop has no address, was uninstalled or lost its
  subscription after failed retries. Compliance topics (``customers/redact`` …) are never
  subscriptions: Shopify takes them from the app's configuration (schema: "You create mandatory
  webhooks either via the Partner Dashboard or by updating the app configuration file"), and
  app-scoped subscriptions from ``shopify.app.toml`` are not listed by this query either.
"""
from __future__ import annotations

import zlib

from .graphql_views import connection, gid

#: Every topic the sandbox fires for a shop (merchant actions, uninstalling).
FIRED_TOPICS = ("customers/create", "customers/update", "customers/merge", "orders/create", "orders/updated",
                "orders/paid", "orders/cancelled", "refunds/create", "app/uninstalled")
CREATED_AT = "2024-01-01T00:00:00Z"


def granted_scopes(shop, settings) -> list[str]:
    raw = shop.scopes if getattr(shop, "scopes", None) is not None else settings.scopes
    return [s.strip() for s in raw.split(",") if s.strip()]


def app_installation_view(shop, settings) -> dict:
    return {"__typename": "AppInstallation", "id": gid("AppInstallation", zlib.crc32(shop.domain.encode())),
            "accessScopes": [{"__typename": "AccessScope", "handle": h, "description": f"Scope {h}"}
                             for h in granted_scopes(shop, settings)]}


def subscribed_topics(shop) -> list[str]:
    if not shop.webhook_url or not shop.installed or shop.webhook_subscription_removed:
        return []
    topics = shop.webhook_topics if shop.webhook_topics is not None else FIRED_TOPICS
    return [t for t in topics if t in FIRED_TOPICS]


def subscription_view(shop, topic: str, number: int) -> dict:
    version = shop.api_version
    return {"__typename": "WebhookSubscription",
            "id": gid("WebhookSubscription", zlib.crc32(f"{shop.domain} {topic}".encode())),
            "legacyResourceId": str(zlib.crc32(f"{shop.domain} {topic}".encode())),
            "topic": topic.upper().replace("/", "_"), "uri": shop.webhook_url, "callbackUrl": shop.webhook_url,
            "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": shop.webhook_url},
            "apiVersion": {"__typename": "ApiVersion", "handle": version, "displayName": version,
                           "supported": version != "unstable"},
            "format": "JSON", "includeFields": [], "metafieldNamespaces": [], "metafields": [], "filter": None,
            "createdAt": CREATED_AT, "updatedAt": CREATED_AT, "_number": number}


def webhook_subscriptions(shop, *, first=None, last=None, after=None, before=None, reverse=False,
                          topics=None, uri=None, callbackUrl=None, **_ignored) -> dict:
    """The connection, filtered by ``topics`` and ``uri``/``callbackUrl`` as the schema allows."""
    views = [subscription_view(shop, t, n) for n, t in enumerate(subscribed_topics(shop), 1)]
    wanted_uri = uri or callbackUrl
    views = [v for v in views if (not topics or v["topic"] in topics) and (not wanted_uri or v["uri"] == wanted_uri)]
    return connection("WebhookSubscriptionConnection", [(v.pop("_number"), v) for v in views], first=first,
                      last=last, after=after, before=before, reverse=reverse)
