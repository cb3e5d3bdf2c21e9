"""Money in Decimal, never float: parsing request amounts and rounding to the currency.

Receivables keeps every amount at its currency's precision (the currency's Precision in General
Ledger's currency set-up, seeded from ISO 4217): 0 decimals for JPY or KRW, 3 for KWD or BHD, 2
for most: ``precision`` is the ISO 4217 minor units (``sandbox.currencies``). An amount
posted with more decimals than its currency has is rounded half up to the currency, as every
computed amount is (installment balances, credits, applications, pro-rated buckets): whether a pod
refuses such an amount instead is not in the reference, so the sandbox rounds (an unconfirmed
choice; a connector should send amounts at the currency's precision either way).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..currencies import minor_units as precision
from ..currencies import round_to as rounded
from .errors import bad_request

__all__ = ["precision", "rounded", "to_decimal"]


def to_decimal(value: Any, attr: str, path: str = "") -> Decimal | None:
    """A JSON number (already Decimal/int thanks to parse_float) or numeric string → Decimal."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise bad_request(f"The value of the attribute {attr} isn't a valid number.", "JBO-27018",
                          f"{path}/{attr}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise bad_request(f"The value of the attribute {attr} isn't a valid number.", "JBO-27018",
                          f"{path}/{attr}") from None
    if not result.is_finite():
        raise bad_request(f"The value of the attribute {attr} isn't a valid number.", "JBO-27018",
                          f"{path}/{attr}")
    return result

