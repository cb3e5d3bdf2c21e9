"""What Shopify's webhook headers may hold. None of them is signed (the HMAC covers the body only),
so each is checked against the shape Shopify gives it before it is looked up, logged or stored:
a header that does not fit would otherwise reach a column too short for it (PostgreSQL refuses
the row, the receiver answers 503 and the sender retries forever) or a label of ``/metrics``.
"""
from __future__ import annotations

import re
from datetime import datetime

#: ``<name>.myshopify.com``: the only form Shopify sends, and the only one ``shops add`` takes.
DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com")
#: ``orders/create``, ``customers/data_request``, ``shop/redact``, ``customer.tags_added``: lower-case
#: words joined by ``/`` or ``.`` (the column holds 64 characters).
TOPIC = re.compile(r"[a-z][a-z0-9_]*(?:[/.][a-z][a-z0-9_]*){1,3}")
#: Webhook and event ids: UUIDs or numbers in practice; letters, digits, ``-_.:`` (128 stored).
DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: ``2026-01`` or ``unstable``.
API_VERSION = re.compile(r"\d{4}-\d{2}|unstable")
TIMESTAMP_MAX = 64  # the column's width; Shopify's own is about 30 characters


class InvalidHeader(ValueError):
    """A header is missing or does not have the shape Shopify gives it: answer 400, store nothing."""


def check_domain(value: str) -> str:
    if not value:
        raise InvalidHeader("missing X-Shopify-Shop-Domain header")
    if not DOMAIN.fullmatch(value):
        raise InvalidHeader("X-Shopify-Shop-Domain is not a *.myshopify.com domain")
    return value


def check_topic(value: str) -> str:
    if not value:
        raise InvalidHeader("missing X-Shopify-Topic header")
    if len(value) > 64 or not TOPIC.fullmatch(value):
        raise InvalidHeader("X-Shopify-Topic is not a webhook topic")
    return value


def check_ids(event_id: str, webhook_id: str) -> str:
    """The event id the inbox keys on: Event-Id, or Webhook-Id when Shopify sends no Event-Id."""
    if not (event_id or webhook_id):
        raise InvalidHeader("missing X-Shopify-Event-Id and X-Shopify-Webhook-Id headers")
    for name, value in (("X-Shopify-Event-Id", event_id), ("X-Shopify-Webhook-Id", webhook_id)):
        if value and not DELIVERY_ID.fullmatch(value):
            raise InvalidHeader(f"{name} is not an id")
    return event_id or webhook_id


def check_api_version(value: str) -> str:
    if value and not API_VERSION.fullmatch(value):
        raise InvalidHeader("X-Shopify-API-Version is not an API version")
    return value


def parse_timestamp(value: str) -> datetime | None:
    """``X-Shopify-Triggered-At`` as an aware datetime; None when the header is absent."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value) if len(value) <= TIMESTAMP_MAX and "T" in value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidHeader("X-Shopify-Triggered-At is not an ISO 8601 time with its offset")
    return parsed
