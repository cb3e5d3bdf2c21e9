"""A phone number as one key: E.164 (``+4930901820``), whatever way a cashier or buyer typed it.

A party per phone number only works if ``(555) 010-4477``, ``555-010-4477`` and
``+1 555 010 4477`` are one customer. Google's libphonenumber (``phonenumbers``) knows each
country's numbering plan: a number written without a country code is read in the shop's country
(the mapping's ``[customers] phone_region``), one with ``+`` or an international prefix in its own.
"""
from __future__ import annotations

import phonenumbers


def to_e164(raw: str | None, region: str = "") -> str | None:
    """``raw`` in E.164, or ``None`` when it is not a phone number a customer could be reached at
    (empty, letters, too short or too long for its country, a national number with no region)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def order_phone(order: dict, region: str = "") -> str | None:
    """The buyer's phone number an order gives, in E.164: the order's own, else its billing then
    its shipping address's (Shopify POS and phone orders carry it on any of them); the first that
    is a phone number counts."""
    for raw in (order.get("phone"), (order.get("billing_address") or {}).get("phone"),
                (order.get("shipping_address") or {}).get("phone")):
        number = to_e164(str(raw) if raw is not None else "", region)
        if number:
            return number
    return None
