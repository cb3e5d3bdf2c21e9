"""How many decimals a currency has, for both simulators: its ISO 4217 minor units.

Shopify rounds a money value to its currency's minor units (``Shopify/money``), and Receivables
keeps amounts at the currency's precision (General Ledger's currency set-up, seeded from ISO
4217), so both sandboxes read the one table, from the ``iso4217`` package: none for JPY, KRW or
VND, three for KWD, BHD or OMR, two for most.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import iso4217


@lru_cache(maxsize=None)
def minor_units(currency: str) -> int:
    """The decimals of ``currency``.  A code the table does not hold (withdrawn, like BGN after
    2025, or made up) and the funds and metals without minor units (XAU) get two.  (Shopify's own
    table gives MGA and MRU none where ISO gives two.)"""
    try:
        minor = iso4217.Currency[str(currency).upper()].exponent
    except KeyError:
        return 2
    return 2 if minor is None else minor


@lru_cache(maxsize=None)
def unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``1`` JPY, ``0.01`` USD, ``0.001`` KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_to(value: Decimal | int, currency: str) -> Decimal:
    """``value`` rounded half up to ``currency``'s smallest unit: ``3390.33`` JPY → ``3390``,
    ``12.3456`` KWD → ``12.346``, ``66.745`` USD → ``66.75``."""
    return Decimal(value).quantize(unit(currency), rounding=ROUND_HALF_UP)
