"""Amounts at their currency's precision: none for JPY, three for KWD, two for USD.

Receivables keeps every amount at the currency's precision; the sandbox rounds what arrives with
more decimals (half up) rather than refusing it, since whether a pod refuses is not known.
"""
from decimal import Decimal

from fusion_helpers import ACTION, CM_NS, CM_TYPES, INVOICES, MEMOS, RECEIPTS, xml_value


def decimals(amount: Decimal | int) -> int:
    """How many decimals an amount read from Fusion's JSON carries (a JSON integer has none)."""
    return 0 if isinstance(amount, int) else max(0, -amount.as_tuple().exponent)


def _invoice(fusion, customer, currency: str, quantity, price, tax) -> dict:
    line = {"LineNumber": 1, "Description": "Tee", "Quantity": quantity, "UnitSellingPrice": Decimal(price),
            "MemoLine": "Merchandise",
            "receivablesInvoiceLineTaxLines": [{"TaxRegimeCode": "US_SALES_TAX", "TaxRateCode": "STANDARD",
                                                "TaxAmount": Decimal(tax)}]}
    return fusion.create_invoice(customer, InvoiceCurrencyCode=currency, ConversionRateType="Corporate",
                                 receivablesInvoiceLines=[line])


def _read(fusion, path: str) -> dict:
    return fusion.json(fusion.rest("GET", path))


def _receipt(fusion, customer, currency: str, amount: str) -> dict:
    resp = fusion.rest("POST", RECEIPTS, json={
        "ReceiptNumber": f"PAY-{fusion.seq()}", "BusinessUnit": "US1 Business Unit",
        "ReceiptMethod": "Shopify Payments", "ReceiptDate": "2025-03-14", "Amount": Decimal(amount),
        "Currency": currency, "ConversionRateType": "Corporate", "CustomerAccountNumber": customer["AccountNumber"]})
    assert resp.status_code == 201, resp.text
    return fusion.json(resp)


def _credit(fusion, invoice: dict, currency: str, amounts: str) -> str:
    xml = (f"<typ:createCreditMemo><typ:creditMemo>"
           f"<cus:PreviousCustomerTransactionId>{invoice['CustomerTransactionId']}</cus:PreviousCustomerTransactionId>"
           f"<cus:TransactionNumber>{invoice['TransactionNumber']}-C1</cus:TransactionNumber>"
           f"<cus:TransactionDate>2025-03-20</cus:TransactionDate><cus:CurrencyCode>{currency}</cus:CurrencyCode>"
           f"{amounts}<cus:ReasonCode>RETURN</cus:ReasonCode></typ:creditMemo></typ:createCreditMemo>")
    resp = fusion.soap("/fscmService/CreditMemoService", xml, types_ns=CM_TYPES, svc_ns=CM_NS)
    assert resp.status_code == 200, resp.text
    return xml_value(resp.text, "CustomerTransactionId")


def test_a_yen_invoice_has_no_decimals(fusion, customer):
    # given a JPY invoice: 3 tees at 1234 yen, 268 yen of tax
    invoice = _invoice(fusion, customer, "JPY", 3, "1234", "268")
    # when it is read back
    read = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}")
    # then it totals 3970 yen, in whole yen
    assert read["EnteredAmount"] == read["InvoiceBalanceAmount"] == Decimal(3970)
    assert decimals(read["EnteredAmount"]) == decimals(read["InvoiceBalanceAmount"]) == 0


def test_yen_amounts_sent_with_decimals_are_rounded_to_the_yen(fusion, customer):
    # given a JPY invoice line of 3 × 1234.33 yen (3702.99) and 268.4 yen of tax
    invoice = _invoice(fusion, customer, "JPY", 3, "1234.33", "268.4")
    # then the pod holds 3703 + 268 = 3971 yen, not 3971.39
    line = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}/child/receivablesInvoiceLines")["items"][0]
    assert line["LineAmount"] == Decimal(3703) and decimals(line["LineAmount"]) == 0
    assert invoice["EnteredAmount"] == Decimal(3971) and decimals(invoice["EnteredAmount"]) == 0


def test_a_yen_receipt_and_its_application_stay_in_whole_yen(fusion, customer):
    # given the 3970-yen invoice and a receipt of 1000.4 yen
    invoice = _invoice(fusion, customer, "JPY", 3, "1234", "268")
    receipt = _receipt(fusion, customer, "JPY", "1000.4")
    assert receipt["Amount"] == receipt["UnappliedAmount"] == Decimal(1000)
    installment = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}"
                                f"/child/receivablesInvoiceInstallments")["items"][0]
    # when the receipt is applied in full
    resp = fusion.rest("POST", f"{RECEIPTS}/{receipt['StandardReceiptId']}/action/applyReceipt", headers=ACTION,
                       data='{"appliedPaymentScheduleId": %d}' % installment["InstallmentId"])
    assert resp.status_code == 200, resp.text
    # then 2970 yen are open, and the receipt has nothing left
    balance = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}")["InvoiceBalanceAmount"]
    assert balance == Decimal(2970) and decimals(balance) == 0
    assert _read(fusion, f"{RECEIPTS}/{receipt['StandardReceiptId']}")["UnappliedAmount"] == 0


def test_a_percentage_credit_of_a_yen_invoice_is_rounded_to_the_yen(fusion, customer):
    # given the 3970-yen invoice (3702 of lines)
    invoice = _invoice(fusion, customer, "JPY", 3, "1234", "268")
    # when a header-level credit memo credits a third of the line part
    memo_id = _credit(fusion, invoice, "JPY", "<cus:LinePercent>-33.3333</cus:LinePercent>")
    # then it credits 1234 yen (1233.99… rounded), not 1233.99, and 2736 yen stay open
    memo = _read(fusion, f"{MEMOS}/{memo_id}")
    assert memo["EnteredAmount"] == Decimal(-1234) and decimals(memo["EnteredAmount"]) == 0
    balance = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}")["InvoiceBalanceAmount"]
    assert balance == Decimal(2736) and decimals(balance) == 0


def test_a_dinar_invoice_keeps_three_decimals(fusion, customer):
    # given a KWD invoice: 2 × 12.345 dinars and 1.2345 dinars of tax (rounded to the fils: 1.235)
    invoice = _invoice(fusion, customer, "KWD", 2, "12.345", "1.2345")
    # then it totals 25.925 dinars
    assert invoice["EnteredAmount"] == Decimal("25.925")
    # and a credit of 10.0005 dinars of the line leaves 15.924 open (the credit rounded to 10.001)
    _credit(fusion, invoice, "KWD", '<cus:LineAmount currencyCode="KWD">-10.0005</cus:LineAmount>')
    balance = _read(fusion, f"{INVOICES}/{invoice['CustomerTransactionId']}")["InvoiceBalanceAmount"]
    assert balance == Decimal("15.924") and decimals(balance) == 3
