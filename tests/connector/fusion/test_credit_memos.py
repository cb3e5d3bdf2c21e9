"""Credit memos against their invoice (SOAP) and their lookups (REST), to the cent."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connector.fusion import soap
from connector.fusion.credit_memos import InvoiceCredit, memo_number
from connector.fusion.errors import FusionRejected, FusionUncertain
from tests.connector.fusion.fusion_pods import inject, taxed_invoice_body

REFUND = "gid://shopify/Refund/998877"


@pytest.fixture
def invoice(client, pod, customer) -> dict:
    """47.22: lines 39.00, tax 3.22, freight 5.00."""
    return client.invoices.create(taxed_invoice_body(pod, customer))


def _credit(invoice: dict, sequence: int = 1, **amounts) -> InvoiceCredit:
    return InvoiceCredit(invoice_id=invoice["CustomerTransactionId"], currency="USD",
                         transaction_number=memo_number(invoice["TransactionNumber"], sequence),
                         customer_reference=REFUND, transaction_date="2025-03-20",
                         reason_code="RETURN", comments="Shopify refund", **amounts)


def test_given_an_invoice_when_partly_credited_then_its_balance_drops_by_each_bucket(client, invoice):
    # when one shirt, its tax and the freight are credited
    memo = client.credit_memos.create(_credit(invoice, line=Decimal("19.50"), tax=Decimal("1.61"),
                                              freight=Decimal("5.00")))
    # then Fusion echoes them as credits and the invoice is open for the rest
    assert memo["TransactionNumber"] == f"{invoice['TransactionNumber']}-C1"
    assert (memo["LineAmount"], memo["TaxAmount"], memo["FreightAmount"]) == (
        Decimal("-19.50"), Decimal("-1.61"), Decimal("-5.00"))
    assert memo["CustomerReference"] == REFUND
    after = client.invoices.get(invoice["CustomerTransactionId"])
    assert after["InvoiceBalanceAmount"] == Decimal("21.11")
    assert after["receivablesInvoiceInstallments"][0]["InstallmentAmountCredited"] == Decimal("26.11")


def test_given_a_memo_when_found_by_number_then_it_is_the_applied_memo(client, invoice):
    created = client.credit_memos.create(_credit(invoice, line=Decimal("39.00")))
    found = client.credit_memos.find("SHOPIFY", created["TransactionNumber"])
    assert str(found["CustomerTransactionId"]) == created["CustomerTransactionId"]
    assert found["EnteredAmount"] == Decimal("-39.00")
    assert found["TransactionBalanceDue"] == Decimal("0.00")
    assert client.credit_memos.get(found["CustomerTransactionId"])["CustomerReference"] == REFUND
    assert client.credit_memos.find("SHOPIFY", "NOPE-C9") is None


def test_given_a_lost_answer_when_credited_then_uncertain_and_the_number_finds_the_one_memo(client, pod, invoice):
    inject(pod, kind="lost_response", count=1, path_prefix=soap.CREDIT_MEMO.path)
    credit = _credit(invoice, line=Decimal("10.00"))
    with pytest.raises(FusionUncertain):
        client.credit_memos.create(credit)
    found = client.credit_memos.find("SHOPIFY", credit.transaction_number)
    assert found["EnteredAmount"] == Decimal("-10.00")
    # and a second try with the same number is refused rather than crediting twice
    with pytest.raises(FusionRejected, match="already exists"):
        client.credit_memos.create(credit)
    assert client.invoices.get(invoice["CustomerTransactionId"])["InvoiceBalanceAmount"] == Decimal("37.22")


def test_given_more_than_a_bucket_holds_when_credited_then_rejected_with_the_overapply_code(client, invoice):
    with pytest.raises(FusionRejected) as refused:
        client.credit_memos.create(_credit(invoice, tax=Decimal("3.23")))
    assert refused.value.code == "AR:::AR_CM_OVERAPPLY"


def test_given_an_on_account_memo_with_a_cross_reference_when_looked_up_then_found(client, pod, customer):
    body = {"BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY",
            "TransactionType": "Shopify Credit Memo", "TransactionNumber": "SHOP-7-C1",
            "CreditMemoCurrency": "USD", "BillToCustomerNumber": customer["AccountNumber"],
            "CrossReference": REFUND, "receivablesCreditMemoLines": [
                {"LineNumber": 1, "LineAmountCredit": Decimal("-12.34"), "MemoLine": "Merchandise"}]}
    assert pod.rest("POST", "/fscmRestApi/resources/11.13.18.05/receivablesCreditMemos", json=body).ok
    [found] = client.credit_memos.by_reference(REFUND)
    assert found["TransactionNumber"] == "SHOP-7-C1" and found["EnteredAmount"] == Decimal("-12.34")


def test_given_bad_amounts_when_a_credit_is_built_then_refused_before_sending():
    with pytest.raises(TypeError, match="Decimal"):
        InvoiceCredit(invoice_id=1, transaction_number="A-1-C1", currency="USD", line=19.5)
    with pytest.raises(ValueError, match="negative"):
        InvoiceCredit(invoice_id=1, transaction_number="A-1-C1", currency="USD", line=Decimal("-1"))
    with pytest.raises(ValueError, match="credit something"):
        InvoiceCredit(invoice_id=1, transaction_number="A-1-C1", currency="USD")


def test_given_a_long_invoice_number_when_a_memo_is_numbered_then_refused():
    assert memo_number("ABCDEFGH-1001", 2) == "ABCDEFGH-1001-C2"
    with pytest.raises(ValueError, match="20"):
        memo_number("ABCDEFGH-12345678", 10)
