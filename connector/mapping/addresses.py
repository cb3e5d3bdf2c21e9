"""Addresses normalised between Shopify and Fusion TCA (ISO country and subdivision codes).

Shopify sends both names and codes, but hand-made or imported orders sometimes carry only a
country or province *name*; Fusion wants the 2-letter country code and the state code.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import pycountry


class AddressError(ValueError):
    pass


@lru_cache(maxsize=512)
def country_code(code: str | None, name: str | None = None) -> str:
    for candidate in (code, name):
        if not candidate:
            continue
        try:
            return pycountry.countries.lookup(candidate.strip()).alpha_2
        except LookupError:
            continue
    raise AddressError(f"unknown country {code or name!r}")


@lru_cache(maxsize=2048)
def state_code(country: str, code: str | None, name: str | None = None) -> str:
    """The subdivision code without the country prefix ("TX"), or "" when there is none."""
    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    by_code = {s.code.split("-", 1)[1].upper(): s for s in subdivisions}
    if code and code.strip().upper().removeprefix(f"{country}-") in by_code:
        return code.strip().upper().removeprefix(f"{country}-")
    if name:
        wanted = name.strip().casefold()
        for short, subdivision in by_code.items():
            if subdivision.name.casefold() == wanted:
                return short
    return (code or "").strip().upper()


def to_fusion(address: dict) -> dict:
    """A Shopify address as a TCA ``Address`` item."""
    country = country_code(address.get("country_code"), address.get("country"))
    out = {
        "Address1": (address.get("address1") or "").strip()[:240] or "-",
        "Address2": (address.get("address2") or "").strip()[:240] or None,
        "City": (address.get("city") or "").strip()[:60] or None,
        "State": state_code(country, address.get("province_code"), address.get("province")) or None,
        "PostalCode": (address.get("zip") or "").strip()[:60] or None,
        "Country": country,
    }
    return {k: v for k, v in out.items() if v is not None}


def one_line(address: dict | None) -> str:
    """For invoice comments: what the accountant sees next to the order number."""
    if not address:
        return ""
    name = address.get("name") or " ".join(filter(None, [address.get("first_name"), address.get("last_name")]))
    parts = [address.get("company"), name, address.get("address1"), address.get("address2"),
             address.get("city"), address.get("province_code") or address.get("province"),
             address.get("zip"), address.get("country_code") or address.get("country")]
    return ", ".join(p.strip() for p in parts if p and str(p).strip())


_KEY_FIELDS = ("Address1", "Address2", "City", "State", "PostalCode", "Country")


def address_key(fusion_address: dict) -> str:
    """One TCA address's identity, whatever case or spacing it was typed in: how a billing
    address is recognised among a party's sites (so each distinct address gets one site)."""
    parts = (" ".join(str(fusion_address.get(name) or "").split()).casefold() for name in _KEY_FIELDS)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]
