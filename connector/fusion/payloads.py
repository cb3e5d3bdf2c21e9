"""Checks shared by the payload dataclasses of the resource modules.

Money is Decimal end to end: a float has already lost the cent, so it is refused at the door
rather than rounded somewhere later.
"""
from __future__ import annotations

from decimal import Decimal


def money(name: str, value, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative: {value}")


def compact(values: dict) -> dict:
    """The payload without unset fields, so Fusion applies its own defaults to them."""
    return {name: value for name, value in values.items() if value is not None}
