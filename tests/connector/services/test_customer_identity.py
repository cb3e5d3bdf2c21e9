"""Who an order is invoiced to: the Shopify customer, or a guest keyed by email within its shop."""
import pytest

from connector.mapping.invoice import MappingError
from connector.services.customers import from_order

BILLING = {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St", "country_code": "US"}


def test_given_registered_customer_then_keyed_by_id_and_referenced_by_gid():
    customer = from_order({"email": "A@Example.com", "billing_address": BILLING,
                           "customer": {"id": 77, "admin_graphql_api_id": "gid://shopify/Customer/77"}},
                          "a.myshopify.com")
    assert (customer.key, customer.reference, customer.email) == ("77", "gid://shopify/Customer/77", "a@example.com")
    assert customer.address == BILLING  # the invoice's billing address, not the default one


def test_given_guest_then_keyed_by_email_and_referenced_within_the_shop():
    us = from_order({"email": "Guest@Example.com", "billing_address": BILLING}, "us.myshopify.com")
    eu = from_order({"email": "guest@example.com", "billing_address": BILLING}, "eu.myshopify.com")
    assert us.key == eu.key == "email:guest@example.com"
    assert us.reference != eu.reference  # other shops may book into other business units


def test_given_neither_customer_nor_email_then_refused_with_a_reason():
    with pytest.raises(MappingError, match="neither a customer nor an email"):
        from_order({"billing_address": BILLING}, "a.myshopify.com")
