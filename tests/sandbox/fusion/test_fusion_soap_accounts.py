"""SOAP CustomerAccountService (soap-receipts-customers.md §2, §6)."""
from fusion_helpers import CA_NS, CA_TYPES, rows, xml_value, xml_values

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
