"""Who an order is billed to, through the real stack: an email matches only this shop's own
customers (the default ``[customers] match = "same_shop"``), an order without an email goes to
the shop's guest account, and a customer's later changes reach Fusion."""
from __future__ import annotations

import uuid

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import TestShop, eventually

NEW_BILLING = {"first_name": "Ana", "last_name": "Silva", "address1": "77 Harbor Rd", "city": "Houston",
               "province_code": "TX", "country_code": "US", "zip": "77002"}


def synced(shop, key):
    return eventually(lambda: (b := shop.binding("customer", key)) is not None
                      and b.state == BindingState.synced and b, timeout=45)


def invoice_of(shop, order) -> dict:
    invoices = eventually(lambda: shop.fusion_invoices(order), timeout=45)
    assert len(invoices) == 1
    return invoices[0]


def guest_order(email: str | None) -> dict:
    order = new_order(email=email)
    del order["customer"]
    if email is None:
        del order["email"]
    return order


def test_given_a_guest_order_with_another_shops_customers_email_then_a_new_customer_not_the_other(shop, stack):
    email = f"taken-{uuid.uuid4().hex[:8]}@example.com"
    first = shop.place_order(new_order(email=email))
    theirs = synced(shop, first["customer"]["id"])
    other_shop = TestShop.create(stack, prefix=("T" + uuid.uuid4().hex[:7]).upper())

    placed = other_shop.place_order(guest_order(email))

    invoice = invoice_of(other_shop, placed)
    guest = synced(other_shop, f"email:{email}")
    assert guest.fusion_refs["party_id"] != theirs.fusion_refs["party_id"]
    assert invoice["BillToCustomerNumber"] == guest.fusion_number != theirs.fusion_number


def test_given_a_person_made_outside_the_connector_with_the_email_then_not_matched(shop, fusion):
    email = f"known-{uuid.uuid4().hex[:8]}@example.com"
    outsider = fusion.post_person({"FirstName": "Known", "LastName": "Buyer", "EmailAddress": email,
                                   "PartyUsageCode": "CUSTOMER",
                                   "Address": [{"Address1": "9 Elm St", "City": "Austin", "State": "TX",
                                                "PostalCode": "78701", "Country": "US"}]})

    order = shop.place_order(new_order(email=email))

    customer = synced(shop, order["customer"]["id"])
    assert customer.fusion_refs["party_id"] != str(outsider["PartyId"])
    assert invoice_of(shop, order)["BillToCustomerNumber"] == customer.fusion_number


def test_given_the_matched_person_has_an_inactive_account_then_the_order_parks_naming_it(shop, fusion):
    email = f"lapsed-{uuid.uuid4().hex[:8]}@example.com"
    first = shop.place_order(guest_order(email))
    invoice_of(shop, first)
    guest = synced(shop, f"email:{email}")
    fusion.deactivate_account(guest.fusion_id)

    # the guest comes back as a registered customer: its email matches this shop's own person
    order = shop.place_order(new_order(email=email))

    parked = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                      and e.resource_id == str(order["id"]) and e.state == InboxState.parked), None),
                        timeout=45)
    assert parked is not None and f"account {guest.fusion_number} (I)" in parked.last_error
    assert email not in parked.last_error
    assert shop.fusion_invoices(order) == []


def test_given_orders_without_email_then_billed_to_the_shops_guest_account_at_its_address(shop, fusion):
    first = shop.place_order(guest_order(None))
    second = shop.place_order(guest_order(None))

    invoices = [invoice_of(shop, order) for order in (first, second)]
    account = synced(shop, "guest-account:USD")
    assert {i["BillToCustomerNumber"] for i in invoices} == {account.fusion_number}
    [site] = [a for a in fusion.addresses(fusion.person(account.fusion_refs["party_id"])["PartyNumber"])
              if a["AddressNumber"] == invoices[0]["BillToSite"]]
    assert site["Address1"] == "100 Congress Avenue"   # [customers.guest_address], not a walk-in's


def test_given_a_new_billing_address_then_its_own_site_named_on_the_invoice(shop, fusion):
    first = shop.place_order(new_order())
    customer_id = first["customer"]["id"]
    first_site = invoice_of(shop, first)["BillToSite"]
    again = new_order(email=first["email"])
    again["billing_address"] = NEW_BILLING

    second = shop.place_order(again)

    invoice = invoice_of(shop, second)
    customer = synced(shop, customer_id)
    sites = {a["AddressNumber"]: a["Address1"]
             for a in fusion.addresses(fusion.person(customer.fusion_refs["party_id"])["PartyNumber"])}
    assert invoice["BillToCustomerNumber"] == customer.fusion_number
    assert invoice["BillToSite"] != first_site
    assert (sites[first_site], sites[invoice["BillToSite"]]) == ("1 Main St", "77 Harbor Rd")
    third = shop.place_order(dict(again, billing_address=dict(NEW_BILLING, address1="77  harbor rd")))
    assert invoice_of(shop, third)["BillToSite"] == invoice["BillToSite"]   # the same address: the same site


def test_given_customers_update_then_the_fusion_person_and_its_default_site_change(shop, fusion):
    order = shop.place_order(new_order())
    customer_id = order["customer"]["id"]
    invoice_of(shop, order)
    party_id = synced(shop, customer_id).fusion_refs["party_id"]
    email = f"renamed-{uuid.uuid4().hex[:8]}@example.com"

    shop.update_customer(customer_id, {"first_name": "Ana Maria", "last_name": "Souza", "email": email,
                                       "addresses": [dict(NEW_BILLING, default=True)]})

    person = eventually(lambda: (p := fusion.person(party_id))["EmailAddress"] == email and p, timeout=45)
    assert person["PartyName"] == "Ana Maria Souza"
    customer = eventually(lambda: (b := shop.binding("customer", customer_id)).fusion_refs.get("default_site") and b,
                          timeout=45)
    sites = {a["AddressNumber"]: a["Address1"] for a in fusion.addresses(person["PartyNumber"])}
    assert sites[customer.fusion_refs["default_site"]] == "77 Harbor Rd"
    assert shop.audit("customer.updated")
