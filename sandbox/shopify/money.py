"""Money arithmetic the way Shopify presents it: Decimal only, each currency at its own decimals,
money bags.

Floats never touch an amount.  JSON is parsed with ``parse_float=Decimal``; amounts leave as
strings, except the few places where Shopify itself sends JSON numbers (tax rates,
``refund_line_items[].subtotal``), which get ``json_number``.

**Currencies.**  A currency's decimals are its ISO 4217 minor units (``exponent``, from
``sandbox.currencies``): none for JPY, KRW or VND, three for KWD, BHD or OMR, two for most.
Shopify's Money objects round every value to its currency's minor units on creation (half up:
``Shopify/money``, ``Money#initialize``), and so does every rounding here: taxes per line,
discount allocations, refund pro-rating, conversions between shop and presentment money.  A money
string has exactly the currency's decimals (``Money#to_s``): ``"66.74"`` USD, ``"3970"`` JPY (no
decimal point, as in a REST JPY order's ``"total_price": "23600"``), ``"12.345"`` KWD.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from ..currencies import minor_units as exponent
from ..currencies import round_to, unit

__all__ = ["ZERO", "D", "exponent", "unit", "rounded", "fmt", "json_number", "money", "bag", "bag_amounts",
           "allocate"]

ZERO = Decimal("0.00")


def D(value) -> Decimal:
    """Any amount-like value (str, int, Decimal; never float) to Decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # pragma: no cover - a programming error, not input
        raise TypeError("floats are not money; parse JSON with parse_float=Decimal")
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def rounded(value, currency: str) -> Decimal:
    """``value`` rounded half up to ``currency``'s smallest unit, as Shopify rounds taxes and
    conversions: ``3390.33`` JPY → ``3390``, ``66.745`` USD → ``66.75``."""
    return round_to(D(value), currency)


def fmt(value, currency: str) -> str:
    """Shopify's scalar money string: ``66.7`` USD → ``"66.70"``, ``3970`` JPY → ``"3970"``,
    ``12.3`` KWD → ``"12.300"``."""
    return str(rounded(value, currency))


def json_number(value) -> Decimal:
    """A Decimal that serialises like Ruby's Float#to_json: ``10.8``, ``0.0``, ``89.99``, ``3970.0``."""
    d = D(value).normalize()
    if d == d.to_integral_value():
        return d.quantize(Decimal("0.0"))
    return d


def money(amount, currency: str) -> dict:
    return {"amount": fmt(amount, currency), "currency_code": currency}


def bag(shop_amount, shop_currency: str, presentment_amount=None, presentment_currency=None) -> dict:
    """A REST ``*_set`` money bag; presentment defaults to the shop side."""
    if presentment_amount is None:
        presentment_amount = shop_amount
    return {"shop_money": money(shop_amount, shop_currency),
            "presentment_money": money(presentment_amount, presentment_currency or shop_currency)}


def bag_amounts(bag_: dict | None) -> tuple[Decimal, Decimal] | None:
    """(shop, presentment) amounts of a money bag, or None when absent or incomplete."""
    if not isinstance(bag_, dict):
        return None
    try:
        return D(bag_["shop_money"]["amount"]), D(bag_["presentment_money"]["amount"])
    except (KeyError, TypeError):
        return None


def allocate(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` over ``weights`` in ``currency``'s smallest units so the parts sum exactly
    to ``total``.

    Largest-remainder method: each part is rounded down to the unit, and the units left over go
    to the parts with the largest remainders (earliest first on ties) – the same result a careful
    merchant system must give, so allocations always add up to the discount.
    """
    step = unit(currency)
    total = rounded(total, currency)
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum == 0:
        parts = [ZERO] * len(weights)
        parts[0] = total
        return parts
    raw = [total * w / weight_sum for w in weights]
    floors = [r.quantize(step, rounding=ROUND_DOWN) for r in raw]
    left = int(((total - sum(floors, Decimal(0))) / step).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += step
    return floors
