"""Timestamps as each API writes them: REST (bodies and webhooks) in the shop's local offset
(``2026-01-15T19:30:00-05:00``), Admin GraphQL in UTC (``2026-01-16T00:30:00Z``), as Shopify does.

The store keeps whatever instant it was given or stamped; the views write it.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def _instant(stamp: str) -> datetime:
    instant = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)


def utc(stamp):
    """A GraphQL ``DateTime``: the instant in UTC, ``Z``, to the second."""
    if not isinstance(stamp, str) or not _STAMP.match(stamp):
        return stamp
    return _instant(stamp).astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_stamps(body, zone_name: str):
    """``body`` (a REST object, changed in place) with every ``*_at`` timestamp in the shop's zone."""
    zone = ZoneInfo(zone_name)
    if isinstance(body, dict):
        for key, value in body.items():
            if key.endswith("_at") and isinstance(value, str) and _STAMP.match(value):
                body[key] = _instant(value).astimezone(zone).isoformat()
            elif isinstance(value, (dict, list)):
                local_stamps(value, zone_name)
    elif isinstance(body, list):
        for item in body:
            local_stamps(item, zone_name)
    return body


def zone_fields(zone_name: str, at: datetime | None = None) -> dict:
    """The ``Shop`` fields that describe its zone (the offset as it stands ``at``, now by default)."""
    now = (at or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone_name))
    minutes = int(now.utcoffset().total_seconds() // 60)
    sign, rest = ("-" if minutes < 0 else "+"), abs(minutes)
    return {"ianaTimezone": zone_name, "timezoneAbbreviation": now.tzname(),
            "timezoneOffset": f"{sign}{rest // 60:02d}{rest % 60:02d}", "timezoneOffsetMinutes": minutes}
