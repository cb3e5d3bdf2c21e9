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
