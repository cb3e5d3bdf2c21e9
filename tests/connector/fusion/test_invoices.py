"""Invoices against the sandbox: create, the three lookups, and the balance read back."""
from __future__ import annotations

from decimal import Decimal

import pytest

GID = "gid://shopify/Order/5551234567"


def test_given_a_new_invoice_when_read_back_then_balance_and_installment_to_the_cent(client, pod, customer):
    created = client.invoices.create(pod.invoice_body(customer))
    invoice = client.invoices.get(created["CustomerTransactionId"])
    assert invoice["InvoiceBalanceAmount"] == Decimal("39.00")
    [installment] = invoice["receivablesInvoiceInstallments"]
    assert installment["InstallmentBalanceDue"] == Decimal("39.00")
    assert installment["AmountPaid"] == Decimal("0.00")
    assert isinstance(installment["InstallmentId"], int)


def test_given_an_invoice_when_found_by_source_and_number_then_that_invoice(client, pod, customer):
    created = client.invoices.create(pod.invoice_body(customer, TransactionNumber="SHOP-42"))
    found = client.invoices.find("SHOPIFY", "SHOP-42")
    assert found["CustomerTransactionId"] == created["CustomerTransactionId"]
    assert client.invoices.find("SHOPIFY", "SHOP-43") is None


def test_given_an_invoice_with_a_cross_reference_when_looked_up_by_it_then_found(client, pod, customer):
    client.invoices.create(pod.invoice_body(customer, CrossReference=GID))
    [found] = client.invoices.by_reference(GID)
    assert found["CrossReference"] == GID and found["EnteredAmount"] == Decimal("39.00")
    assert client.invoices.by_reference("gid://shopify/Order/1") == []


def test_given_a_separator_in_a_key_when_looked_up_then_refused_before_sending(client):
    with pytest.raises(ValueError, match="separator"):
        client.invoices.find("SHOPIFY", "SHOP-1,TransactionSource=OTHER")
