"""Receipts against the sandbox: create, find by number, apply by REST action and by SOAP, and
the refund of a paid invoice (unapply, credit, apply the rest, write off), to the cent."""
from __future__ import annotations

from decimal import Decimal

import pytest

from connector.fusion.credit_memos import InvoiceCredit, memo_number
from connector.fusion.errors import FusionRejected
from connector.fusion.receipts import Application, NewReceipt, SoapApplication, WriteOff
from tests.connector.fusion.fusion_pods import client_for

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


# --- refunding a paid invoice ------------------------------------------------------------------------
REFUND = "gid://shopify/Refund/998877"


@pytest.fixture
def paid(client, pod, customer) -> dict:
    return _paid(client, pod, customer)


def _paid(client, pod, customer) -> dict:
    """A 100.00 invoice fully paid by a 100.00 receipt."""
    body = pod.invoice_body(customer, receivablesInvoiceLines=[
        {"LineNumber": 1, "Description": "Jacket", "Quantity": 1, "UnitSellingPrice": Decimal("100.00"),
         "MemoLine": "Merchandise"}])
    invoice = client.invoices.get(client.invoices.create(body)["CustomerTransactionId"])
    receipt = client.receipts.create(_receipt(customer, "100.00"))
    client.receipts.apply(receipt["StandardReceiptId"], Application(_installment_id(invoice)))
    return {"invoice": invoice, "receipt": receipt, "account_id": customer["CustomerAccountId"]}


def _balances(client, paid) -> tuple[Decimal, Decimal]:
    """(the invoice's InvoiceBalanceAmount, the receipt's UnappliedAmount)."""
    return (client.invoices.get(paid["invoice"]["CustomerTransactionId"])["InvoiceBalanceAmount"],
            client.receipts.get(paid["receipt"]["StandardReceiptId"])["UnappliedAmount"])


def _application(client, paid) -> dict:
    [application] = client.receipts.applications(paid["account_id"], paid["receipt"]["StandardReceiptId"],
                                                 paid["invoice"]["CustomerTransactionId"])
    return application


def _refund_after_unapply(client, paid) -> None:
    """Credit 30.00, apply the other 70.00 again, write 30.00 off: the steps after the unapply."""
    invoice = paid["invoice"]
    client.credit_memos.create(InvoiceCredit(
        invoice_id=invoice["CustomerTransactionId"], transaction_number=memo_number(invoice["TransactionNumber"], 1),
        currency="USD", line=Decimal("30.00"), customer_reference=REFUND, transaction_date="2025-03-20"))
    client.receipts.apply(paid["receipt"]["StandardReceiptId"],
                          Application(_installment_id(invoice), Decimal("70.00")))
    written = client.receipts.write_off(_write_off(Decimal("30.00")))
    assert written["AmountApplied"] == Decimal("30.00")
    assert written["ReceivableTrxName"] == "Shopify Refund Clearing"


def _write_off(amount: Decimal, activity: str = "Shopify Refund Clearing") -> WriteOff:
    return WriteOff(business_unit=BU, receipt_number="PAY-1001", activity_name=activity, amount=amount,
                    apply_date="2025-03-20", comments="Shopify refund for order #1001",
                    customer_reference=REFUND)


def _assert_refunded(client, paid) -> None:
    assert _balances(client, paid) == (Decimal("0.00"), Decimal("0.00"))
    rows = client.receipts.applications(paid["account_id"], paid["receipt"]["StandardReceiptId"])
    assert sorted((r["ApplicationStatus"], r["ApplicationAmount"], r["ActivityName"]) for r in rows) == [
        ("ACTIVITY", Decimal("30.00"), "Shopify Refund Clearing"), ("APP", Decimal("70.00"), None)]


def test_given_a_paid_invoice_when_refunded_with_the_rest_unapply_then_all_is_settled(client, paid):
    # given the receipt's one application to the invoice
    application = _application(client, paid)
    assert application["ApplicationAmount"] == Decimal("100.00")
    # when it is unapplied, then the invoice is open and the receipt unapplied by all of it
    client.receipts.unapply(paid["receipt"]["StandardReceiptId"], application["ApplicationId"],
                            application["ReferenceInstallmentId"])
    assert _balances(client, paid) == (Decimal("100.00"), Decimal("100.00"))
    # when 30.00 is credited, 70.00 applied again and 30.00 written off, then nothing is open
    _refund_after_unapply(client, paid)
    _assert_refunded(client, paid)


def test_given_a_pod_before_26d_when_refunded_with_the_soap_unapply_then_all_is_settled(pods):
    pod = pods.start(rest_unapply_receipt=False)
    client = client_for(pod)
    paid_ = _paid(client, pod, pod.create_customer())
    application = _application(client, paid_)
    with pytest.raises(FusionRejected) as no_action:
        client.receipts.unapply(paid_["receipt"]["StandardReceiptId"], application["ApplicationId"],
                                application["ReferenceInstallmentId"])
    assert no_action.value.status == 404
    echo = client.receipts.unapply_by_soap(BU, "PAY-1001", application["ApplicationId"], "2025-03-20")
    assert echo["TrxNumber"] == paid_["invoice"]["TransactionNumber"]
    assert _balances(client, paid_) == (Decimal("100.00"), Decimal("100.00"))
    _refund_after_unapply(client, paid_)
    _assert_refunded(client, paid_)


def test_given_a_write_off_beyond_the_unapplied_amount_then_rejected_and_nothing_moves(client, paid):
    application = _application(client, paid)
    client.receipts.unapply(paid["receipt"]["StandardReceiptId"], application["ApplicationId"],
                            application["ReferenceInstallmentId"])
    with pytest.raises(FusionRejected) as too_much:
        client.receipts.write_off(_write_off(Decimal("100.01")))
    with pytest.raises(FusionRejected, match="Shopify Refunds"):
        client.receipts.write_off(_write_off(Decimal("1.00"), "Shopify Refunds"))
    assert too_much.value.code == "AR-855064"
    assert _balances(client, paid) == (Decimal("100.00"), Decimal("100.00"))


def test_given_an_application_when_unapplied_twice_then_the_second_is_rejected(client, paid):
    application = _application(client, paid)
    args = (paid["receipt"]["StandardReceiptId"], application["ApplicationId"],
            application["ReferenceInstallmentId"])
    client.receipts.unapply(*args)
    with pytest.raises(FusionRejected):
        client.receipts.unapply(*args)
    assert client.receipts.applications(paid["account_id"], paid["receipt"]["StandardReceiptId"],
                                        paid["invoice"]["CustomerTransactionId"]) == []
    assert _balances(client, paid) == (Decimal("100.00"), Decimal("100.00"))


def test_given_bad_amounts_when_a_write_off_is_built_then_refused():
    with pytest.raises(TypeError, match="Decimal"):
        _write_off(30.0)
    with pytest.raises(ValueError, match="move something"):
        _write_off(Decimal("0.00"))
