"""Money in Decimal, never float: parsing request amounts and rounding to the currency."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import bad_request

CENT = Decimal("0.01")


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


def cents(value: Decimal | int) -> Decimal:
    """Round to the currency's 2 decimals, half up, as Receivables rounds amounts."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
