"""Customer accounts over SOAP against the sandbox: create with a BILL_TO site, and the two
lookups the customer sync relies on."""
from __future__ import annotations

import pytest

from connector.fusion import soap
from connector.fusion.accounts import NewCustomerAccount
from tests.connector.fusion.fusion_pods import client_for, person_payload
from tests.sandbox.fusion.fusion_helpers import US1_SET_ID

REFERENCE = "gid://shopify/Customer/7001"


def _new_account(client) -> tuple[dict, NewCustomerAccount]:
    person = client.parties.create_person(person_payload(REFERENCE, "jane@example.com"))
    site = person["Address"]["items"][0]["AddressId"]
    return person, NewCustomerAccount(
        party_id=str(person["PartyId"]), party_site_id=str(site), account_name="Jane Doe & Co",
        set_id=str(US1_SET_ID), source_system="SHOPIFY", reference=REFERENCE, established="2025-03-14")


def test_given_a_person_when_account_created_then_it_has_a_primary_bill_to_site(client):
    _, new = _new_account(client)
    account = client.accounts.create(new)
    assert account["AccountNumber"] and account["AccountName"] == "Jane Doe & Co"
    [use] = soap.site_uses(account)
    assert (use["SiteUseCode"], use["PrimaryFlag"]) == ("BILL_TO", "true")
    assert soap.sites(account)[0]["SetId"] == str(US1_SET_ID)


def test_given_an_account_when_looked_up_by_reference_and_by_party_then_the_same_account(client):
    person, new = _new_account(client)
    created = client.accounts.create(new)
    by_reference = client.accounts.by_reference("SHOPIFY", REFERENCE)
    by_party = client.accounts.by_party(str(person["PartyId"]))
    assert by_reference["CustomerAccountId"] == created["CustomerAccountId"]
    assert [a["CustomerAccountId"] for a in by_party] == [created["CustomerAccountId"]]


@pytest.mark.parametrize("missing_faults", [False, True])
def test_given_no_account_when_looked_up_then_none_whether_fusion_answers_empty_or_faults(pods, missing_faults):
    client = client_for(pods.start(orig_ref_lookup_missing_faults=missing_faults))
    assert client.accounts.by_reference("SHOPIFY", "gid://shopify/Customer/404") is None
    assert client.accounts.by_party("404") == []


def test_given_an_account_when_a_bill_to_site_is_added_then_the_account_has_two_and_keeps_its_primary(client):
    person, new = _new_account(client)
    created = client.accounts.create(new)
    address = client.parties.add_address(person["PartyNumber"], {"Address1": "2 Oak Ave", "City": "Dallas",
                                                                 "State": "TX", "PostalCode": "75201", "Country": "US"})

    client.accounts.add_bill_to_site(str(created["CustomerAccountId"]), str(address["AddressId"]), str(US1_SET_ID))

    account = client.accounts.get(str(created["CustomerAccountId"]))
    assert [s["PartySiteId"] for s in soap.sites(account)] == [str(new.party_site_id), str(address["AddressId"])]
    assert [(u["SiteUseCode"], u["PrimaryFlag"]) for u in soap.site_uses(account)] == [
        ("BILL_TO", "true"), ("BILL_TO", "false")]


def test_given_an_account_when_renamed_then_fusion_holds_the_new_name(client):
    _, new = _new_account(client)
    created = client.accounts.create(new)
    client.accounts.rename(str(created["CustomerAccountId"]), "Jane Smith")
    assert client.accounts.get(str(created["CustomerAccountId"]))["AccountName"] == "Jane Smith"
