"""SOAP StandardReceiptService.createApplyReceipt (reference §1.3, §1.5): balances to the cent,
the same as the REST applyReceipt action, and the faults."""
from decimal import Decimal

import simplejson

from fusion_helpers import FSCM, xml_value, xml_values

INVOICES = f"{FSCM}/receivablesInvoices"
RECEIPTS = f"{FSCM}/standardReceipts"
SERVICE = "/fscmService/StandardReceiptService"
SR_NS = "http://xmlns.oracle.com/apps/financials/receivables/receipts/shared/standardReceiptService/commonService/"
SR_TYPES = SR_NS + "types/"
DFF_NS = ("http://xmlns.oracle.com/apps/flex/financials/receivables/receipts/shared/"
          "standardReceiptService/commonService/ApplyReceiptDff/")
ACTION = {"Content-Type": "application/vnd.oracle.adf.action+json"}


def _receipt(fusion, customer, amount="50.00") -> dict:
    body = {"ReceiptNumber": f"PAY-{fusion.seq()}", "BusinessUnit": "US1 Business Unit",
            "ReceiptMethod": "Shopify Payments", "ReceiptDate": "2025-03-14",
            "Amount": Decimal(amount), "Currency": "USD", "CustomerAccountNumber": customer["AccountNumber"]}
    resp = fusion.rest("POST", RECEIPTS, json=body)
    assert resp.status_code == 201, resp.text
    return fusion.json(resp)


def _apply_xml(**fields) -> str:
    """createApplyReceipt with the ApplyReceipt fields given (service-namespace prefix ``com``)."""
    inner = "".join(f"<com:{name}>{value}</com:{name}>" for name, value in fields.items())
    return f"<typ:createApplyReceipt><typ:applyReceipt>{inner}</typ:applyReceipt></typ:createApplyReceipt>"


def _soap_apply(fusion, xml, **kw):
    return fusion.soap(SERVICE, xml.replace("com:", "cus:"), types_ns=SR_TYPES, svc_ns=SR_NS, **kw)


def _rest_apply(fusion, receipt, schedule_id, amount):
    body = {"appliedPaymentScheduleId": schedule_id, "amountApplied": Decimal(amount)}
    return fusion.rest("POST", f"{RECEIPTS}/{receipt['StandardReceiptId']}/action/applyReceipt",
                       data=simplejson.dumps(body, use_decimal=True), headers=ACTION)


def _balances(fusion, inv, receipt) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(InvoiceBalanceAmount, InstallmentBalanceDue, AmountPaid, receipt UnappliedAmount)."""
    trx = inv["CustomerTransactionId"]
    invoice = fusion.json(fusion.rest("GET", f"{INVOICES}/{trx}"))
    inst = fusion.json(fusion.rest("GET", f"{INVOICES}/{trx}/child/receivablesInvoiceInstallments"))["items"][0]
    r = fusion.json(fusion.rest("GET", f"{RECEIPTS}/{receipt['StandardReceiptId']}"))
    return (invoice["InvoiceBalanceAmount"], inst["InstallmentBalanceDue"], inst["AmountPaid"],
            r["UnappliedAmount"])


def _installment_id(fusion, inv) -> int:
    url = f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceInstallments"
    return fusion.json(fusion.rest("GET", url))["items"][0]["InstallmentId"]


# --- applying -----------------------------------------------------------------------------------------
def test_reference_example_applies_by_receipt_and_transaction_ids(fusion, customer):
    # given a 39.00 invoice and a 50.00 receipt
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer, "50.00")
    # when 25.10 is applied with the §1.5 request (ReceiptId + CustomerTrxId, dates, comments)
    resp = _soap_apply(fusion, _apply_xml(
        ReceiptId=receipt["StandardReceiptId"], CustomerTrxId=inv["CustomerTransactionId"],
        AmountApplied="25.10", ApplicationDate="2025-03-14", AccountingDate="2025-03-15",
        Comments="Shopify order #1001 payment"))
    # then the answer echoes the application with what the pod resolved
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/xml")
    assert "createApplyReceiptResponse" in resp.text and 'xsi:type="ns1:ApplyReceiptResult"' in resp.text
    assert xml_value(resp.text, "Action") == SR_NS + "createApplyReceiptResponse"
    assert xml_value(resp.text, "AmountApplied") == "25.10"
    assert xml_value(resp.text, "ReceiptNumber") == receipt["ReceiptNumber"]
    assert xml_value(resp.text, "TransactionNumber") == inv["TransactionNumber"]
    assert xml_value(resp.text, "CustomerTrxId") == str(inv["CustomerTransactionId"])
    assert xml_value(resp.text, "InstalmentId") == str(_installment_id(fusion, inv))
    assert xml_value(resp.text, "AccountingDate") == "2025-03-15"
    # and the invoice, its installment and the receipt all moved by 25.10
    assert _balances(fusion, inv, receipt) == (Decimal("13.90"), Decimal("13.90"), Decimal("25.10"),
                                               Decimal("24.90"))


def test_rest_and_soap_applications_move_balances_identically(fusion, customer):
    # given two equal invoices and two equal receipts
    inv_rest, inv_soap = fusion.create_invoice(customer), fusion.create_invoice(customer)
    rec_rest, rec_soap = _receipt(fusion, customer, "30.00"), _receipt(fusion, customer, "30.00")
    # when 12.34 is applied to one by REST and to the other by SOAP
    assert _rest_apply(fusion, rec_rest, _installment_id(fusion, inv_rest), "12.34").status_code == 200
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=rec_soap["StandardReceiptId"],
                                          CustomerTrxId=inv_soap["CustomerTransactionId"],
                                          AmountApplied="12.34"))
    assert resp.status_code == 200, resp.text
    # then both sides show the same balances, to the cent
    expected = (Decimal("26.66"), Decimal("26.66"), Decimal("12.34"), Decimal("17.66"))
    assert _balances(fusion, inv_rest, rec_rest) == expected
    assert _balances(fusion, inv_soap, rec_soap) == expected


def test_rest_then_soap_on_the_same_invoice_and_receipt_add_up(fusion, customer):
    # given a 39.00 invoice and a 39.00 receipt
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer, "39.00")
    # when 10.00 is applied by REST and then 15.55 by SOAP
    assert _rest_apply(fusion, receipt, _installment_id(fusion, inv), "10.00").status_code == 200
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="15.55"))
    assert resp.status_code == 200, resp.text
    # then both applications count
    assert _balances(fusion, inv, receipt) == (Decimal("13.45"), Decimal("13.45"), Decimal("25.55"),
                                               Decimal("13.45"))
    # and both show in the account's receipt applications
    url = f"{FSCM}/receivablesCustomerAccountActivities/{customer['CustomerAccountId']}"
    apps = fusion.json(fusion.rest("GET", f"{url}/child/standardReceiptApplications"))["items"]
    assert [a["ApplicationAmount"] for a in apps] == [Decimal("10.00"), Decimal("15.55")]
    assert fusion.json(fusion.rest("GET", url))["TotalOpenReceivablesForAccount"] == Decimal("0.00")


def test_apply_by_numbers_and_instalment_number(fusion, customer):
    # given an invoice and a receipt known to the caller by their numbers only
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer, "20.00")
    # when the application names them by ReceiptNumber, TransactionNumber and Instalment
    # (with a descriptive flexfield, whose segments live in their own namespace)
    dff = f'<dff:Segment1 xmlns:dff="{DFF_NS}">shopify</dff:Segment1>'
    resp = _soap_apply(fusion, _apply_xml(ReceiptNumber=receipt["ReceiptNumber"],
                                          TransactionNumber=inv["TransactionNumber"],
                                          TransactionSource="SHOPIFY", Instalment=1, AmountApplied="20.00",
                                          ReceivableApplicationFLEXVA=dff))
    # then the pod resolves the ids and applies the whole receipt
    assert resp.status_code == 200, resp.text
    assert xml_value(resp.text, "ReceiptId") == str(receipt["StandardReceiptId"])
    assert _balances(fusion, inv, receipt) == (Decimal("19.00"), Decimal("19.00"), Decimal("20.00"),
                                               Decimal("0.00"))
    assert fusion.json(fusion.rest("GET", f"{RECEIPTS}/{receipt['StandardReceiptId']}"))["Status"] == "APP"


def test_apply_by_instalment_id_without_amount_applies_the_open_balance(fusion, customer):
    # given a 39.00 invoice and a 100.00 receipt
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer, "100.00")
    # when the application names only the receipt and the payment schedule, with no amount
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          InstalmentId=_installment_id(fusion, inv)))
    # then the installment's whole balance is applied
    assert resp.status_code == 200, resp.text
    assert xml_value(resp.text, "AmountApplied") == "39.00"
    assert _balances(fusion, inv, receipt) == (Decimal("0.00"), Decimal("0.00"), Decimal("39.00"),
                                               Decimal("61.00"))


def test_instalment_id_alone_can_be_refused_by_setting(make_fusion):
    fusion = make_fusion(soap_apply_accepts_instalment_id_alone=False)
    inv = fusion.create_invoice(fusion.create_customer())
    receipt = _receipt(fusion, fusion.create_customer(), "10.00")
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          InstalmentId=_installment_id(fusion, inv), AmountApplied="1.00"))
    assert resp.status_code == 500 and "CustomerTrxId" in resp.text


# --- faults ---------------------------------------------------------------------------------------------
def test_unknown_receipt_transaction_or_instalment_is_record_missing(fusion, customer):
    # given a real invoice and receipt
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer)
    trx, rid = inv["CustomerTransactionId"], receipt["StandardReceiptId"]
    # when one of the three keys names nothing
    for fields in ({"ReceiptId": 300100699999999, "CustomerTrxId": trx},
                   {"ReceiptNumber": "NO-SUCH-RECEIPT", "CustomerTrxId": trx},
                   {"ReceiptId": rid, "CustomerTrxId": 300100699999999},
                   {"ReceiptId": rid, "InstalmentId": 300100699999999},
                   {"ReceiptId": rid, "CustomerTrxId": trx, "Instalment": 2}):
        resp = _soap_apply(fusion, _apply_xml(AmountApplied="1.00", **fields))
        # then it is Fusion's record-missing fault, as HTTP 500
        assert resp.status_code == 500, fields
        assert xml_value(resp.text, "code") == "FND:::FND_CMN_RCRD_MSNG", fields
        assert "doesn't exist" in xml_value(resp.text, "faultstring")
    # and nothing moved
    assert _balances(fusion, inv, receipt) == (Decimal("39.00"), Decimal("39.00"), Decimal("0.00"),
                                               Decimal("50.00"))


def test_more_than_the_receipt_or_the_installment_is_refused(fusion, customer):
    # given a 39.00 invoice, a 10.00 receipt and a 100.00 receipt
    inv = fusion.create_invoice(customer)
    small, big = _receipt(fusion, customer, "10.00"), _receipt(fusion, customer, "100.00")
    trx = inv["CustomerTransactionId"]
    # when 10.01 is applied from the 10.00 receipt
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=small["StandardReceiptId"], CustomerTrxId=trx,
                                          AmountApplied="10.01"))
    # then the fault says the receipt doesn't have that much unapplied
    assert resp.status_code == 500
    assert xml_value(resp.text, "code") == "AR-855064"
    assert "exceeds the unapplied amount 10.00" in xml_value(resp.text, "faultstring")
    assert xml_value(resp.text, "attributeName") == "AmountApplied"
    # when 39.01 is applied to the 39.00 invoice
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=big["StandardReceiptId"], CustomerTrxId=trx,
                                          AmountApplied="39.01"))
    # then the fault says the transaction type doesn't allow overapplication
    assert resp.status_code == 500
    assert xml_value(resp.text, "code") == "AR-855065"
    assert "doesn't allow overapplication" in xml_value(resp.text, "faultstring")
    # and no balance moved
    assert _balances(fusion, inv, small)[0:3] == (Decimal("39.00"), Decimal("39.00"), Decimal("0.00"))
    assert [_balances(fusion, inv, r)[3] for r in (small, big)] == [Decimal("10.00"), Decimal("100.00")]


def test_over_application_is_allowed_when_the_transaction_type_allows_it(make_fusion, tmp_path):
    # given a pod whose invoice transaction type allows overapplication
    from sandbox.fusion.seed import PACKAGED_SEED
    path = tmp_path / "seed.toml"
    path.write_text(PACKAGED_SEED.read_text().replace("allow_overapplication = false",
                                                      "allow_overapplication = true", 1))
    fusion = make_fusion(seed_path=path)
    customer = fusion.create_customer()
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer, "50.00")
    # when 40.00 is applied to the 39.00 invoice
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="40.00"))
    # then the balance goes below zero
    assert resp.status_code == 200, resp.text
    assert _balances(fusion, inv, receipt) == (Decimal("-1.00"), Decimal("-1.00"), Decimal("40.00"),
                                               Decimal("10.00"))


def test_mismatched_keys_are_refused(fusion, customer):
    inv, other = fusion.create_invoice(customer), fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer)
    # an installment of another transaction
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          CustomerTrxId=inv["CustomerTransactionId"],
                                          InstalmentId=_installment_id(fusion, other), AmountApplied="1.00"))
    assert resp.status_code == 500 and xml_value(resp.text, "code") == "27024"
    assert xml_value(resp.text, "attributeName") == "InstalmentId"
    # a receipt number that isn't the receipt id's
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"], ReceiptNumber="OTHER",
                                          CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="1.00"))
    assert resp.status_code == 500 and xml_value(resp.text, "attributeName") == "ReceiptNumber"
    # no receipt at all, and no transaction at all
    resp = _soap_apply(fusion, _apply_xml(CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="1.00"))
    assert resp.status_code == 500 and "JBO-27014" in resp.text
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"], AmountApplied="1.00"))
    assert resp.status_code == 500 and "JBO-27014" in resp.text
    # a non-positive amount and a malformed date
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="0"))
    assert resp.status_code == 500 and xml_value(resp.text, "code") == "AR-855063"
    resp = _soap_apply(fusion, _apply_xml(ReceiptId=receipt["StandardReceiptId"],
                                          CustomerTrxId=inv["CustomerTransactionId"], AmountApplied="1.00",
                                          ApplicationDate="14/03/2025"))
    assert resp.status_code == 500 and xml_value(resp.text, "attributeName") == "ApplicationDate"
    assert _balances(fusion, inv, receipt)[3] == Decimal("50.00")


def test_element_names_not_in_the_wsdl_are_refused(fusion, customer):
    # given the names a public TypeScript port sends (§1.3 warning)
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer)
    base = {"ReceiptId": receipt["StandardReceiptId"], "CustomerTrxId": inv["CustomerTransactionId"],
            "AmountApplied": "5.00"}
    for wrong in ({"ApplyDate": "2025-03-14"}, {"ReceiptCurrencyCode": "USD"}, {"Installment": 1}):
        # when one of them is in the ApplyReceipt
        resp = _soap_apply(fusion, _apply_xml(**base, **wrong))
        # then it is a client fault naming the element
        assert resp.status_code == 500
        assert xml_value(resp.text, "faultcode") == "env:Client"
        assert next(iter(wrong)) in xml_value(resp.text, "faultstring")
    # the operation is createApplyReceipt: applyReceipt as the body element is an unknown method
    resp = fusion.soap(SERVICE, "<typ:applyReceipt><cus:ReceiptId>1</cus:ReceiptId></typ:applyReceipt>",
                       types_ns=SR_TYPES, svc_ns=SR_NS)
    assert resp.status_code == 500 and "Unknown method" in resp.text
    # SDO fields in the types namespace are refused too
    resp = fusion.soap(SERVICE, _apply_xml(**base).replace("com:", "typ:"), types_ns=SR_TYPES, svc_ns=SR_NS)
    assert resp.status_code == 500 and xml_value(resp.text, "faultcode") == "env:Client"
    assert _balances(fusion, inv, receipt)[3] == Decimal("50.00")


def test_authentication_and_endpoint(fusion, customer):
    inv = fusion.create_invoice(customer)
    receipt = _receipt(fusion, customer)
    xml = _apply_xml(ReceiptId=receipt["StandardReceiptId"], CustomerTrxId=inv["CustomerTransactionId"],
                     AmountApplied="1.00")
    # no credentials: 401, nothing applied
    assert _soap_apply(fusion, xml, auth=False).status_code == 401
    # the service lives under /fscmService only
    wrong = fusion.soap("/crmService/StandardReceiptService", xml.replace("com:", "cus:"),
                        types_ns=SR_TYPES, svc_ns=SR_NS)
    assert wrong.status_code == 404
    assert _balances(fusion, inv, receipt)[3] == Decimal("50.00")
    # a wsse:UsernameToken authenticates, as on the other SOAP services
    s = fusion.settings
    header = ('<soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
              'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>'
              f"<wsse:Username>{s.basic_username}</wsse:Username><wsse:Password>{s.basic_password}"
              "</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>")
    envelope = (f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                f'xmlns:typ="{SR_TYPES}" xmlns:com="{SR_NS}">{header}<soapenv:Body>{xml}'
                "</soapenv:Body></soapenv:Envelope>")
    import requests
    resp = requests.post(fusion.url + SERVICE, data=envelope.encode(), timeout=10,
                         headers={"Content-Type": "text/xml;charset=UTF-8",
                                  "SOAPAction": SR_NS + "createApplyReceipt"})
    assert resp.status_code == 200, resp.text
    assert xml_values(resp.text, "AmountApplied") == ["1.00"]
    assert _balances(fusion, inv, receipt)[3] == Decimal("49.00")
