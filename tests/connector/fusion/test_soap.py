"""Envelopes and answers without a pod: what the sandbox cannot show (field order and
omission, amounts with their currency, MTOM-wrapped answers)."""
from __future__ import annotations

from decimal import Decimal

from defusedxml import ElementTree

from connector.fusion import soap

SERVICES = (soap.CUSTOMER_ACCOUNT, soap.CREDIT_MEMO, soap.STANDARD_RECEIPT)


def test_given_fields_when_written_then_in_order_escaped_and_unset_ones_left_out():
    xml = soap.fields(soap.CREDIT_MEMO, Comments="Tom & Jerry <3", GlDate=None,
                      LineAmount=soap.Amount(Decimal("-19.50"), "USD"), ComputeTax=False)
    assert xml == ("<cred:Comments>Tom &amp; Jerry &lt;3</cred:Comments>"
                   '<cred:LineAmount currencyCode="USD">-19.50</cred:LineAmount>'
                   "<cred:ComputeTax>false</cred:ComputeTax>")


def test_given_characters_xml_cannot_hold_when_enveloped_then_dropped_and_the_envelope_parses():
    # NUL, backspace, vertical tab, unit separator, a lone surrogate, U+FFFE: a Shopify name can hold them
    name = "Ana\x00 Sil\x08va\x0b\x1f\ud800\ufffe & Co\t"
    account = soap.fields(soap.CUSTOMER_ACCOUNT, AccountName=name, OrigSystemReference="ref\x01 1\r\n")
    xml = soap.request(soap.CUSTOMER_ACCOUNT, "createCustomerAccount", customerAccount=account,
                       findCriteria=soap.find_criteria("AccountName", "x\x02y\uffff"))

    root = ElementTree.fromstring(xml.encode("utf-8"))

    ns = soap.CUSTOMER_ACCOUNT.namespace
    assert root.find(f".//{{{ns}}}AccountName").text == "Ana Silva & Co\t"
    assert root.find(f".//{{{ns}}}OrigSystemReference").text == "ref 1\n"  # XML reads CR LF as LF
    assert root.find(f".//{{{soap.ADF_TYPES}}}value").text == "xy"


def test_given_each_service_when_enveloped_then_its_prefix_is_bound_to_its_namespace():
    for service in SERVICES:
        xml = soap.request(service, "op", param=soap.fields(service, A="1"))
        assert f'xmlns:{service.prefix}="{service.namespace}"' in xml
        assert f'xmlns:typ="{service.types_namespace}"' in xml
        assert f"<typ:op><typ:param><{service.prefix}:A>1</{service.prefix}:A></typ:param></typ:op>" in xml


def test_given_the_cdm_service_when_actions_named_then_under_its_application_module():
    assert soap.action(soap.CUSTOMER_ACCOUNT, "findCustomerAccount").endswith(
        "/customerAccountService/applicationModule/findCustomerAccount")
    assert soap.action(soap.CREDIT_MEMO, "createCreditMemo") == soap.CREDIT_MEMO.namespace + "createCreditMemo"


def test_given_an_mtom_answer_when_parsed_then_the_value_with_decimal_amounts():
    envelope = (f'<env:Envelope xmlns:env="{soap.ENV}"><env:Body>'
                f'<ns0:createCreditMemoResponse xmlns:ns0="{soap.CREDIT_MEMO.types_namespace}">'
                f'<ns2:result xmlns:ns2="{soap.CREDIT_MEMO.types_namespace}" xmlns:ns1="{soap.CREDIT_MEMO.namespace}">'
                "<ns1:Value><ns1:TransactionNumber>S-1-C1</ns1:TransactionNumber>"
                '<ns1:LineAmount currencyCode="USD">-19.50</ns1:LineAmount><ns1:TaxAmount/></ns1:Value>'
                "</ns2:result></ns0:createCreditMemoResponse></env:Body></env:Envelope>")
    mtom = ("------=_Part_1\r\nContent-Type: application/xop+xml;charset=UTF-8;type=\"text/xml\"\r\n\r\n"
            f"{envelope}\r\n------=_Part_1--").encode()
    value = soap.decimals(soap.parse_response(mtom), "LineAmount", "TaxAmount")
    assert value == {"TransactionNumber": "S-1-C1", "LineAmount": Decimal("-19.50"), "TaxAmount": None}
