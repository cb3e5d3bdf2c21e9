"""SOAP CustomerAccountService (soap-receipts-customers.md §2, §6)."""
from fusion_helpers import CA_NS, CA_TYPES, CRM, US1_SET_ID, rows, xml_value, xml_values

INVOICES = "/fscmRestApi/resources/11.13.18.05/receivablesInvoices"

SERVICE = "/crmService/CustomerAccountService"


def _person_site(fusion):
    person = fusion.create_person()
    return person, rows(person["Address"])[0]


def test_create_account_returns_full_snapshot_with_generated_number(fusion):
    person, address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"]))
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/xml")
    text = resp.text
    assert f'createCustomerAccountResponse xmlns:ns0="{CA_TYPES}"' in text
    assert f'xmlns:ns1="{CA_NS}"' in text and "<ns1:Value>" in text
    assert xml_value(text, "CustomerAccountId").isdigit() and len(xml_value(text, "CustomerAccountId")) == 15
    assert xml_value(text, "AccountNumber")
    assert xml_value(text, "PartyId") == str(person["PartyId"])
    assert xml_value(text, "Status") == "A"
    assert xml_value(text, "CustomerAccountSiteId") and xml_value(text, "SiteUseId")
    assert xml_value(text, "SiteUseCode") == "BILL_TO"
    assert xml_value(text, "PartySiteId") == str(address["AddressId"])
    assert "wsa:MessageID" in text


def test_account_number_may_be_supplied_and_must_be_unique(fusion):
    person, address = _person_site(fusion)
    xml = fusion.account_xml(person["PartyId"], address["AddressId"],
                             extra="<cus:AccountNumber>SHOP-C-1</cus:AccountNumber>")
    resp = fusion.soap(SERVICE, xml)
    assert xml_value(resp.text, "AccountNumber") == "SHOP-C-1"
    person2, address2 = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person2["PartyId"], address2["AddressId"],
                                                   extra="<cus:AccountNumber>SHOP-C-1</cus:AccountNumber>"))
    assert resp.status_code == 500


def test_missing_created_by_module_is_a_bare_jbo_27024(fusion):
    # given a party with a site, when the account is created without CreatedByModule
    person, address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"],
                                                   created_by_module=None))
    # then the pod answers the bare row-validation fault, naming no attribute (§2.3)
    assert resp.status_code == 500
    assert "<faultcode>env:Server</faultcode>" in resp.text
    assert "JBO-27024: Failed to validate a row" in xml_value(resp.text, "faultstring")
    assert 'xmlns:tns="http://xmlns.oracle.com/adf/svc/errors/"' in resp.text
    assert xml_value(resp.text, "code") == "27024"
    assert "attributeName" not in resp.text and "JBO-27014" not in resp.text


def test_missing_created_by_module_may_name_the_attribute(make_fusion):
    fusion = make_fusion(created_by_module_fault_names_attribute=True)
    person, address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"],
                                                   created_by_module=None))
    assert resp.status_code == 500 and xml_value(resp.text, "code") == "27024"
    assert any("JBO-27014" in m for m in xml_values(resp.text, "message"))
    assert xml_value(resp.text, "attributeName") == "CreatedByModule"


def test_missing_party_id_names_the_attribute(fusion):
    resp = fusion.soap(SERVICE, fusion.account_xml("", 1).replace("<cus:PartyId></cus:PartyId>", ""))
    assert resp.status_code == 500 and xml_value(resp.text, "code") == "27024"
    assert xml_value(resp.text, "attributeName") == "PartyId"


def test_unregistered_orig_system_is_hz_invalid_orig_system(fusion):
    person, address = _person_site(fusion)
    xml = fusion.account_xml(person["PartyId"], address["AddressId"]).replace(
        "<cus:OrigSystem>SHOPIFY</cus:OrigSystem>", "<cus:OrigSystem>MAGENTO</cus:OrigSystem>")
    resp = fusion.soap(SERVICE, xml)
    assert resp.status_code == 500 and "HZ_INVALID_ORIG_SYSTEM" in resp.text


def test_unknown_party_is_record_missing(fusion):
    resp = fusion.soap(SERVICE, fusion.account_xml(300100699999999, 1))
    assert resp.status_code == 500
    assert xml_value(resp.text, "code") == "FND:::FND_CMN_RCRD_MSNG"
    assert "ApplcoreException" in resp.text


def test_party_site_must_belong_to_the_party(fusion):
    person, _ = _person_site(fusion)
    _, other_address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], other_address["AddressId"]))
    assert resp.status_code == 500 and "PartySiteId" in resp.text


def test_unknown_set_id_is_rejected(fusion):
    person, address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"], set_id=42))
    assert resp.status_code == 500 and "SetId" in resp.text


def test_operation_in_the_wrong_namespace_is_unknown_method(fusion):
    person, address = _person_site(fusion)
    xml = fusion.account_xml(person["PartyId"], address["AddressId"])
    resp = fusion.soap(SERVICE, xml, types_ns=CA_NS)   # forgot applicationModule/types/
    assert resp.status_code == 500 and "Unknown method" in resp.text


def test_any_soap_action_is_accepted(fusion):
    person, address = _person_site(fusion)
    resp = fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"]),
                       headers={"SOAPAction": "updateCustomerAccount"})
    assert resp.status_code == 200


def test_malformed_xml_is_a_client_fault(fusion):
    resp = fusion.http.post(fusion.url + SERVICE, data=b"<not-xml", headers={"Content-Type": "text/xml"})
    assert resp.status_code == 500 and "env:Client" in resp.text


def test_get_customer_account_by_id_and_unknown_id(fusion, customer):
    body = (f"<typ:getCustomerAccount><typ:customerAccountId>{customer['CustomerAccountId']}"
            "</typ:customerAccountId></typ:getCustomerAccount>")
    resp = fusion.soap(SERVICE, body)
    assert resp.status_code == 200
    assert xml_value(resp.text, "AccountNumber") == customer["AccountNumber"]
    assert "<ns1:Value>" not in resp.text    # get's result *is* the account
    resp = fusion.soap(SERVICE, "<typ:getCustomerAccount><typ:customerAccountId>1</typ:customerAccountId>"
                                "</typ:getCustomerAccount>")
    assert resp.status_code == 500 and "FND_CMN_RCRD_MSNG" in resp.text


def test_get_by_original_system_reference(fusion):
    person, address = _person_site(fusion)
    fusion.soap(SERVICE, fusion.account_xml(person["PartyId"], address["AddressId"],
                                            orig_ref="gid://shopify/Customer/555"))
    body = ("<typ:getCustomerAccountByOriginalSystemReference>"
            "<typ:bindOrigSystem>SHOPIFY</typ:bindOrigSystem>"
            "<typ:bindOrigSystemReference>gid://shopify/Customer/555</typ:bindOrigSystemReference>"
            "</typ:getCustomerAccountByOriginalSystemReference>")
    resp = fusion.soap(SERVICE, body)
    assert resp.status_code == 200 and xml_value(resp.text, "PartyId") == str(person["PartyId"])
    resp = fusion.soap(SERVICE, body.replace("555", "556"))
    assert resp.status_code == 200 and "<ns1:Value>" not in resp.text


def test_duplicate_orig_system_reference_is_refused(fusion):
    person, address = _person_site(fusion)
    xml = fusion.account_xml(person["PartyId"], address["AddressId"], orig_ref="gid://shopify/Customer/9")
    assert fusion.soap(SERVICE, xml).status_code == 200
    assert fusion.soap(SERVICE, xml).status_code == 500


def _find(fusion, items: str, extra: str = "") -> str:
    body = ("<typ:findCustomerAccount><typ:findCriteria><typ1:fetchStart>0</typ1:fetchStart>"
            "<typ1:fetchSize>-1</typ1:fetchSize><typ1:filter><typ1:group>"
            f"{items}</typ1:group></typ1:filter>{extra}</typ:findCriteria></typ:findCustomerAccount>")
    resp = fusion.soap(SERVICE, body)
    assert resp.status_code == 200, resp.text
    return resp.text


def _item(attr, op, value):
    return (f"<typ1:item><typ1:attribute>{attr}</typ1:attribute><typ1:operator>{op}</typ1:operator>"
            f"<typ1:value>{value}</typ1:value></typ1:item>")


def test_find_customer_account_by_party_id_number_and_last_update_date(fusion):
    a = fusion.create_customer()
    b = fusion.create_customer()
    text = _find(fusion, _item("PartyId", "=", b["PartyId"]))
    assert xml_values(text, "AccountNumber") == [b["AccountNumber"]]
    text = _find(fusion, _item("AccountNumber", "=", a["AccountNumber"]))
    assert set(xml_values(text, "CustomerAccountId")) == {a["CustomerAccountId"]}
    # LastUpdateDate >= the first account's stamp finds both; > finds only the later one
    get = fusion.soap(SERVICE, f"<typ:getCustomerAccount><typ:customerAccountId>{a['CustomerAccountId']}"
                               "</typ:customerAccountId></typ:getCustomerAccount>").text
    stamp = xml_value(get, "LastUpdateDate")
    both = _find(fusion, _item("LastUpdateDate", ">=", stamp))
    assert len(xml_values(both, "AccountNumber")) == 2
    later = _find(fusion, _item("LastUpdateDate", ">", stamp))
    assert xml_values(later, "AccountNumber") == [b["AccountNumber"]]


def test_find_attribute_restricts_returned_fields(fusion, customer):
    text = _find(fusion, _item("PartyId", "=", customer["PartyId"]),
                 "<typ1:findAttribute>CustomerAccountId</typ1:findAttribute>"
                 "<typ1:findAttribute>AccountNumber</typ1:findAttribute>")
    assert xml_value(text, "AccountNumber") == customer["AccountNumber"]
    assert xml_value(text, "AccountName") is None


def test_find_on_unknown_attribute_faults(fusion, customer):
    body = ("<typ:findCustomerAccount><typ:findCriteria><typ1:filter><typ1:group>"
            + _item("Nope", "=", "1") + "</typ1:group></typ1:filter></typ:findCriteria></typ:findCustomerAccount>")
    assert fusion.soap(SERVICE, body).status_code == 500


def _merge(fusion, inner: str):
    return fusion.soap(SERVICE, f"<typ:mergeCustomerAccount><typ:customerAccount>{inner}"
                                f"</typ:customerAccount></typ:mergeCustomerAccount>")


def test_merge_adds_a_bill_to_site_that_an_invoice_may_name(fusion):
    # given a customer, and a second address on its person
    customer = fusion.create_customer()
    resp = fusion.rest("POST", f"{CRM}/hubPersons/{customer['PartyNumber']}/child/Address",
                       json={"Address1": "2 Oak Ave", "City": "Dallas", "State": "TX", "PostalCode": "75201",
                             "Country": "US"})
    address = resp.json()
    # an invoice cannot name it before the account has a site there
    assert fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, BillToSite=address["AddressNumber"])
                       ).status_code == 400
    # when merged in as a new account site with a BILL_TO use
    resp = _merge(fusion, f"<cus:CustomerAccountId>{customer['CustomerAccountId']}</cus:CustomerAccountId>"
                          f"<cus:CustomerAccountSite><cus:PartySiteId>{address['AddressId']}</cus:PartySiteId>"
                          f"<cus:SetId>{US1_SET_ID}</cus:SetId><cus:CreatedByModule>HZ_WS</cus:CreatedByModule>"
                          "<cus:CustomerAccountSiteUse><cus:SiteUseCode>BILL_TO</cus:SiteUseCode>"
                          "<cus:PrimaryFlag>false</cus:PrimaryFlag></cus:CustomerAccountSiteUse>"
                          "</cus:CustomerAccountSite>")
    # then the answer is the whole account with both sites, and an invoice may bill the new one
    assert resp.status_code == 200, resp.text
    assert xml_values(resp.text, "PartySiteId") == [str(customer["PartySiteId"]), str(address["AddressId"])]
    invoice = fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer, BillToSite=address["AddressNumber"]))
    assert invoice.status_code == 201, invoice.text
    assert invoice.json()["BillToSite"] == address["AddressNumber"]


def test_merge_updates_the_header_and_an_inactive_account_cannot_be_invoiced(fusion):
    customer = fusion.create_customer()
    resp = _merge(fusion, f"<cus:CustomerAccountId>{customer['CustomerAccountId']}</cus:CustomerAccountId>"
                          "<cus:AccountName>Jane Smith</cus:AccountName><cus:Status>I</cus:Status>")
    assert resp.status_code == 200, resp.text
    assert (xml_value(resp.text, "AccountName"), xml_value(resp.text, "Status")) == ("Jane Smith", "I")
    assert fusion.rest("POST", INVOICES, json=fusion.invoice_body(customer)).status_code == 400


def test_merge_of_an_unknown_account_is_a_record_missing_fault(fusion):
    resp = _merge(fusion, "<cus:CustomerAccountId>404</cus:CustomerAccountId>")
    assert resp.status_code == 500 and "FND_CMN_RCRD_MSNG" in resp.text
