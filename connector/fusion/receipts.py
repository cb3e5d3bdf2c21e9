"""Standard receipts (REST ``standardReceipts``) and applying them to invoices, undoing an
application and writing unapplied money off.

A receipt is created unapplied; applying moves money from its ``UnappliedAmount`` onto one
invoice installment. REST does that with the ``applyReceipt`` action (documented from 26C);
``apply_by_soap`` is ``StandardReceiptService.createApplyReceipt`` for pods without it. Neither
application has a key of its own, so after an uncertain apply read the receipt's
``UnappliedAmount`` and the installment's balance before applying again.

Fusion won't credit a fully paid invoice of a natural-application type, so refunding a paid
order takes the application back first (``unapply``: the REST action from 26D,
``unapply_by_soap`` on any release), credits the invoice, applies the rest again, and moves the
refunded amount off the receipt with ``write_off`` (SOAP only: REST has no activity
application). An application is undone whole; ``applications`` gives the id to undo. After an
uncertain unapply or write-off, read ``applications`` and the receipt's ``UnappliedAmount``
before trying again: neither call has a key that a retry could be checked against.
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
ACCOUNT_ACTIVITIES = f"{FSCM}/receivablesCustomerAccountActivities"
CALLED_FROM = "ML_CONNECTOR"
RECEIPT_WRITE_OFF = -3  # the special schedule id that makes an activity application a write-off


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


@dataclass(frozen=True)
class WriteOff:
    """``createActivityApplication``: unapplied receipt money onto a Receipt Write-off activity,
    whose GL account (refund clearing, or a store-credit liability) takes it. The activity is
    named per business unit, and the receipt by number, which is why numbers must stay unique
    in a business unit."""

    business_unit: str
    receipt_number: str
    activity_name: str
    amount: Decimal
    apply_date: str                     # YYYY-MM-DD, also the GL date unless gl_date is given
    comments: str | None = None
    customer_reference: str | None = None   # e.g. the Shopify refund GID
    gl_date: str | None = None

    def __post_init__(self):
        money("amount", self.amount)
        if not self.amount:
            raise ValueError("a write-off must move something")


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

    def applications(self, account_id, receipt_id, invoice_id=None) -> list[dict]:
        """The receipt's applications still in force (to the invoice, when given; else activity
        write-offs too); ``ApplicationId`` and ``ReferenceInstallmentId`` are what ``unapply``
        needs. Fusion has no other way to find an application's id. The ``q`` is a framework-v2+
        expression."""
        terms = [f"StandardReceiptId={int(receipt_id)}", "IsLatestApplication='Y'"]
        if invoice_id is not None:
            terms.insert(1, f"ReferenceTransactionId={int(invoice_id)}")
        path = f"{item(ACCOUNT_ACTIVITIES, account_id)}/child/standardReceiptApplications"
        return self._transport.read(path, {"q": " and ".join(terms), "onlyData": "true",
                                           "limit": "100"})["items"]

    def unapply(self, standard_receipt_id, application_id, installment_id) -> dict:
        """REST ``unapplyReceipt`` (26D+; an older pod answers 404, use ``unapply_by_soap``).
        The answer's ``result`` text is undocumented: don't parse it."""
        return self._transport.action(f"{item(PATH, standard_receipt_id)}/action/unapplyReceipt",
                                      {"receivableApplicationId": int(application_id),
                                       "appliedPaymentScheduleId": int(installment_id),
                                       "calledFrom": CALLED_FROM})

    def unapply_by_soap(self, business_unit: str, receipt_number: str, application_id,
                        reversal_gl_date: str) -> dict:
        """``createUnapplyReceipt``; ``reversal_gl_date`` (YYYY-MM-DD) must be in an open
        Receivables period. The echo names the transaction and installment Fusion resolved."""
        # in the SDO's element order
        fields = soap.fields(SERVICE, BusinessUnit=business_unit, ReceiptNumber=receipt_number,
                             ReceivableApplicationId=application_id, ReversalGlDate=reversal_gl_date)
        envelope = soap.request(SERVICE, "createUnapplyReceipt", unapplyReceipt=fields)
        return self._transport.soap(SERVICE, envelope, "createUnapplyReceipt", write=True)

    def write_off(self, write_off: WriteOff) -> dict:
        """The activity application as Fusion echoes it (``ReceivablesTrxId`` resolved,
        ``AmountApplied`` as a Decimal). Do it last: reversing one is not reliably possible
        through the web services."""
        w = write_off
        # in the SDO's element order
        fields = soap.fields(SERVICE, BusinessUnit=w.business_unit, ReceiptNumber=w.receipt_number,
                             ReceivableTrxName=w.activity_name, AmountApplied=w.amount,
                             ApplyDate=w.apply_date, ApplyGlDate=w.gl_date or w.apply_date,
                             AppliedPaymentScheduleId=RECEIPT_WRITE_OFF, Comments=w.comments,
                             CustomerReference=w.customer_reference)
        envelope = soap.request(SERVICE, "createActivityApplication", activityApplication=fields)
        value = self._transport.soap(SERVICE, envelope, "createActivityApplication", write=True)
        return soap.decimals(value, "AmountApplied")


def apply_envelope(a: SoapApplication) -> str:
    # the WSDL's names (one "l" in Instalment) in the SDO's element order
    fields = soap.fields(SERVICE, AmountApplied=a.amount, ReceiptId=a.receipt_id, Comments=a.comments,
                         CustomerTrxId=a.transaction_id, ApplicationDate=a.application_date,
                         AccountingDate=a.accounting_date, InstalmentId=a.installment_id,
                         CustomerReference=a.customer_reference)
    return soap.request(SERVICE, "createApplyReceipt", applyReceipt=fields)
