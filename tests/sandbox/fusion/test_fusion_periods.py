"""Accounting periods and daily conversion rates: a document dated in a closed period, or in a
foreign currency without its daily rate, is refused as a pod refuses it; reopened or entered, it
goes through."""
from decimal import Decimal

import requests

from fusion_helpers import CM_NS, CM_TYPES, FSCM, MEMOS, RECEIPTS, xml_value


def _close(fusion, period: str, status: str = "closed") -> None:
    resp = requests.post(fusion.url + "/_sandbox/periods", json={"period": period, "status": status}, timeout=10)
    assert resp.status_code == 200, resp.text


def _receipt(fusion, customer, **overrides):
    body = {"ReceiptNumber": f"PAY-{fusion.seq()}", "BusinessUnit": "US1 Business Unit",
            "ReceiptMethod": "Shopify Payments", "ReceiptDate": "2025-03-14", "Amount": Decimal("39.00"),
            "Currency": "USD", "CustomerAccountNumber": customer["AccountNumber"], **overrides}
    return fusion.rest("POST", RECEIPTS, json=body)


def _credit_memo(fusion, invoice: dict, gl_date: str):
    xml = (f"<typ:createCreditMemo><typ:creditMemo>"
           f"<cus:GlDate>{gl_date}</cus:GlDate><cus:LineAmount currencyCode=\"USD\">-10.00</cus:LineAmount>"
           f"<cus:PreviousCustomerTransactionId>{invoice['CustomerTransactionId']}</cus:PreviousCustomerTransactionId>"
           f"<cus:TransactionDate>{gl_date}</cus:TransactionDate><cus:CurrencyCode>USD</cus:CurrencyCode>"
           f"<cus:TransactionNumber>{invoice['TransactionNumber']}-C1</cus:TransactionNumber>"
           f"</typ:creditMemo></typ:createCreditMemo>")
    return fusion.soap("/fscmService/CreditMemoService", xml, types_ns=CM_TYPES, svc_ns=CM_NS)


def test_an_invoice_dated_in_a_closed_period_is_refused_and_accepted_once_reopened(fusion, customer):
    # given March 2025 is closed
    _close(fusion, "2025-03")
    body = fusion.invoice_body(customer, AccountingDate="2025-03-14")

    # when an invoice dated in it is posted, it is refused naming the date and the period
    refused = fusion.rest("POST", f"{FSCM}/receivablesInvoices", json=body)
    assert refused.status_code == 400
    detail = refused.json()["o:errorDetails"][0]
    assert "2025-03-14" in detail["detail"] and "Mar-25" in detail["detail"]
    assert detail["o:errorPath"] == "/AccountingDate"

    # then the same invoice dated in the next (open) period is accepted, its transaction date kept
    moved = fusion.create_invoice(customer, TransactionNumber=body["TransactionNumber"], AccountingDate="2025-04-01")
    assert (moved["TransactionDate"], moved["AccountingDate"]) == ("2025-03-14", "2025-04-01")

    # and after reopening March, a March invoice goes through
    _close(fusion, "2025-03", "open")
    assert fusion.create_invoice(customer, AccountingDate="2025-03-14")["AccountingDate"] == "2025-03-14"


def test_a_future_enterable_period_takes_documents_a_never_opened_one_does_not(fusion, customer):
    _close(fusion, "2025-04", "future")
    _close(fusion, "2025-05", "never_opened")
    assert fusion.create_invoice(customer, AccountingDate="2025-04-02")["AccountingDate"] == "2025-04-02"
    assert fusion.rest("POST", f"{FSCM}/receivablesInvoices",
                       json=fusion.invoice_body(customer, AccountingDate="2025-05-02")).status_code == 400


def test_a_receipt_and_a_credit_memo_in_a_closed_period_are_refused(fusion, customer):
    # given an April invoice, and March closed
    invoice = fusion.create_invoice(customer, TransactionDate="2025-04-02")
    _close(fusion, "2025-03")

    # when a March receipt (its accounting date defaults to its receipt date) is posted, it is refused
    refused = _receipt(fusion, customer)
    assert refused.status_code == 400 and "isn't in an open" in refused.text
    # and with an April accounting date it is accepted
    assert _receipt(fusion, customer, AccountingDate="2025-04-01").status_code == 201

    # when a credit memo with a March GL date is posted by SOAP, it faults and credits nothing
    fault = _credit_memo(fusion, invoice, "2025-03-20")
    assert fault.status_code == 500 and "2025-03-20" in fault.text
    assert fusion.json(fusion.rest("GET", f"{FSCM}/receivablesInvoices/{invoice['CustomerTransactionId']}"))[
        "InvoiceBalanceAmount"] == Decimal("39.00")
    # and one with an April GL date credits the invoice
    created = _credit_memo(fusion, invoice, "2025-04-03")
    assert created.status_code == 200 and xml_value(created.text, "CustomerTransactionId")


def test_a_foreign_invoice_without_its_daily_rate_is_refused_naming_type_pair_and_date(fusion, customer):
    # given a pod that requires daily rates
    requests.post(fusion.url + "/_sandbox/rates", json={"required": True}, timeout=10)
    body = fusion.invoice_body(customer, InvoiceCurrencyCode="EUR", ConversionRateType="Corporate",
                               ConversionDate="2025-03-14")

    # when a EUR invoice is posted with no Corporate EUR→USD rate on its date
    refused = fusion.rest("POST", f"{FSCM}/receivablesInvoices", json=body)

    # then it is refused, naming the rate type, the pair and the date
    assert refused.status_code == 400
    message = refused.json()["o:errorDetails"][0]["detail"]
    assert all(word in message for word in ("Corporate", "EUR", "USD", "2025-03-14"))

    # and once the rate is entered the same invoice goes through
    requests.post(fusion.url + "/_sandbox/rates", json={"rates": [
        {"from": "EUR", "to": "USD", "type": "Corporate", "date": "2025-03-14", "rate": "1.08"}]}, timeout=10)
    assert fusion.rest("POST", f"{FSCM}/receivablesInvoices", json=body).status_code == 201


def test_a_user_rate_or_the_ledger_currency_needs_no_daily_rate(fusion, customer):
    requests.post(fusion.url + "/_sandbox/rates", json={"required": True}, timeout=10)
    assert fusion.create_invoice(customer, InvoiceCurrencyCode="EUR", ConversionRateType="User",
                                 ConversionRate=Decimal("1.1"))
    assert fusion.create_invoice(customer)
    assert _receipt(fusion, customer, Currency="EUR", ConversionRateType="Corporate").status_code == 400
    assert fusion.rest("POST", MEMOS, json={}).status_code == 400  # unrelated: still validated as before


def test_the_period_statuses_are_listed_for_a_connector_to_read(fusion):
    # given November 2026 is closed
    _close(fusion, "2026-11")
    # when the accounting period status list is read for closed periods
    page = fusion.json(fusion.rest("GET", f"{FSCM}/accountingPeriodStatusLOV", params={"q": "ClosingStatus='C'"}))
    # then November is there with its dates
    assert [(r["PeriodNameId"], r["StartDate"], r["EndDate"]) for r in page["items"]] == \
        [("Nov-26", "2026-11-01", "2026-11-30")]
