"""Priority-2 flows: receipts + applyReceipt, on-account credit memos, SOAP createCreditMemo,
account activities — balances checked to the cent."""
from decimal import Decimal
from urllib.parse import quote

import pytest
from fusion_helpers import (
    ACTION,
    CM_NS,
    CM_TYPES,
    FSCM,
    INVOICES,
    MEMOS,
    RECEIPTS,
    xml_value,
)


def _receipt(fusion, customer, amount="39.00", number=None, **extra):
    body = {"ReceiptNumber": number or f"PAY-{fusion.seq()}", "BusinessUnit": "US1 Business Unit",
            "ReceiptMethod": "Shopify Payments", "ReceiptDate": "2025-03-14",
            "Amount": Decimal(amount), "Currency": "USD",
            "CustomerAccountNumber": customer["AccountNumber"]}
    body.update(extra)
    return fusion.rest("POST", RECEIPTS, json=body)


def _installment(fusion, inv):
    resp = fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}/child/receivablesInvoiceInstallments")
    return fusion.json(resp)["items"][0]


def _apply(fusion, receipt_id, schedule_id, amount=None, headers=ACTION):
    body = {"appliedPaymentScheduleId": schedule_id, "calledFrom": "SHOPIFY_SYNC"}
    if amount is not None:
        body["amountApplied"] = Decimal(amount)
    return fusion.rest("POST", f"{RECEIPTS}/{receipt_id}/action/applyReceipt",
                       data=__import__("simplejson").dumps(body, use_decimal=True), headers=headers)


def _invoice(fusion, inv):
    return fusion.json(fusion.rest("GET", f"{INVOICES}/{inv['CustomerTransactionId']}"))


# --- standard receipts ------------------------------------------------------------------------
def test_receipt_create_starts_unapplied(fusion, customer):
    resp = _receipt(fusion, customer, "39.00", number="PAY-1001")
    assert resp.status_code == 201, resp.text
    r = fusion.json(resp)
    assert r["UnappliedAmount"] == Decimal("39.00") and r["Amount"] == Decimal("39.00")
    assert isinstance(r["StandardReceiptId"], int)
    got = fusion.rest("GET", f"{RECEIPTS}/{r['StandardReceiptId']}")
    assert got.status_code == 200 and got.json()["ReceiptNumber"] == "PAY-1001"
    found = fusion.rest("GET", f"{RECEIPTS}?q=" + quote("ReceiptNumber = 'PAY-1001'")).json()
    assert found["count"] == 1


def test_receipt_validation(fusion, customer):
    assert _receipt(fusion, customer, ReceiptMethod="Cash").status_code == 400
    assert _receipt(fusion, customer, amount="0").status_code == 400
    assert _receipt(fusion, customer, CustomerAccountNumber="424242").status_code == 400
    assert _receipt(fusion, customer, Foo="bar").status_code == 400
    assert fusion.rest("GET", f"{RECEIPTS}?q=" + quote("LastUpdateDate > '2025-01-01'")).status_code == 400


def test_apply_receipt_moves_installment_invoice_and_receipt_balances(fusion, customer):
    # given a 39.00 invoice and a 50.00 receipt
    inv = fusion.create_invoice(customer)
    inst = _installment(fusion, inv)
    receipt = fusion.json(_receipt(fusion, customer, "50.00"))
    # when 25.10 is applied to the installment
    resp = _apply(fusion, receipt["StandardReceiptId"], inst["InstallmentId"], "25.10")
    assert resp.status_code == 200 and resp.json() == {"result": "SUCCESS"}
    # then the invoice, its installment and the receipt all moved by 25.10
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("13.90")
    inst = _installment(fusion, inv)
    assert inst["InstallmentBalanceDue"] == Decimal("13.90") and inst["AmountPaid"] == Decimal("25.10")
    r = fusion.json(fusion.rest("GET", f"{RECEIPTS}/{receipt['StandardReceiptId']}"))
    assert r["UnappliedAmount"] == Decimal("24.90")
    # and LastUpdateDate moved, so a poller sees the change
    assert _invoice(fusion, inv)["LastUpdateDate"] > inv["LastUpdateDate"]


def test_apply_without_amount_applies_the_open_balance(fusion, customer):
    inv = fusion.create_invoice(customer)
    receipt = fusion.json(_receipt(fusion, customer, "100.00"))
    assert _apply(fusion, receipt["StandardReceiptId"], _installment(fusion, inv)["InstallmentId"]).status_code == 200
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == 0
    assert _installment(fusion, inv)["InstallmentStatus"] == "Closed"


def test_apply_beyond_the_balance_or_the_receipt_is_refused(fusion, customer):
    inv = fusion.create_invoice(customer)
    schedule = _installment(fusion, inv)["InstallmentId"]
    big = fusion.json(_receipt(fusion, customer, "100.00"))
    assert _apply(fusion, big["StandardReceiptId"], schedule, "39.01").status_code == 400
    small = fusion.json(_receipt(fusion, customer, "10.00"))
    assert _apply(fusion, small["StandardReceiptId"], schedule, "10.01").status_code == 400
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("39.00")


def test_apply_needs_a_real_schedule_and_the_action_media_type(fusion, customer):
    inv = fusion.create_invoice(customer)
    receipt = fusion.json(_receipt(fusion, customer))
    assert _apply(fusion, receipt["StandardReceiptId"], 1).status_code == 400
    plain = _apply(fusion, receipt["StandardReceiptId"], _installment(fusion, inv)["InstallmentId"],
                   headers={"Content-Type": "application/json"})
    assert plain.status_code == 415
    assert _apply(fusion, 1, _installment(fusion, inv)["InstallmentId"]).status_code == 404


# --- on-account credit memos (REST) --------------------------------------------------------------
def _memo_body(fusion, customer, **overrides):
    body = {"BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY",
            "TransactionType": "Shopify Credit Memo", "TransactionNumber": f"SHOP-1001-R{fusion.seq()}",
            "TransactionDate": "2025-03-20", "CreditMemoCurrency": "USD",
            "BillToCustomerNumber": customer["AccountNumber"],
            "CrossReference": "gid://shopify/Refund/998877",
            "receivablesCreditMemoLines": [
                {"LineNumber": 1, "LineDescription": "Blue T-shirt (M) returned", "LineQuantityCredit": 1,
                 "UnitSellingPrice": Decimal("-19.5"), "LineCreditReason": "RETURN", "MemoLine": "Merchandise"}]}
    body.update(overrides)
    return body


def test_on_account_credit_memo_section_9_2(fusion, customer):
    resp = fusion.rest("POST", MEMOS, json=_memo_body(fusion, customer))
    assert resp.status_code == 201, resp.text
    cm = fusion.json(resp)
    assert cm["CreditMemoStatus"] == "Complete"
    assert cm["EnteredAmount"] == Decimal("-19.50") and cm["TransactionBalanceDue"] == Decimal("-19.50")
    assert cm["receivablesCreditMemoLines"]["items"][0]["LineAmountCredit"] == Decimal("-19.50")


def test_credit_memo_amounts_must_be_negative_and_type_a_cm(fusion, customer):
    body = _memo_body(fusion, customer)
    body["receivablesCreditMemoLines"][0]["UnitSellingPrice"] = Decimal("19.5")
    assert fusion.rest("POST", MEMOS, json=body).status_code == 400
    assert fusion.rest("POST", MEMOS, json=_memo_body(fusion, customer,
                                                      TransactionType="Shopify Invoice")).status_code == 400
    # an invoice-only attribute is unknown here
    assert fusion.rest("POST", MEMOS, json=_memo_body(fusion, customer,
                                                      InvoiceCurrencyCode="USD")).status_code == 400


def test_credit_memos_finder_with_bind_variables_and_q(fusion, customer):
    fusion.rest("POST", MEMOS, json=_memo_body(fusion, customer, TransactionNumber="CM-A",
                                               CrossReference="gid://shopify/Refund/1"))
    fusion.rest("POST", MEMOS, json=_memo_body(fusion, customer, TransactionNumber="CM-B",
                                               CrossReference="gid://shopify/Refund/2"))
    finder = "creditMemosFinder;BindBusinessUnit=US1 Business Unit,BindCrossReference=gid://shopify/Refund/2"
    body = fusion.rest("GET", f"{MEMOS}?finder={quote(finder)}").json()
    assert [i["TransactionNumber"] for i in body["items"]] == ["CM-B"]
    body = fusion.rest("GET", f"{MEMOS}?q=" + quote("CrossReference = 'gid://shopify/Refund/1'")).json()
    assert [i["TransactionNumber"] for i in body["items"]] == ["CM-A"]
    assert fusion.rest("GET", f"{MEMOS}?q=" + quote("LastUpdateDate > '2025-01-01'")).status_code == 400
    assert fusion.rest("GET", f"{MEMOS}?finder=creditMemosFinder;CrossReference=x").status_code == 400


# --- SOAP createCreditMemo against an invoice ------------------------------------------------------
def _credit_xml(trx_id, number, line="-19.50", tax=None, extra=""):
    tax_xml = f'<cred:TaxAmount currencyCode="USD">{tax}</cred:TaxAmount>' if tax else ""
    return (f"<typ:createCreditMemo><typ:creditMemo>"
            f"<cred:PreviousCustomerTransactionId>{trx_id}</cred:PreviousCustomerTransactionId>"
            f"<cred:TransactionNumber>{number}</cred:TransactionNumber>"
            f"<cred:TransactionDate>2025-03-20</cred:TransactionDate><cred:GlDate>2025-03-20</cred:GlDate>"
            f"<cred:CurrencyCode>USD</cred:CurrencyCode>"
            f'<cred:LineAmount currencyCode="USD">{line}</cred:LineAmount>{tax_xml}'
            f"<cred:ReasonCode>RETURN</cred:ReasonCode>{extra}"
            f"</typ:creditMemo></typ:createCreditMemo>").replace("cred:", "cus:")


def _soap_credit(fusion, xml):
    return fusion.soap("/fscmService/CreditMemoService", xml, types_ns=CM_TYPES, svc_ns=CM_NS)


def test_create_credit_memo_reduces_the_invoice_balance(fusion, customer):
    line = {"LineNumber": 1, "Description": "Shirt", "Quantity": 2, "UnitSellingPrice": Decimal("19.50"),
            "MemoLine": "Merchandise",
            "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD",
                                                "TaxAmount": Decimal("3.22")}]}
    inv = fusion.create_invoice(customer, receivablesInvoiceLines=[line])
    assert inv["EnteredAmount"] == Decimal("42.22")
    resp = _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "SHOP-1001-R1", "-19.50", "-1.61"))
    assert resp.status_code == 200, resp.text
    assert xml_value(resp.text, "CustomerTransactionId").isdigit()
    assert xml_value(resp.text, "TransactionNumber") == "SHOP-1001-R1"
    assert "createCreditMemoResponse" in resp.text
    after = _invoice(fusion, inv)
    assert after["InvoiceBalanceAmount"] == Decimal("21.11")
    inst = _installment(fusion, inv)
    assert inst["InstallmentAmountCredited"] == Decimal("21.11")
    # the memo is readable by REST too
    cm = fusion.json(fusion.rest("GET", f"{MEMOS}/{xml_value(resp.text, 'CustomerTransactionId')}"))
    assert cm["EnteredAmount"] == Decimal("-21.11") and cm["TransactionBalanceDue"] == 0


def test_credit_percent_of_the_line_bucket(fusion, customer):
    inv = fusion.create_invoice(customer)
    xml = _credit_xml(inv["CustomerTransactionId"], "R-PCT").replace(
        '<cus:LineAmount currencyCode="USD">-19.50</cus:LineAmount>', "<cus:LinePercent>-100</cus:LinePercent>")
    assert _soap_credit(fusion, xml).status_code == 200
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == 0


def test_credit_beyond_the_balance_is_refused(fusion, customer):
    inv = fusion.create_invoice(customer)
    resp = _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-BIG", "-39.01"))
    assert resp.status_code == 500 and "AR-855075" in resp.text
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("39.00")


def _overapplying_fusion(make_fusion, tmp_path):
    """A pod whose invoice transaction type allows overapplication."""
    from sandbox.fusion.seed import PACKAGED_SEED
    seed = PACKAGED_SEED.read_text().replace("allow_overapplication = false", "allow_overapplication = true", 1)
    path = tmp_path / "seed.toml"
    path.write_text(seed)
    return make_fusion(seed_path=path)


def test_credit_beyond_the_balance_is_allowed_when_the_type_allows_it(make_fusion, tmp_path):
    fusion = _overapplying_fusion(make_fusion, tmp_path)
    inv = fusion.create_invoice(fusion.create_customer())
    assert _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-OVER", "-40.00")).status_code == 200
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("-1.00")


def test_credit_memo_faults(fusion, customer):
    inv = fusion.create_invoice(customer)
    trx = inv["CustomerTransactionId"]
    assert "FND_CMN_RCRD_MSNG" in _soap_credit(fusion, _credit_xml(300100699999999, "R-X")).text
    assert _soap_credit(fusion, _credit_xml(trx, "R-POS", "19.50")).status_code == 500
    # transaction numbers are unique per source, invoices and memos alike
    assert _soap_credit(fusion, _credit_xml(trx, inv["TransactionNumber"], "-1.00")).status_code == 500
    assert _soap_credit(fusion, _credit_xml(trx, "R-T", "-1.00",
                                            extra="<cus:CustomerTransactionTypeSequenceId>300000002000201"
                                                  "</cus:CustomerTransactionTypeSequenceId>")).status_code == 500
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("39.00")


# --- account activities -----------------------------------------------------------------------------
def test_account_activity_shows_open_receivables_and_applications(fusion, customer):
    inv = fusion.create_invoice(customer)
    receipt = fusion.json(_receipt(fusion, customer, "10.00"))
    _apply(fusion, receipt["StandardReceiptId"], _installment(fusion, inv)["InstallmentId"], "10.00")
    _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-ACT", "-4.00"))
    url = f"{FSCM}/receivablesCustomerAccountActivities/{customer['CustomerAccountId']}"
    act = fusion.json(fusion.rest("GET", url))
    assert act["AccountNumber"] == customer["AccountNumber"]
    assert act["TotalOpenReceivablesForAccount"] == Decimal("25.00")
    schedules = fusion.json(fusion.rest("GET", f"{url}/child/transactionPaymentSchedules"))["items"]
    assert schedules[0]["InstallmentBalanceDue"] == Decimal("25.00")
    apps = fusion.json(fusion.rest("GET", f"{url}/child/standardReceiptApplications"))["items"]
    assert apps[0]["ApplicationAmount"] == Decimal("10.00") and apps[0]["ReferenceTransactionNumber"] == inv["TransactionNumber"]
    cm_apps = fusion.json(fusion.rest("GET", f"{url}/child/creditMemoApplications"))["items"]
    assert cm_apps[0]["ApplicationAmount"] == Decimal("4.00")


@pytest.mark.parametrize("resource", ["receivablesInvoices", "receivablesCreditMemos", "standardReceipts",
                                      "receivablesCustomerAccountActivities"])
def test_describe_marks_queryable_attributes(fusion, resource):
    resp = fusion.rest("GET", f"{FSCM}/{resource}/describe")
    assert resp.status_code == 200
    attrs = {a["name"]: a for a in resp.json()["Resources"][resource]["attributes"]}
    assert any(a["queryable"] for a in attrs.values())
    if resource == "receivablesInvoices":
        assert attrs["LastUpdateDate"]["queryable"] and not attrs["CrossReference"]["queryable"]


def _taxed_invoice(fusion, customer, tax="4.08", **extra):
    line = {"LineNumber": 1, "Description": "Shirt", "Quantity": 2, "UnitSellingPrice": Decimal("19.50"),
            "MemoLine": "Merchandise",
            "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD",
                                                "TaxAmount": Decimal(tax)}]}
    return fusion.create_invoice(customer, receivablesInvoiceLines=[line], **extra)


@pytest.mark.parametrize("tax, freight, extra", [
    ("-1.61", None, {}),                      # the invoice has no tax at all
    (None, "-10.00", {}),                     # ... nor freight
    ("-5.00", None, {"tax": "4.08"}),         # more tax than the invoice's tax lines total
])
def test_credit_memo_checks_each_bucket_separately(fusion, customer, tax, freight, extra):
    # given an invoice whose total balance would cover the credit
    inv = _taxed_invoice(fusion, customer, **extra) if extra else fusion.create_invoice(customer)
    before = _invoice(fusion, inv)["InvoiceBalanceAmount"]
    freight_xml = f'<cus:FreightAmount currencyCode="USD">{freight}</cus:FreightAmount>' if freight else ""
    # when a credit memo credits more of one part than the invoice has of it
    resp = _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-BKT", "-1.00", tax,
                                            extra=freight_xml))
    # then it is an overapplication fault naming that part, and nothing moved
    assert resp.status_code == 500 and "AR-855075" in resp.text
    assert ("TaxAmount" if tax else "FreightAmount") in resp.text
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == before


def test_credit_memo_buckets_remember_earlier_credits(fusion, customer):
    # given an invoice with 4.08 of tax, 3.00 of which is already credited
    inv = _taxed_invoice(fusion, customer)
    assert _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-A", "-1.00", "-3.00")).status_code == 200
    # when another memo credits 1.50 more tax, then it is refused; 1.08 is still fine
    assert _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-B", "-1.00", "-1.50")).status_code == 500
    assert _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-C", "-1.00", "-1.08")).status_code == 200
    assert _invoice(fusion, inv)["InvoiceBalanceAmount"] == Decimal("43.08") - Decimal("6.08")


def test_bucket_overapplication_is_allowed_when_the_type_allows_it(make_fusion, tmp_path):
    # given a type that allows overapplication, when tax is credited on an untaxed invoice, then it passes
    fusion = _overapplying_fusion(make_fusion, tmp_path)
    inv = fusion.create_invoice(fusion.create_customer())
    assert _soap_credit(fusion, _credit_xml(inv["CustomerTransactionId"], "R-TX", "-1.00", "-1.61")).status_code == 200
