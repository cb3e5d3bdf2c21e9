"""hubPersons / hubOrganizations (crmRestApi): TCA parties with addresses."""
from urllib.parse import quote

from fusion_helpers import CRM, rows

PERSONS = f"{CRM}/hubPersons"


def test_create_person_answers_party_and_address_ids(fusion):
    person = fusion.create_person(EmailAddress="ann@example.com")
    assert isinstance(person["PartyId"], int) and person["PartyNumber"]
    address = rows(person["Address"])[0]
    assert address["AddressId"] and address["AddressNumber"] and address["LocationId"]
    assert address["PartyId"] == person["PartyId"]
    assert person["EmailAddress"] == "ann@example.com" and person["PartyName"].startswith("Jane")


def test_missing_party_usage_is_hz_120421(fusion):
    resp = fusion.rest("POST", PERSONS, json={"FirstName": "No", "LastName": "Usage"})
    assert resp.status_code == 400 and "HZ-120421" in resp.text


def test_unregistered_source_system_is_rejected(fusion):
    resp = fusion.rest("POST", PERSONS, json={"FirstName": "A", "LastName": "B", "PartyUsageCode": "CUSTOMER",
                                              "SourceSystem": "MAGENTO", "SourceSystemReferenceValue": "1"})
    assert resp.status_code == 400 and "MAGENTO" in resp.text


def test_address_source_system_must_be_registered_too(fusion):
    resp = fusion.rest("POST", PERSONS, json={
        "FirstName": "A", "LastName": "B", "PartyUsageCode": "CUSTOMER",
        "Address": [{"Address1": "x", "Country": "US", "SourceSystem": "MAGENTO",
                     "SourceSystemReferenceValue": "1"}]})
    assert resp.status_code == 400


def test_source_system_reference_is_unique(fusion):
    fusion.create_person(SourceSystemReferenceValue="gid://shopify/Customer/1")
    resp = fusion.rest("POST", PERSONS, json={"FirstName": "A", "LastName": "B", "PartyUsageCode": "CUSTOMER",
                                              "SourceSystem": "SHOPIFY",
                                              "SourceSystemReferenceValue": "gid://shopify/Customer/1"})
    assert resp.status_code == 400


def test_country_must_be_a_two_letter_code(fusion):
    resp = fusion.rest("POST", PERSONS, json={"FirstName": "A", "LastName": "B", "PartyUsageCode": "CUSTOMER",
                                              "Address": [{"Address1": "x", "Country": "USA"}]})
    assert resp.status_code == 400


def test_unknown_attribute_is_rejected(fusion):
    resp = fusion.rest("POST", PERSONS, json={"FirstName": "A", "LastName": "B", "PartyUsageCode": "CUSTOMER",
                                              "Email": "a@b.com"})
    assert resp.status_code == 400


def test_get_by_party_number_and_404(fusion):
    person = fusion.create_person()
    resp = fusion.rest("GET", f"{PERSONS}/{person['PartyNumber']}")
    assert resp.status_code == 200 and resp.json()["PartyId"] == person["PartyId"]
    assert fusion.rest("GET", f"{PERSONS}/999999999").status_code == 404


def test_q_by_email_and_by_source_reference(fusion):
    fusion.create_person(EmailAddress="one@example.com")
    p2 = fusion.create_person(EmailAddress="two@example.com",
                              SourceSystemReferenceValue="gid://shopify/Customer/42")
    resp = fusion.rest("GET", f"{PERSONS}?q=" + quote("EmailAddress = 'two@example.com'"))
    assert [i["PartyNumber"] for i in resp.json()["items"]] == [p2["PartyNumber"]]
    q = "SourceSystem = 'SHOPIFY' and SourceSystemReferenceValue = 'gid://shopify/Customer/42'"
    resp = fusion.rest("GET", f"{PERSONS}?q=" + quote(q))
    assert [i["PartyId"] for i in resp.json()["items"]] == [p2["PartyId"]]
    resp = fusion.rest("GET", f"{PERSONS}?q=" + quote(f"PartyId = {p2['PartyId']}"))
    assert resp.json()["count"] == 1


def test_q_on_last_update_date_with_paging(fusion):
    made = [fusion.create_person() for _ in range(3)]
    q = f"LastUpdateDate > '{made[0]['LastUpdateDate']}'"
    body = fusion.rest("GET", f"{PERSONS}?q={quote(q)}&orderBy=LastUpdateDate:asc&limit=1&totalResults=true").json()
    assert body["items"][0]["PartyId"] == made[1]["PartyId"]
    assert body["hasMore"] is True and body["totalResults"] == 2


def test_address_child_collection(fusion):
    person = fusion.create_person()
    resp = fusion.rest("GET", f"{PERSONS}/{person['PartyNumber']}/child/Address?onlyData=true")
    body = resp.json()
    assert resp.status_code == 200 and body["count"] == 1
    assert body["items"][0]["City"] == "Austin" and body["items"][0]["Country"] == "US"


def test_post_a_second_address(fusion):
    person = fusion.create_person()
    resp = fusion.rest("POST", f"{PERSONS}/{person['PartyNumber']}/child/Address",
                       json={"Address1": "2 Side St", "City": "Dallas", "Country": "US"})
    assert resp.status_code == 201 and resp.json()["AddressId"]
    body = fusion.rest("GET", f"{PERSONS}/{person['PartyNumber']}/child/Address").json()
    assert body["count"] == 2


def test_hub_organizations_need_an_organization_name(fusion):
    orgs = f"{CRM}/hubOrganizations"
    resp = fusion.rest("POST", orgs, json={"OrganizationName": "Acme Inc", "PartyUsageCode": "CUSTOMER",
                                           "Address": [{"Address1": "1 Corp Way", "Country": "US"}]})
    assert resp.status_code == 201
    org = resp.json()
    assert org["PartyName"] == "Acme Inc"
    assert fusion.rest("GET", f"{orgs}/{org['PartyNumber']}").status_code == 200
    # a person party number is not an organization
    person = fusion.create_person()
    assert fusion.rest("GET", f"{orgs}/{person['PartyNumber']}").status_code == 404
    assert fusion.rest("POST", orgs, json={"PartyUsageCode": "CUSTOMER"}).status_code == 400
    q = fusion.rest("GET", f"{orgs}?q=" + quote("OrganizationName = 'Acme Inc'")).json()
    assert q["count"] == 1


def test_describe_lists_queryable_attributes(fusion):
    body = fusion.rest("GET", f"{PERSONS}/describe").json()
    attrs = {a["name"]: a for a in body["Resources"]["hubPersons"]["attributes"]}
    assert attrs["EmailAddress"]["queryable"] is True


def test_patch_person_updates_email_and_last_update_date(fusion):
    person = fusion.create_person()
    url = f"{PERSONS}/{person['PartyNumber']}"
    resp = fusion.rest("PATCH", url, json={"EmailAddress": "new@example.com", "LastName": "Smith"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["EmailAddress"] == "new@example.com" and body["PartyName"] == "Jane Smith"
    assert body["LastUpdateDate"] > person["LastUpdateDate"]
    assert fusion.rest("PATCH", url, json={"PartyUsageCode": "PROSPECT"}).status_code == 400


def test_person_writes_honour_if_match(fusion):
    # given a person read once and then changed by another PATCH
    person = fusion.create_person()
    url = f"{PERSONS}/{person['PartyNumber']}"
    stale = next(l for l in person["links"] if l["rel"] == "self")["properties"]["changeIndicator"]
    assert fusion.rest("PATCH", url, json={"LastName": "Smith"}).status_code == 200
    # when the old changeIndicator is sent as If-Match, then PATCH and a new Address are 412
    assert fusion.rest("PATCH", url, json={"LastName": "Jones"}, headers={"If-Match": stale}).status_code == 412
    assert fusion.rest("POST", f"{url}/child/Address", json={"Address1": "2 Side St", "City": "Austin",
                                                             "Country": "US"},
                       headers={"If-Match": stale}).status_code == 412
    assert fusion.json(fusion.rest("GET", url))["LastName"] == "Smith"


def test_source_system_reference_child(fusion):
    person = fusion.create_person(SourceSystemReferenceValue="gid://shopify/Customer/77")
    body = fusion.rest("GET", f"{PERSONS}/{person['PartyNumber']}/child/SourceSystemReference").json()
    assert body["items"] == [{"SourceSystem": "SHOPIFY", "SourceSystemReferenceValue": "gid://shopify/Customer/77",
                              "CreatedByModule": "HZ_WS"}]
