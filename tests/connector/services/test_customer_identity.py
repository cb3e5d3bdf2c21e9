"""Who an order is invoiced to: the Shopify customer, a guest keyed by email within its shop, or
the shop's guest account; and which Fusion person an email may match (``[customers] match``)."""
import pytest

from connector.mapping.config import CustomerPolicy
from connector.mapping.invoice import MappingError
from connector.models import Binding
from connector.services.customer_identity import (
    IdentityConflict,
    Scope,
    choose_person,
    usable_account,
)
from connector.services.customers import bill_to_site, from_order

BILLING = {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St", "country_code": "US"}
GUEST_ADDRESS = {"address1": "100 Congress Avenue", "city": "Austin", "province_code": "TX", "zip": "78701",
                 "country_code": "US"}
GUEST_ACCOUNT = CustomerPolicy(guest_without_email="guest_account", guest_address=GUEST_ADDRESS)
SHOP = "us.myshopify.com"
EMAIL = "ana@example.com"


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


def test_given_neither_customer_nor_email_and_the_park_policy_then_refused_naming_the_setting():
    with pytest.raises(MappingError, match="neither a customer nor an email.*guest_without_email"):
        from_order({"billing_address": BILLING, "currency": "USD"}, SHOP, CustomerPolicy(guest_without_email="park"))


def test_given_neither_customer_nor_email_then_the_shops_guest_account_of_the_orders_currency():
    usd = from_order({"billing_address": BILLING, "currency": "USD"}, SHOP, GUEST_ACCOUNT)
    eur = from_order({"currency": "EUR"}, SHOP, GUEST_ACCOUNT)
    other_shop = from_order({"currency": "USD"}, "eu.myshopify.com", GUEST_ACCOUNT)

    assert (usd.key, usd.reference) == ("guest-account:USD", f"{SHOP}/guest-account:USD")
    assert eur.key == "guest-account:EUR" and other_shop.reference != usd.reference
    assert usd.guest_account and usd.address == GUEST_ADDRESS  # never a walk-in's address on a shared account


# -- which person an email may match ------------------------------------------------------------

def person(number: str, *, source: str | None = "SHOPIFY", reference: str = "", email: str = EMAIL,
           status: str = "A") -> dict:
    return {"PartyId": int(number), "PartyNumber": number, "SourceSystem": source,
            "SourceSystemReferenceValue": reference or None, "EmailAddress": email, "Status": status}


THIS_SHOPS = person("1001", reference="gid://shopify/Customer/1")            # bound to a customer of this shop
THIS_SHOPS_GUEST = person("1002", reference=f"{SHOP}/email:{EMAIL}")
OTHER_SHOPS = person("2001", reference="gid://shopify/Customer/2")           # another shop's customer
OTHER_SHOPS_GUEST = person("2002", reference=f"eu.myshopify.com/email:{EMAIL}")
FOREIGN = person("3001", source=None)                                        # created in Fusion, or by another system


def scope(match: str) -> Scope:
    return Scope(match, "SHOPIFY", SHOP, lambda refs: {r for r in refs if r == "gid://shopify/Customer/1"})


@pytest.mark.parametrize("match, found, expected", [
    ("same_shop", [OTHER_SHOPS, FOREIGN, OTHER_SHOPS_GUEST], None),
    ("same_shop", [OTHER_SHOPS, THIS_SHOPS], THIS_SHOPS),
    ("same_shop", [FOREIGN, THIS_SHOPS_GUEST], THIS_SHOPS_GUEST),
    ("same_source_system", [FOREIGN, OTHER_SHOPS], OTHER_SHOPS),
    ("any", [FOREIGN], FOREIGN),
])
def test_given_persons_with_the_email_then_only_those_in_the_scope_match(match, found, expected):
    assert choose_person(found, "gid://shopify/Customer/9", EMAIL, scope(match)) == expected


def test_given_the_customers_own_reference_then_it_wins_whatever_the_scope():
    own = person("4001", reference="gid://shopify/Customer/9", email="old@example.com")
    assert choose_person([FOREIGN, own], "gid://shopify/Customer/9", EMAIL, scope("any")) == own


def test_given_several_candidates_then_parked_with_them_listed_and_no_personal_data():
    with pytest.raises(IdentityConflict, match="2 Fusion persons.*party 2001.*party 3001") as refused:
        choose_person([OTHER_SHOPS, FOREIGN], "gid://shopify/Customer/9", EMAIL, scope("any"))
    assert EMAIL not in str(refused.value)


def test_given_no_email_then_no_email_match():
    assert choose_person([THIS_SHOPS_GUEST], "gid://shopify/Customer/9", "", scope("any")) is None


def account(number: str, status: str = "A", set_id: str = "300000001000001") -> dict:
    return {"AccountNumber": number, "Status": status, "CustomerAccountSite": {
        "SetId": set_id, "CustomerAccountSiteUse": {"SiteUseCode": "BILL_TO"}}}


def test_given_the_matched_persons_account_then_it_is_used():
    assert usable_account(THIS_SHOPS, [account("10"), account("11", set_id="9")], "300000001000001")["AccountNumber"] == "10"


@pytest.mark.parametrize("matched, accounts, reason", [
    (THIS_SHOPS, [account("10", status="I")], "inactive customer account.*account 10"),
    (person("1001", status="I"), [account("10")], "party 1001.*is inactive"),
    (THIS_SHOPS, [account("10"), account("11")], "2 customer accounts.*account 10.*account 11"),
])
def test_given_an_inactive_or_ambiguous_candidate_then_parked_never_guessed(matched, accounts, reason):
    with pytest.raises(IdentityConflict, match=reason):
        usable_account(matched, accounts, "300000001000001")


@pytest.mark.parametrize("address", [None, {"address1": "", "country_code": "US"},
                                     {"address1": "1 Main St", "country": "Atlantis"}])
def test_given_no_usable_billing_address_then_the_invoice_bills_the_default_site_without_asking_fusion(address):
    binding = Binding(fusion_refs={"default_site": "30009"})
    customer = from_order({"email": EMAIL, "billing_address": address, "currency": "USD"}, SHOP)
    assert bill_to_site(None, None, None, customer, binding) == "30009"   # no services: nothing is called
