"""B2B in the Fusion sandbox: an organization party found by its source-system reference, an
account per location with a BILL_TO site on the organization's site, its customer profile class
(SOAP ReceivablesCustomerProfileService), and payment terms and PurchaseOrder on the invoice."""
from fusion_helpers import CRM, FSCM, rows, xml_value

PROFILES = "/fscmService/ReceivablesCustomerProfileService"
CP_NS = "http://xmlns.oracle.com/apps/financials/receivables/customers/customerProfileService/"


def _organization(fusion, n: int) -> dict:
    resp = fusion.rest("POST", f"{CRM}/hubOrganizations", json={
        "OrganizationName": f"Acme Wholesale {n}", "PartyUsageCode": "CUSTOMER", "SourceSystem": "SHOPIFY",
        "SourceSystemReferenceValue": f"gid://shopify/Company/{n}"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _location_account(fusion, organization: dict, location: int) -> dict:
    site = fusion.rest("POST", f"{CRM}/hubOrganizations/{organization['PartyNumber']}/child/Address", json={
        "Address1": f"{location} Commerce Way", "City": "Dallas", "State": "TX", "PostalCode": "75201",
        "Country": "US", "SourceSystem": "SHOPIFY",
        "SourceSystemReferenceValue": f"gid://shopify/CompanyLocation/{location}"})
    assert site.status_code == 201, site.text
    site = site.json()
    resp = fusion.soap("/crmService/CustomerAccountService", fusion.account_xml(
        organization["PartyId"], site["AddressId"], orig_ref=f"gid://shopify/CompanyLocation/{location}"))
    assert resp.status_code == 200, resp.text
    return {"AccountNumber": xml_value(resp.text, "AccountNumber"), "SiteNumber": site["AddressNumber"],
            "CustomerAccountId": xml_value(resp.text, "CustomerAccountId"), "PartyId": organization["PartyId"]}


def _profile(fusion, operation: str, **fields) -> object:
    inner = "".join(f"<cus:{k}>{v}</cus:{k}>" for k, v in fields.items())
    return fusion.soap(PROFILES, f"<typ:{operation}><typ:customerProfile>{inner}</typ:customerProfile></typ:{operation}>",
                       types_ns=CP_NS + "types/", svc_ns=CP_NS)


def test_an_organization_is_found_by_its_source_system_reference(fusion):
    made = _organization(fusion, 41)
    found = fusion.rest("GET", f"{CRM}/hubOrganizations",
                        params={"q": "SourceSystem='SHOPIFY' and SourceSystemReferenceValue='gid://shopify/Company/41'",
                                "onlyData": "true"}).json()["items"]
    assert [o["PartyNumber"] for o in found] == [made["PartyNumber"]] and found[0]["PartyType"] == "ORGANIZATION"


def test_two_locations_are_two_accounts_of_one_organization_each_invoiced_at_its_site(fusion):
    organization = _organization(fusion, 42)
    first, second = _location_account(fusion, organization, 1), _location_account(fusion, organization, 2)
    assert first["AccountNumber"] != second["AccountNumber"]
    invoice = fusion.create_invoice(second, PaymentTerms="60 NET", PurchaseOrder="PO-77", BillToSite=second["SiteNumber"],
                                    TransactionDate="2025-03-14")
    assert (invoice["PaymentTerms"], invoice["PurchaseOrder"], invoice["BillToSite"]) == ("60 NET", "PO-77",
                                                                                          second["SiteNumber"])
    assert invoice["DueDate"] == "2025-05-13"
    addresses = rows(fusion.rest("GET", f"{CRM}/hubOrganizations/{organization['PartyNumber']}/child/Address").json())
    assert len(addresses) == 2


def test_an_unknown_payment_term_is_refused_in_fusions_words(fusion):
    organization = _organization(fusion, 43)
    account = _location_account(fusion, organization, 3)
    resp = fusion.rest("POST", f"{FSCM}/receivablesInvoices", json=fusion.invoice_body(account, PaymentTerms="45 NET"))
    assert resp.status_code == 400 and "PaymentTerms" in resp.text and "45 NET" in resp.text


def test_a_profile_class_is_set_once_and_read_back(fusion):
    organization = _organization(fusion, 44)
    account = _location_account(fusion, organization, 4)
    # before: the account has no profile
    missing = _profile(fusion, "getActiveCustomerProfile", CustomerAccountId=account["CustomerAccountId"])
    assert missing.status_code == 500 and "FND_CMN_RCRD_MSNG" in missing.text
    # when the B2B profile class is given, then it is the account's active profile
    made = _profile(fusion, "createCustomerProfile", CustomerAccountId=account["CustomerAccountId"],
                    PartyId=account["PartyId"], ProfileClassName="Shopify B2B")
    assert made.status_code == 200, made.text
    read = _profile(fusion, "getActiveCustomerProfile", CustomerAccountId=account["CustomerAccountId"])
    assert xml_value(read.text, "ProfileClassName") == "Shopify B2B"
    assert xml_value(read.text, "AccountNumber") == account["AccountNumber"]
    # and a second profile is refused
    again = _profile(fusion, "createCustomerProfile", CustomerAccountId=account["CustomerAccountId"],
                     PartyId=account["PartyId"], ProfileClassName="DEFAULT")
    assert again.status_code == 500


def test_an_unknown_profile_class_or_a_missing_party_is_refused(fusion):
    organization = _organization(fusion, 45)
    account = _location_account(fusion, organization, 5)
    unknown = _profile(fusion, "createCustomerProfile", CustomerAccountId=account["CustomerAccountId"],
                       PartyId=account["PartyId"], ProfileClassName="Wholesale Gold")
    assert unknown.status_code == 500 and "Wholesale Gold" in unknown.text and "ProfileClassName" in unknown.text
    no_party = _profile(fusion, "createCustomerProfile", CustomerAccountId=account["CustomerAccountId"],
                        ProfileClassName="DEFAULT")
    assert no_party.status_code == 500 and "JBO-27014" in no_party.text and "PartyId" in no_party.text
