"""The shop's time zone, and Shopify's timestamps written in it.

REST bodies (webhooks) write their timestamps in the shop's local offset
(``2026-01-15T19:30:00-05:00``); the Admin GraphQL API writes the same instants in UTC
(``2026-01-16T00:30:00Z``). An invoice is dated by the first ten characters of its order's
``processed_at``, so an order read over GraphQL (reconciliation, backfill, a re-read) must be
written in the shop's zone too, or an evening order would take the next day's date. The zone is
``shop { ianaTimezone }``, read once per shop and kept in Redis (:data:`TTL`): a shop seldom moves.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZONE_QUERY = "{ shop { ianaTimezone } }"
#: How long a shop's zone is trusted before it is read again.
TTL = 7 * 24 * 3600


def key(domain: str) -> str:
    return f"mlc:shopify:zone:{domain.lower()}"


def read(client, cache=None) -> ZoneInfo:
    """The shop's zone: from ``cache`` (a Redis) when it holds it, else asked of Shopify and kept."""
    name = cache.get(key(client.connection.domain)) if cache is not None else None
    if name is None:
        name = client.graphql(ZONE_QUERY)["shop"]["ianaTimezone"]
        if cache is not None:
            cache.set(key(client.connection.domain), name, ex=TTL)
    name = name.decode() if isinstance(name, bytes) else name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{client.connection.domain}: Shopify gave an unknown time zone {name!r}") from None


def local(stamp: str | None, zone: tzinfo) -> str | None:
    """An ISO timestamp (``Z`` or any offset) as the same instant in ``zone``, as REST writes it."""
    if not stamp:
        return stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(zone).isoformat()
