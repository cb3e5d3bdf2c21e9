"""Persons (TCA parties) against the sandbox."""
from __future__ import annotations

from tests.connector.fusion.fusion_pods import person_payload

REFERENCE = "gid://shopify/Customer/7001"


def test_given_a_new_person_when_found_by_source_reference_then_with_addresses(client):
    created = client.parties.create_person(person_payload(REFERENCE, "jane@example.com"))
    found = client.parties.find_persons(
        f"SourceSystem='SHOPIFY' and SourceSystemReferenceValue='{REFERENCE}'")
    assert [p["PartyId"] for p in found] == [created["PartyId"]]
    assert [a["City"] for a in found[0]["Address"]["items"]] == ["Austin"]


def test_given_a_person_when_addresses_read_then_the_party_site_ids(client):
    created = client.parties.create_person(person_payload(REFERENCE, "jane@example.com"))
    addresses = client.parties.person_addresses(created["PartyNumber"])
    assert [a["AddressId"] for a in addresses] == [a["AddressId"] for a in created["Address"]["items"]]


def test_given_no_match_when_persons_searched_then_empty(client):
    assert client.parties.find_persons("EmailAddress='nobody@example.com'") == []


def test_given_a_person_when_updated_then_name_and_email_change_and_its_reference_stays(client):
    created = client.parties.create_person(person_payload(REFERENCE, "jane@example.com"))
    client.parties.update_person(created["PartyNumber"], {"FirstName": "Janet", "LastName": "Smith",
                                                          "EmailAddress": "janet@example.com"})
    [found] = client.parties.find_persons(f"PartyId={created['PartyId']}")
    assert (found["PartyName"], found["EmailAddress"], found["SourceSystemReferenceValue"]) == (
        "Janet Smith", "janet@example.com", REFERENCE)


def test_given_a_person_when_an_address_is_added_then_a_new_party_site_with_its_own_number(client):
    created = client.parties.create_person(person_payload(REFERENCE, "jane@example.com"))
    added = client.parties.add_address(created["PartyNumber"], {"Address1": "2 Oak Ave", "City": "Dallas",
                                                                "State": "TX", "PostalCode": "75201", "Country": "US"})
    addresses = client.parties.person_addresses(created["PartyNumber"])
    assert [a["Address1"] for a in addresses] == ["1 Main St", "2 Oak Ave"]
    assert added["AddressNumber"] != addresses[0]["AddressNumber"]
