"""JSON with exact money: numbers are read as Decimal and Decimals are written as numbers."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson


def loads(data: str | bytes) -> Any:
    return simplejson.loads(data, use_decimal=True)


def dumps(value: Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"))


def money(value: Any) -> Decimal:
    """A Shopify amount (string, number or None) as a Decimal; None and "" are zero."""
    if value in (None, ""):
        return Decimal("0")
    return Decimal(str(value)) if not isinstance(value, Decimal) else value
