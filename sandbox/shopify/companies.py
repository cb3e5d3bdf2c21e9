"""B2B: companies, their locations and contacts, payment terms, and what they add to an order.

A B2B order is placed by a *purchasing company*: a company, one of its locations (which has its
own billing address) and the contact (a customer) who placed it. It may carry payment terms made
from one of the shop's templates (net 30, due on fulfillment, …) and a PO number.

What the reference confirms: the REST order keys ``po_number`` and ``payment_terms`` (H, in the
2026 samples' key list) and, in the Admin GraphQL schema, ``Order.purchasingEntity``
(``Customer | PurchasingCompany`` of ``company``, ``location``, ``contact``), ``Order.poNumber``,
``Order.paymentTerms`` (``paymentTermsName``, ``paymentTermsType``, ``dueInDays``,
``paymentSchedules``) and ``CompanyLocation.billingAddress`` (a ``CompanyAddress``).

What it does not: the REST shape of the company on an order webhook is not in the samples.
The sandbox writes ``"company": {"id": <company id>, "location_id": <location id>}`` (Shopify's
REST Order page) **[L]**, and the keys inside ``payment_terms`` as ``payment_terms_name`` (the
template's name, "Net 30"), ``payment_terms_type``, ``due_in_days`` and ``payment_schedules``
**[L]**; the case of ``payment_terms_type`` is the setting ``rest_payment_terms_type_case``
(``lower``: "net", the default; ``upper``: "NET", as GraphQL's enum). Shopify has
``companies/*`` webhooks; the sandbox fires none (the connector does not subscribe to them).
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta

from .orders import OrderError

#: Shopify's standard payment terms templates: (name, type, due in days).
TEMPLATES = (("Due on receipt", "RECEIPT", None), ("Due on fulfillment", "FULFILLMENT", None),
             ("Net 7", "NET", 7), ("Net 15", "NET", 15), ("Net 30", "NET", 30), ("Net 45", "NET", 45),
             ("Net 60", "NET", 60), ("Net 90", "NET", 90), ("Fixed", "FIXED", None))
TEMPLATE_IDS = {name: n for n, (name, _, _) in enumerate(TEMPLATES, 1)}
_ADDRESS_KEYS = ("address1", "address2", "city", "province", "province_code", "zip", "country",
                 "country_code", "phone", "first_name", "last_name", "recipient")


def complete_company(store, shop, posted: dict, now: str) -> dict:
    """A company from ``{name, external_id?, note?, contact: {customer_id} | {customer fields},
    locations: [{name, billing_address, external_id?}]}``; the contact's customer must exist or is
    created (returned apart, so its ``customers/create`` can fire)."""
    name = str(posted.get("name") or "").strip()
    if not name:
        raise OrderError("a company needs a name")
    cid = store.new_id("Company")
    company = {"id": cid, "admin_graphql_api_id": f"gid://shopify/Company/{cid}", "name": name,
               "external_id": posted.get("external_id"), "note": posted.get("note"),
               "created_at": now, "updated_at": now, "customer_since": now, "location_ids": [], "contacts": []}
    for location in posted.get("locations") or []:
        add_location(store, shop, company, location, now)
    if not company["location_ids"]:
        raise OrderError("a company needs at least one location")
    return company


def add_location(store, shop, company: dict, posted: dict, now: str) -> dict:
    billing = posted.get("billing_address")
    if not isinstance(billing, dict) or not billing.get("address1") or not billing.get("country_code"):
        raise OrderError("a company location needs a billing_address with address1 and country_code")
    lid = store.new_id("CompanyLocation")

    def company_address(raw: dict) -> dict:
        address = {key: raw.get(key) for key in _ADDRESS_KEYS}
        address.update({"id": store.new_id("CompanyAddress"), "company_name": company["name"],
                        "created_at": now, "updated_at": now})
        return address

    shipping = posted.get("shipping_address")
    location = {"id": lid, "admin_graphql_api_id": f"gid://shopify/CompanyLocation/{lid}",
                "company_id": company["id"], "name": str(posted.get("name") or company["name"]),
                "external_id": posted.get("external_id"), "note": posted.get("note"),
                "currency": shop.currency, "billing_address": company_address(billing),
                "shipping_address": company_address(shipping) if isinstance(shipping, dict) else None,
                "created_at": now, "updated_at": now}
    shop.company_locations[lid] = location
    company["location_ids"].append(lid)
    return location


def add_contact(store, company: dict, customer: dict, now: str) -> dict:
    """The customer as a contact of the company (the first one is its main contact)."""
    for contact in company["contacts"]:
        if contact["customer_id"] == customer["id"]:
            return contact
    contact = {"id": store.new_id("CompanyContact"), "customer_id": customer["id"],
               "is_main_contact": not company["contacts"], "title": None, "created_at": now, "updated_at": now}
    company["contacts"].append(contact)
    return contact


def rest_company(shop, company: dict) -> dict:
    """The company as the scenario API answers it: with its locations inline."""
    out = {k: copy.deepcopy(v) for k, v in company.items() if k != "location_ids"}
    out["locations"] = [copy.deepcopy(shop.company_locations[i]) for i in company["location_ids"]]
    return out


def purchasing_company(shop, posted: dict) -> tuple[dict, dict] | None:
    """(company, location) a posted order names in ``company: {id, location_id}``, else None."""
    named = posted.get("company")
    if not named:
        return None
    if not isinstance(named, dict) or named.get("id") is None:
        raise OrderError("company must be {\"id\": …, \"location_id\": …}")
    company = shop.companies.get(_int(named["id"]))
    if company is None:
        raise OrderError(f"company {named['id']} does not exist in this shop")
    location_id = _int(named.get("location_id")) if named.get("location_id") is not None \
        else company["location_ids"][0]
    if location_id not in company["location_ids"]:
        raise OrderError(f"location {named.get('location_id')} is not a location of company {company['id']}")
    return company, shop.company_locations[location_id]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def order_address(location: dict) -> dict:
    """A location's billing address as an order's ``billing_address``."""
    billing = location["billing_address"]
    out = {key: billing.get(key) for key in _ADDRESS_KEYS if key != "recipient"}
    out["company"] = billing.get("company_name")
    out["name"] = " ".join(x for x in (billing.get("first_name"), billing.get("last_name")) if x) or None
    return out


def template(posted: dict) -> tuple[str, str, int | None]:
    """The template posted terms name: by ``payment_terms_name`` ("Net 30"), or by
    ``payment_terms_type`` and ``due_in_days``."""
    name = posted.get("payment_terms_name")
    if name:
        found = next((t for t in TEMPLATES if t[0].lower() == str(name).strip().lower()), None)
        if found is None:
            raise OrderError(f"payment terms {name!r} are not one of the shop's templates "
                             f"({', '.join(t[0] for t in TEMPLATES)})")
        return found
    kind = str(posted.get("payment_terms_type") or "").upper()
    days = posted.get("due_in_days")
    found = next((t for t in TEMPLATES if t[1] == kind and (t[2] == days or t[2] is None and days is None)), None)
    if found is None:
        raise OrderError(f"no payment terms template of type {kind or '?'} due in {days} days")
    return found


def complete_terms(store, posted: dict | None, order: dict, now: str, type_case: str) -> dict | None:
    """The order's ``payment_terms`` in REST shape, one schedule for the order's total."""
    if not posted:
        return None
    if not isinstance(posted, dict):
        raise OrderError("payment_terms must be an object")
    name, kind, days = template(posted)
    issued = order["processed_at"]
    due_at = None
    if kind == "NET":
        due_at = (_parse(issued) + timedelta(days=days)).isoformat()
    elif kind == "FIXED":
        due_at = posted.get("due_at")
        if not due_at:
            raise OrderError("fixed payment terms need a due_at")
    schedule = {"id": store.new_id("PaymentSchedule"), "created_at": now, "updated_at": now,
                "issued_at": issued if kind != "FULFILLMENT" else None, "due_at": due_at, "completed_at": None,
                "amount": order["total_price"], "currency": order["currency"],
                "balance_due": order["total_outstanding"], "total_balance": order["total_outstanding"],
                "expected_payment_method": None}
    return {"id": store.new_id("PaymentTerms"), "created_at": now, "updated_at": now,
            "payment_terms_name": name, "payment_terms_type": kind.lower() if type_case == "lower" else kind,
            "due_in_days": days, "payment_schedules": [schedule]}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
