"""Standard receipts (REST ``standardReceipts``) and applying them to invoices.

A receipt is created unapplied; applying moves money from its ``UnappliedAmount`` onto one
invoice installment. REST does that with the ``applyReceipt`` action (documented from 26C);
``apply_by_soap`` is ``StandardReceiptService.createApplyReceipt`` for pods without it. Neither
application has a key of its own, so after an uncertain apply read the receipt's
``UnappliedAmount`` and the installment's balance before applying again.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector.fusion import soap
from connector.fusion.payloads import compact, money
from connector.fusion.rest import FSCM, finder, item, only, search
from connector.fusion.soap import STANDARD_RECEIPT as SERVICE
from connector.fusion.transport import FusionTransport

PATH = f"{FSCM}/standardReceipts"
CALLED_FROM = "ML_CONNECTOR"


@dataclass(frozen=True)
class NewReceipt:
    receipt_number: str                 # deterministic, unique in the business unit
    business_unit: str
    receipt_method: str
    amount: Decimal
    currency: str
    receipt_date: str                   # YYYY-MM-DD
    customer_account_number: str | None = None
    accounting_date: str | None = None
    conversion_rate_type: str | None = None  # needed when the currency is not the ledger's
    comments: str | None = None

    def __post_init__(self):
        money("amount", self.amount)

    def payload(self) -> dict:
        return compact({"ReceiptNumber": self.receipt_number, "BusinessUnit": self.business_unit,
                        "ReceiptMethod": self.receipt_method, "Amount": self.amount,
                        "Currency": self.currency, "ReceiptDate": self.receipt_date,
                        "CustomerAccountNumber": self.customer_account_number,
                        "AccountingDate": self.accounting_date,
                        "ConversionRateType": self.conversion_rate_type, "Comments": self.comments})


@dataclass(frozen=True)
class Application:
    """REST ``applyReceipt``: the installment to pay and how much (None: its open balance, as
    far as the receipt's unapplied amount reaches)."""

    installment_id: int                 # the invoice installment's InstallmentId
    amount: Decimal | None = None
    called_from: str = CALLED_FROM

    def __post_init__(self):
        money("amount", self.amount, optional=True)

    def payload(self) -> dict:
        return compact({"appliedPaymentScheduleId": self.installment_id,
                        "amountApplied": self.amount, "calledFrom": self.called_from})


@dataclass(frozen=True)
class SoapApplication:
    """``createApplyReceipt`` by ids: receipt and transaction numbers need not be unique, and
    the operation carries no business unit to tell them apart."""

    receipt_id: int | str               # StandardReceiptId
    transaction_id: int | str           # the invoice's CustomerTransactionId
    amount: Decimal
    application_date: str               # YYYY-MM-DD
    accounting_date: str | None = None
    installment_id: int | str | None = None  # needed when the invoice has several installments
    comments: str | None = None
    customer_reference: str | None = None

    def __post_init__(self):
        money("amount", self.amount)


class Receipts:
    def __init__(self, transport: FusionTransport):
        self._transport = transport

    def create(self, receipt: NewReceipt) -> dict:
        return self._transport.write("POST", PATH, receipt.payload())

    def get(self, standard_receipt_id) -> dict:
        return self._transport.read(item(PATH, standard_receipt_id), {"onlyData": "true"})

    def find(self, business_unit: str, receipt_number: str) -> dict | None:
        """The receipt with this number; numbers are unique within a business unit only."""
        by_number = finder("StandardReceiptsFinder", BusinessUnit=business_unit, ReceiptNumber=receipt_number)
        return only(search(self._transport, PATH, by_number))

    def apply(self, standard_receipt_id, application: Application) -> dict:
        """Fusion answers ``{"result": …}``, whose text is not documented: don't parse it."""
        return self._transport.action(f"{item(PATH, standard_receipt_id)}/action/applyReceipt",
                                      application.payload())

    def apply_by_soap(self, application: SoapApplication) -> dict:
        """The application as Fusion echoes it, with what it resolved (``ReceiptNumber``,
        ``TransactionNumber``, ``InstalmentId``) and ``AmountApplied`` as a Decimal."""
        value = self._transport.soap(SERVICE, apply_envelope(application), "createApplyReceipt",
                                     write=True)
        return soap.decimals(value, "AmountApplied", "ReceiptAmount")


def apply_envelope(a: SoapApplication) -> str:
    # the WSDL's names (one "l" in Instalment) in the SDO's element order
    fields = soap.fields(SERVICE, AmountApplied=a.amount, ReceiptId=a.receipt_id, Comments=a.comments,
                         CustomerTrxId=a.transaction_id, ApplicationDate=a.application_date,
                         AccountingDate=a.accounting_date, InstalmentId=a.installment_id,
                         CustomerReference=a.customer_reference)
    return soap.request(SERVICE, "createApplyReceipt", applyReceipt=fields)
