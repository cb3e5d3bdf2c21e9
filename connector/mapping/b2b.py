"""What a Shopify B2B order means for its invoice: who is billed, on which terms, under which PO.

An order placed by a B2B company names it in ``company`` (``{"id", "location_id"}``): the
debtor is the company (a TCA organization) and the account is its location's, so dunning and
statements reach the company, not the contact who clicked "order". Its ``payment_terms`` decide
the invoice's due date through the mapping's ``[b2b]`` terms table; its ``po_number`` is the
invoice's ``PurchaseOrder``. An order without a company is not touched by anything here.
"""
from __future__ import annotations

from dataclasses import dataclass

from connector.mapping.config import Mapping
from connector.mapping.invoice import MappingError


@dataclass(frozen=True)
class Purchaser:
    """The company and location an order was placed for, as Shopify ids and GIDs."""

    company_id: str
    location_id: str

    @property
    def company_gid(self) -> str:
        return f"gid://shopify/Company/{self.company_id}"

    @property
    def location_gid(self) -> str:
        return f"gid://shopify/CompanyLocation/{self.location_id}"


def purchaser(order: dict) -> Purchaser | None:
    """The order's purchasing company and location; None for an order a customer placed."""
    company = order.get("company")
    if not isinstance(company, dict) or company.get("id") in (None, ""):
        return None
    if company.get("location_id") in (None, ""):
        raise MappingError(f"the order names company {company['id']} but no company location to bill")
    return Purchaser(str(company["id"]), str(company["location_id"]))


def payment_terms(order: dict, mapping: Mapping) -> str:
    """The Fusion payment terms name of a B2B order: its Shopify terms through ``[[b2b.terms]]``,
    ``default_terms`` when it has none; a term no row matches parks (or takes the default, with
    ``unmatched = "default"``), naming the row to add."""
    setup = _setup(mapping)
    terms = order.get("payment_terms")
    if not terms:
        if not setup.default_terms:
            raise MappingError("the B2B order carries no payment terms and the mapping's [b2b] names no "
                               "default_terms: add one")
        return setup.default_terms
    name = str(terms.get("payment_terms_name") or "")
    kind = str(terms.get("payment_terms_type") or "").upper()
    days = terms.get("due_in_days")
    days = int(days) if days not in (None, "") else None
    row = setup.row(name, kind, days)
    if row is not None:
        return row.fusion
    if setup.unmatched == "default":
        return setup.default_terms
    due = f", due in {days} days" if days is not None else ""
    raise MappingError(f"no [[b2b.terms]] row matches Shopify payment terms {name!r} ({kind or 'no type'}{due}): "
                       f"add one with name = {name!r} and the Fusion payment terms as fusion")


def purchase_order(order: dict) -> str:
    """The buyer's PO number (Fusion keeps 50 characters); '' when the order has none."""
    return str(order.get("po_number") or "").strip()[:50]


def _setup(mapping: Mapping):
    if mapping.b2b is None:
        raise MappingError("the order was placed by a B2B company and the mapping has no [b2b] section: add one "
                           "with its payment terms table (docs/accounting.md, \"B2B orders\")")
    return mapping.b2b
