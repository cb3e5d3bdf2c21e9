"""Shopify customers become exactly one Fusion customer, matched by external ID or email (which
emails may match is tests/integration/test_identity_policy.py)."""
from __future__ import annotations

import uuid

from connector.models import BindingState
from tests.factories import new_order
from tests.support import eventually


def synced_customer(shop, customer_id):
    return eventually(lambda: (b := shop.binding("customer", customer_id)) is not None
                      and b.state == BindingState.synced and b, timeout=45)


def test_given_two_orders_from_one_customer_then_one_fusion_customer(shop, fusion):
    email = f"repeat-{uuid.uuid4().hex[:8]}@example.com"
    first = shop.place_order(new_order(email=email))
    second = shop.place_order(new_order(email=email))

    assert first["customer"]["id"] == second["customer"]["id"]  # Shopify knows the returning customer
    for order in (first, second):
        assert eventually(lambda: shop.fusion_invoices(order))
    numbers = {shop.fusion_invoices(o)[0]["BillToCustomerNumber"] for o in (first, second)}
    assert len(numbers) == 1 and len(fusion.persons(email)) == 1


def test_given_guest_checkout_then_invoiced_to_a_customer_keyed_by_email(shop, fusion):
    email = f"guest-{uuid.uuid4().hex[:8]}@example.com"
    order = new_order(email=email)
    del order["customer"]

    placed = shop.place_order(order)

    invoices = eventually(lambda: shop.fusion_invoices(placed))
    guest = shop.binding("customer", f"email:{email}")
    assert guest is not None and invoices[0]["BillToCustomerNumber"] == guest.fusion_number
