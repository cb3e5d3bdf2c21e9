"""The one reference order every test builds on, so that its figures live in one place.

It is the composed example a merchant would post: two tees and a mug, SAVE10 (10 % across the
lines), 6.00 shipping and 8 % state tax, 66.74 in all. The figures Shopify works out (tax amounts,
discount allocations, totals) are left out for the Shopify sandbox to complete, so a test that
wants them checks the sandbox rather than repeating them.
"""
from __future__ import annotations

import uuid


def reference_order(**overrides) -> dict:
    order = {
        "email": "ana@example.com", "financial_status": "paid",
        "line_items": [
            {"sku": "TEE-BLK-M", "title": "Tee", "variant_title": "Black / M", "quantity": 2, "price": "25.00",
             "tax_lines": [{"title": "State Tax", "rate": "0.08"}]},
            {"sku": "MUG-01", "title": "Mug", "quantity": 1, "price": "12.00",
             "tax_lines": [{"title": "State Tax", "rate": "0.08"}]},
        ],
        "shipping_lines": [{"title": "Standard", "code": "STANDARD", "price": "6.00",
                            "tax_lines": [{"title": "State Tax", "rate": "0.08"}]}],
        "discount_codes": [{"code": "SAVE10", "type": "percentage"}],
        "discount_applications": [{"type": "discount_code", "code": "SAVE10", "value": "10.0",
                                   "value_type": "percentage", "allocation_method": "across",
                                   "target_selection": "all", "target_type": "line_item"}],
        "billing_address": {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St", "city": "Austin",
                            "province_code": "TX", "country_code": "US", "zip": "78701"},
        "customer": {"email": "ana@example.com", "first_name": "Ana", "last_name": "Silva"},
    }
    order.update(overrides)
    return order


def new_order(email: str | None = None) -> dict:
    """The reference order, unpaid, bought by a customer of its own: integration tests share one
    Fusion pod, where a repeated email would match another test's customer."""
    email = email or f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    return reference_order(email=email, financial_status="pending",
                           customer={"email": email, "first_name": "Ana", "last_name": "Silva"})


def b2b_company(name: str | None = None, locations: int = 1) -> dict:
    """A Shopify B2B company with ``locations`` locations, each billed at an address of its own,
    and a contact of its own (integration tests share one Fusion pod: names stay unique)."""
    tag = uuid.uuid4().hex[:6]
    name = name or f"Acme Wholesale {tag}"
    return {"name": name,
            "contact": {"email": f"buyer-{tag}@acme.example", "first_name": "Bea", "last_name": "Buyer"},
            "locations": [{"name": f"{name} site {n + 1}",
                           "billing_address": {"address1": f"{100 + n} Commerce Way", "city": "Dallas",
                                               "province_code": "TX", "country_code": "US", "zip": "75201"}}
                          for n in range(locations)]}


def b2b_order(company: dict, location: int = 0, *, terms: dict | None = None, po_number: str | None = "PO-4471",
              **overrides) -> dict:
    """The reference order, unpaid, placed by ``company`` (as the sandbox answered it) for one of
    its locations, with payment terms (Net 30 unless given) and a PO number."""
    order = {k: v for k, v in reference_order(financial_status="pending", **overrides).items()
             if k not in ("customer", "billing_address", "email") or k in overrides}
    order["company"] = {"id": company["id"], "location_id": company["locations"][location]["id"]}
    order["payment_terms"] = terms if terms is not None else {"payment_terms_name": "Net 30"}
    if po_number is not None:
        order["po_number"] = po_number
    return order
