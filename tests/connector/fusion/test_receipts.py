"""Receipts against the sandbox: create, find by number, apply by REST action and by SOAP."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connector.fusion.errors import FusionRejected
from connector.fusion.receipts import Application, NewReceipt, SoapApplication

BU = "US1 Business Unit"


@pytest.fixture
def invoice(client, pod, customer) -> dict:
    """39.00, one installment."""
    return client.invoices.get(client.invoices.create(pod.invoice_body(customer))["CustomerTransactionId"])


def _receipt(customer: dict, amount: str = "50.00", number: str = "PAY-1001") -> NewReceipt:
    return NewReceipt(receipt_number=number, business_unit=BU, receipt_method="Shopify Payments",
                      amount=Decimal(amount), currency="USD", receipt_date="2025-03-14",
                      customer_account_number=customer["AccountNumber"])


def _installment_id(invoice: dict) -> int:
    return invoice["receivablesInvoiceInstallments"][0]["InstallmentId"]


def test_given_a_new_receipt_when_found_by_number_then_wholly_unapplied(client, customer):
    created = client.receipts.create(_receipt(customer))
    found = client.receipts.find(BU, "PAY-1001")
    assert found["StandardReceiptId"] == created["StandardReceiptId"]
    assert (found["Amount"], found["UnappliedAmount"]) == (Decimal("50.00"), Decimal("50.00"))
    assert client.receipts.find(BU, "PAY-404") is None


def test_given_a_receipt_when_applied_by_action_then_invoice_and_receipt_move_together(client, customer, invoice):
    receipt = client.receipts.create(_receipt(customer))
    answer = client.receipts.apply(receipt["StandardReceiptId"],
                                   Application(_installment_id(invoice), Decimal("25.10")))
    assert "result" in answer
    after = client.invoices.get(invoice["CustomerTransactionId"])
    assert after["InvoiceBalanceAmount"] == Decimal("13.90")
    assert after["receivablesInvoiceInstallments"][0]["AmountPaid"] == Decimal("25.10")
    assert client.receipts.get(receipt["StandardReceiptId"])["UnappliedAmount"] == Decimal("24.90")


def test_given_no_amount_when_applied_by_action_then_the_open_balance_is_paid(client, customer, invoice):
    receipt = client.receipts.create(_receipt(customer, "100.00"))
    client.receipts.apply(receipt["StandardReceiptId"], Application(_installment_id(invoice)))
    assert client.invoices.get(invoice["CustomerTransactionId"])["InvoiceBalanceAmount"] == Decimal("0.00")
    assert client.receipts.get(receipt["StandardReceiptId"])["UnappliedAmount"] == Decimal("61.00")


def test_given_a_receipt_when_applied_by_soap_then_the_echo_and_balances_to_the_cent(client, customer, invoice):
    receipt = client.receipts.create(_receipt(customer))
    applied = client.receipts.apply_by_soap(SoapApplication(
        receipt_id=receipt["StandardReceiptId"], transaction_id=invoice["CustomerTransactionId"],
        amount=Decimal("39.00"), application_date="2025-03-14", accounting_date="2025-03-15",
        comments="Shopify order #1001 payment"))
    assert applied["AmountApplied"] == Decimal("39.00")
    assert applied["ReceiptNumber"] == "PAY-1001"
    assert applied["TransactionNumber"] == invoice["TransactionNumber"]
    assert applied["InstalmentId"] == str(_installment_id(invoice))
    assert client.invoices.get(invoice["CustomerTransactionId"])["InvoiceBalanceAmount"] == Decimal("0.00")
    assert client.receipts.get(receipt["StandardReceiptId"])["UnappliedAmount"] == Decimal("11.00")


def test_given_more_than_the_balance_when_applied_then_rejected_and_nothing_moves(client, customer, invoice):
    receipt = client.receipts.create(_receipt(customer))
    too_much = Decimal("39.01")
    with pytest.raises(FusionRejected) as by_rest:
        client.receipts.apply(receipt["StandardReceiptId"], Application(_installment_id(invoice), too_much))
    with pytest.raises(FusionRejected) as by_soap:
        client.receipts.apply_by_soap(SoapApplication(
            receipt["StandardReceiptId"], invoice["CustomerTransactionId"], too_much, "2025-03-14"))
    assert by_rest.value.status == 400 and by_soap.value.code == "AR-855065"
    assert client.invoices.get(invoice["CustomerTransactionId"])["InvoiceBalanceAmount"] == Decimal("39.00")


def test_given_a_float_when_a_receipt_is_built_then_refused():
    with pytest.raises(TypeError, match="Decimal"):
        NewReceipt("PAY-1", BU, "Shopify Payments", 50.0, "USD", "2025-03-14")
    with pytest.raises(TypeError, match="Decimal"):
        Application(1, 25.1)
