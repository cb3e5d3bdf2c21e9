"""Orders without an email in a shop whose mapping says ``guest_without_email = "phone_party"``,
through the real stack: a POS order with only a phone number bills a Fusion person of its own,
found again by the number however it is written, and never twice."""
from __future__ import annotations

import random
from collections import Counter

from tests.factories import new_order
from tests.integration.test_fusion_calls import calls
from tests.support import eventually, fusion_get, invoice_of, synced

PERSONS = "/crmRestApi/resources/11.13.18.05/hubPersons"


def a_number() -> tuple[str, str]:
    """A US number of this test as a cashier types it, and as E.164."""
    digits = f"512555{random.randrange(10_000):04d}"
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1{digits}"


def pos_order(phone: str | None) -> dict:
    """A walk-in's POS order: no customer, no email, no billing address; perhaps a phone number."""
    order = new_order()
    for key in ("customer", "email", "billing_address"):
        del order[key]
    if phone is not None:
        order["phone"] = phone
    return order


def persons_with(fusion, reference: str) -> list[dict]:
    return fusion_get(fusion, PERSONS, q=f"SourceSystemReferenceValue='{reference}'")["items"]


def test_given_a_phone_only_pos_order_then_billed_to_a_person_of_that_number(phone_shop, fusion):
    typed, e164 = a_number()

    order = phone_shop.place_order(pos_order(typed))

    invoice = invoice_of(phone_shop, order)
    customer = synced(phone_shop, f"phone:{e164}")
    assert invoice["BillToCustomerNumber"] == customer.fusion_number
    person = fusion.person(customer.fusion_refs["party_id"])
    assert person["RawPhoneNumber"] == e164
    assert person["SourceSystemReferenceValue"] == f"{phone_shop.domain}/phone:{e164}"   # this shop's only
    assert fusion.addresses(person["PartyNumber"])[0]["Address1"] == "100 Congress Avenue"  # the shop's address


def test_given_the_same_number_written_otherwise_then_the_same_person_and_only_the_invoice_is_posted(phone_shop):
    typed, e164 = a_number()
    first = phone_shop.place_order(pos_order(typed))
    account = invoice_of(phone_shop, first)["BillToCustomerNumber"]
    assert phone_shop.quiet()

    second = phone_shop.place_order(pos_order(f"+1 {e164[2:5]}.{e164[5:8]}.{e164[8:]}"))

    assert invoice_of(phone_shop, second)["BillToCustomerNumber"] == account
    assert eventually(lambda: phone_shop.quiet() and phone_shop.binding("order", second["id"]).state.value == "synced",
                      timeout=60)
    assert calls(phone_shop, "fusion", second) == Counter({"POST receivablesInvoices": 1})


def test_given_orders_of_one_number_at_once_then_one_person(phone_shop, fusion):
    typed, e164 = a_number()

    orders = [phone_shop.place_order(pos_order(typed if n % 2 else e164)) for n in range(4)]

    accounts = {invoice_of(phone_shop, order)["BillToCustomerNumber"] for order in orders}
    assert len(accounts) == 1
    assert len(persons_with(fusion, f"{phone_shop.domain}/phone:{e164}")) == 1


def test_given_neither_email_nor_phone_then_the_shops_guest_account(phone_shop):
    order = phone_shop.place_order(pos_order(None))

    invoice = invoice_of(phone_shop, order)
    assert invoice["BillToCustomerNumber"] == synced(phone_shop, "guest-account:USD").fusion_number


def test_given_another_shop_then_a_phone_only_order_still_goes_to_its_guest_account(shop):
    typed, e164 = a_number()

    order = shop.place_order(pos_order(typed))

    assert invoice_of(shop, order)["BillToCustomerNumber"] == synced(shop, "guest-account:USD").fusion_number
    assert shop.binding("customer", f"phone:{e164}") is None
