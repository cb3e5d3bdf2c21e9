"""Receivables invoices (REST ``receivablesInvoices``)."""
from __future__ import annotations

from connector.fusion.rest import FSCM, finder, item, only, rows, search
from connector.fusion.transport import FusionTransport

PATH = f"{FSCM}/receivablesInvoices"
INSTALLMENTS = "receivablesInvoiceInstallments"


class Invoices:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def create(self, payload: dict) -> dict:
        return self._transport.write("POST", PATH, payload)

    def find(self, transaction_source: str, transaction_number: str) -> dict | None:
        """The invoice with this deterministic number; numbers are unique per source only."""
        by_number = finder("invoiceSearch", TransactionSource=transaction_source,
                        TransactionNumber=transaction_number)
        return only(search(self._transport, PATH, by_number))

    def by_reference(self, cross_reference: str) -> list[dict]:
        """Every invoice whose CrossReference is the given Shopify GID (there should be one).

        CrossReference is not q-queryable, only a variable of the ``invoiceSearch`` finder.
        """
        return search(self._transport, PATH, finder("invoiceSearch", CrossReference=cross_reference),
                      limit="25")

    def get(self, customer_transaction_id) -> dict:
        """The invoice with its balance (``InvoiceBalanceAmount``) and its installments as a list.

        Installments carry the ``InstallmentId`` a receipt is applied to and the per-installment
        ``InstallmentBalanceDue``, ``AmountPaid`` and ``InstallmentAmountCredited``.
        """
        invoice = self._transport.read(item(PATH, customer_transaction_id),
                                       {"expand": INSTALLMENTS, "onlyData": "true"})
        return {**invoice, INSTALLMENTS: rows(invoice.get(INSTALLMENTS))}
