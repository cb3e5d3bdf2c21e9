"""The shop's time zone: read once from Shopify and kept, so every order read over GraphQL is
written in the shop's local offset, as its webhooks are; against a Shopify sandbox over HTTP."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from connector.shopify import shop_zone
from connector.shopify.client import ShopConnection, ShopifyClient
from tests.connector.shopify.test_orders import Shop


def test_given_a_utc_instant_then_it_is_written_in_the_shops_offset_as_rest_writes_it():
    new_york = ZoneInfo("America/New_York")
    assert shop_zone.local("2026-02-01T04:30:00Z", new_york) == "2026-01-31T23:30:00-05:00"
    assert shop_zone.local("2026-07-01T03:30:00Z", new_york) == "2026-06-30T23:30:00-04:00"  # summer time
    assert shop_zone.local("2026-02-01T04:30:00Z", ZoneInfo("UTC")) == "2026-02-01T04:30:00+00:00"
    assert shop_zone.local(None, new_york) is None


def test_given_a_shared_cache_then_the_zone_is_asked_of_shopify_once_and_kept_a_week(shopify_sandbox, redis_client):
    # given a New York shop and two clients of it (two workers) sharing a Redis
    shop = Shop(shopify_sandbox, iana_timezone="America/New_York")
    redis_client.delete(shop_zone.key(shop.domain))
    first, second = (ShopifyClient(ShopConnection(shop.domain, "app-id", "app-secret", "2026-01",
                                                  admin_base_url=shop.admin_base_url), allow_http=True,
                                   cache=redis_client) for _ in range(2))

    # when the first reads the zone, then the shop moves to Los Angeles
    assert first.timezone() == ZoneInfo("America/New_York")
    shopify_sandbox.put_shop(shop.domain, iana_timezone="America/Los_Angeles").raise_for_status()

    # then the second gets the kept zone without asking Shopify, until the key expires (a week)
    assert second.timezone() == ZoneInfo("America/New_York")
    assert 0 < redis_client.ttl(shop_zone.key(shop.domain)) <= shop_zone.TTL
    redis_client.delete(shop_zone.key(shop.domain))
    assert second.timezone() == ZoneInfo("America/Los_Angeles")

