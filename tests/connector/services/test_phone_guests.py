"""Orders without an email under ``[customers] guest_without_email = "phone_party"``: a person per
phone number of the shop, the guest account (or a park) when there is no phone number either."""
import pytest

from connector.mapping.config import CustomerPolicy
from connector.mapping.invoice import MappingError
from connector.services.customers import from_order

GUEST_ADDRESS = {"address1": "100 Congress Avenue", "city": "Austin", "province_code": "TX", "zip": "78701",
                 "country_code": "US"}
PHONE_PARTY = CustomerPolicy(guest_without_email="phone_party", guest_address=GUEST_ADDRESS)
SHOP = "us.myshopify.com"
POS_ORDER = {"currency": "USD", "phone": "(512) 555-0147", "billing_address": None}


def test_given_a_phone_only_order_then_keyed_by_the_e164_number_within_the_shop():
    customer = from_order(POS_ORDER, SHOP, PHONE_PARTY)
    assert (customer.key, customer.reference) == ("phone:+15125550147", f"{SHOP}/phone:+15125550147")
    assert customer.person()["RawPhoneNumber"] == "+15125550147" and "EmailAddress" not in customer.person()
    assert customer.address == GUEST_ADDRESS   # no billing address: the shop's own for its BILL_TO site


def test_given_the_same_number_written_otherwise_then_the_same_customer_and_another_shop_its_own():
    first = from_order(POS_ORDER, SHOP, PHONE_PARTY)
    again = from_order({**POS_ORDER, "phone": "+1 512-555-0147"}, SHOP, PHONE_PARTY)
    elsewhere = from_order(POS_ORDER, "eu.myshopify.com", PHONE_PARTY)
    assert again.key == first.key and again.reference == first.reference
    assert elsewhere.reference != first.reference


def test_given_a_billing_address_then_the_party_is_named_and_sited_there():
    billing = {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St", "country_code": "US",
               "phone": "512 555 0147"}
    customer = from_order({"currency": "USD", "billing_address": billing}, SHOP, PHONE_PARTY)
    assert (customer.key, customer.display_name, customer.address) == ("phone:+15125550147", "Ana Silva", billing)


def test_given_an_email_then_the_email_decides_not_the_phone():
    customer = from_order({**POS_ORDER, "email": "ana@example.com"}, SHOP, PHONE_PARTY)
    assert customer.key == "email:ana@example.com"


def test_given_no_phone_number_then_the_guest_account_or_a_park_naming_the_setting():
    no_phone = {"currency": "USD", "phone": "n/a"}
    assert from_order(no_phone, SHOP, PHONE_PARTY).key == "guest-account:USD"
    parking = CustomerPolicy(guest_without_email="phone_party", guest_without_phone="park", guest_address=GUEST_ADDRESS)
    with pytest.raises(MappingError, match="nor a phone number.*guest_without_phone"):
        from_order(no_phone, SHOP, parking)


def test_given_another_policy_then_a_phone_number_changes_nothing():
    guest = CustomerPolicy(guest_without_email="guest_account", guest_address=GUEST_ADDRESS)
    assert from_order(POS_ORDER, SHOP, guest).key == "guest-account:USD"


def test_given_another_phone_attribute_then_the_person_holds_the_number_there():
    policy = CustomerPolicy(guest_without_email="phone_party", guest_address=GUEST_ADDRESS, phone_attribute="PhoneNumber")
    assert from_order(POS_ORDER, SHOP, policy).person()["PhoneNumber"] == "+15125550147"
