"""Money arithmetic the way Shopify presents it: Decimal only, two-place strings, money bags.

Floats never touch an amount.  JSON is parsed with ``parse_float=Decimal``; amounts leave as
strings (``"66.74"``), except the few places where Shopify itself sends JSON numbers (tax rates,
``refund_line_items[].subtotal``), which get ``json_number``.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
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


def cents(value) -> Decimal:
    """Round half up to the cent, as Shopify rounds taxes and conversions."""
    return D(value).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value) -> str:
    """``Decimal("66.7")`` → ``"66.70"``: Shopify's scalar money strings."""
    return str(cents(value))


def json_number(value) -> Decimal:
    """A Decimal that serialises like Ruby's Float#to_json: ``10.8``, ``0.0``, ``89.99``."""
    d = D(value).normalize()
    if d == d.to_integral_value():
        return d.quantize(Decimal("0.0"))
    return d


def money(amount, currency: str) -> dict:
    return {"amount": fmt(amount), "currency_code": currency}


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


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` over ``weights`` in cents so the parts sum exactly to ``total``.

    Largest-remainder method: each part is rounded down, and the cents left over go to the
    parts with the largest remainders (earliest first on ties) – the same result a careful
    merchant system must give, so allocations always add up to the discount.
    """
    total = cents(total)
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum == 0:
        parts = [ZERO] * len(weights)
        parts[0] = total
        return parts
    raw = [total * w / weight_sum for w in weights]
    floors = [r.quantize(CENT, rounding="ROUND_DOWN") for r in raw]
    left = int(((total - sum(floors, Decimal(0))) / CENT).to_integral_value())
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += CENT
    return floors
