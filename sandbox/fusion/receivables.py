"""Moving balances: applying receipts and credit memos to invoice installments, undoing a
receipt application, and putting a receipt's unapplied money on a receivables activity.

The REST ``applyReceipt``/``unapplyReceipt`` actions, SOAP ``StandardReceiptService``
(``createApplyReceipt``, ``createUnapplyReceipt``, ``createActivityApplication``) and SOAP
``createCreditMemo`` all end here, so the invoice's ``InvoiceBalanceAmount``, the installment's
``InstallmentBalanceDue``/``AmountPaid``/``InstallmentAmountCredited``, the receipt's
``UnappliedAmount`` and ``LastUpdateDate`` always move together, whichever protocol asked.
Refusals are raised as protocol-neutral exceptions; each layer renders them (REST 400, SOAP 500).

Application rows are never deleted. Undoing one keeps it, marks it no longer the latest, and adds
an offsetting row of the opposite sign, as Receivables' data model does; the account activity
listing shows both.
"""
from __future__ import annotations

from decimal import Decimal

from .money import rounded
from .rest_common import pod
from .rest_invoices import in_currency, refresh_balance, touch
from .store import today


class OverApplication(ValueError):
    """The amount would take the installment below zero and the transaction type forbids it."""


class ApplicationRefused(ValueError):
    """A receipt application Receivables refuses; ``code`` is the sandbox's AR message code and
    ``on_amount`` says whether the amount (rather than the documents) is at fault."""

    def __init__(self, message: str, code: str, on_amount: bool = False):
        super().__init__(message)
        self.message, self.code, self.on_amount = message, code, on_amount


def allows_overapplication(invoice: dict) -> bool:
    ttype = pod().seed.transaction_types.get(invoice["header"]["TransactionType"], {})
    return bool(ttype.get("allow_overapplication", False))


def apply_to_installment(invoice: dict, installment: dict, amount: Decimal, how: str) -> None:
    """Reduce the installment by ``amount``; ``how`` is ``"receipt"`` or ``"credit"``."""
    amount = in_currency(invoice, amount)
    if amount > installment["InstallmentBalanceDue"] and not allows_overapplication(invoice):
        raise OverApplication(
            f"The amount {amount} exceeds the balance due {installment['InstallmentBalanceDue']} "
            f"of transaction {invoice['header']['TransactionNumber']}, and its transaction type "
            "doesn't allow overapplication.")
    installment["InstallmentBalanceDue"] = in_currency(invoice, installment["InstallmentBalanceDue"] - amount)
    if how == "receipt":
        installment["AmountPaid"] = in_currency(invoice, installment["AmountPaid"] + amount)
    else:
        credited = installment["InstallmentAmountCredited"] + amount
        installment["InstallmentAmountCredited"] = in_currency(invoice, credited)
    refresh_balance(invoice)
    touch(invoice)


def apply_to_invoice(invoice: dict, amount: Decimal, how: str) -> list[tuple[dict, Decimal]]:
    """Spread ``amount`` over the open installments in due order; returns what went where."""
    amount = in_currency(invoice, amount)
    if amount > invoice["header"]["InvoiceBalanceAmount"] and not allows_overapplication(invoice):
        raise OverApplication(
            f"The amount {amount} exceeds the balance {invoice['header']['InvoiceBalanceAmount']} "
            f"of transaction {invoice['header']['TransactionNumber']}, and its transaction type "
            "doesn't allow overapplication.")
    parts = []
    installments = sorted(invoice["installments"], key=lambda i: i["InstallmentSequenceNumber"])
    remaining = amount
    for index, inst in enumerate(installments):
        last = index == len(installments) - 1
        share = remaining if last else min(remaining, inst["InstallmentBalanceDue"])
        if share:
            parts.append((inst, share))
            remaining -= share
    for inst, share in parts:
        inst["InstallmentBalanceDue"] = in_currency(invoice, inst["InstallmentBalanceDue"] - share)
        key = "AmountPaid" if how == "receipt" else "InstallmentAmountCredited"
        inst[key] = in_currency(invoice, inst[key] + share)
    refresh_balance(invoice)
    touch(invoice)
    return parts


def _receipt_changed(receipt: dict, delta: Decimal) -> None:
    """Add ``delta`` to the receipt's unapplied amount, with the status and stamps it implies."""
    receipt["UnappliedAmount"] = rounded(receipt["UnappliedAmount"] + delta, receipt["Currency"])
    receipt["Status"] = "APP" if receipt["UnappliedAmount"] == 0 else "UNAPP"
    receipt["LastUpdateDate"] = pod().store.stamp()
    receipt["version"] += 1


def _check_amount(receipt: dict, amount: Decimal) -> None:
    """A receipt can give away no more than it still has unapplied."""
    if amount <= 0:
        raise ApplicationRefused("The amount applied must be greater than zero.", "AR-855063", True)
    if amount > receipt["UnappliedAmount"]:
        raise ApplicationRefused(
            f"The amount applied {amount} exceeds the unapplied amount {receipt['UnappliedAmount']} "
            f"of receipt {receipt['ReceiptNumber']}.", "AR-855064", True)


def apply_receipt(receipt: dict, invoice: dict, installment: dict, amount: Decimal | None, *,
                  called_from: str | None = None, application_date: str | None = None,
                  accounting_date: str | None = None) -> dict:
    """Apply ``amount`` of the receipt to one installment; returns the application record.

    ``amount`` None applies what both sides allow: the smaller of the installment's balance and
    the receipt's unapplied amount. The caller holds the store lock and has resolved the three
    records (REST by path/schedule id, SOAP by ids or numbers).
    """
    store = pod().store
    header = invoice["header"]
    if header["InvoiceStatus"] != "Complete":
        raise ApplicationRefused("You can only apply receipts to complete transactions.", "AR-855061")
    if header["InvoiceCurrencyCode"] != receipt["Currency"]:
        raise ApplicationRefused("The receipt and the transaction currencies differ.", "AR-855062")
    amount = in_currency(invoice, amount if amount is not None
                         else min(installment["InstallmentBalanceDue"], receipt["UnappliedAmount"]))
    _check_amount(receipt, amount)
    try:
        apply_to_installment(invoice, installment, amount, "receipt")
    except OverApplication as exc:
        raise ApplicationRefused(str(exc), "AR-855065", True) from None
    _receipt_changed(receipt, -amount)
    application_date = application_date or today().isoformat()
    application = {
        "ApplicationId": store.new_id(), "kind": "receipt", "ApplicationAmount": amount,
        "ApplicationDate": application_date, "AccountingDate": accounting_date or application_date,
        "ApplicationStatus": "APP", "StandardReceiptId": receipt["StandardReceiptId"],
        "ReceiptNumber": receipt["ReceiptNumber"], "ReferenceInstallmentId": installment["InstallmentId"],
        "ReferenceTransactionId": header["CustomerTransactionId"],
        "ReferenceTransactionNumber": header["TransactionNumber"],
        "account_id": invoice["account_id"], "CalledFrom": called_from, "IsLatestApplication": "Y"}
    store.applications.append(application)
    return application


# the special "payment schedule" a receipt write-off is applied to (EBS/Fusion convention)
RECEIPT_WRITE_OFF = -3
WRITE_OFF_TYPE = "Receipt Write-off"


def receipt_application(receipt: dict, application_id) -> dict:
    """The receipt's application ``application_id`` that can still be undone."""
    app = next((a for a in pod().store.applications if a["kind"] == "receipt"
                and str(a["ApplicationId"]) == str(application_id)
                and a["StandardReceiptId"] == receipt["StandardReceiptId"]), None)
    if app is None:
        raise ApplicationRefused(f"The receivable application {application_id} isn't an "
                                 f"application of receipt {receipt['ReceiptNumber']}.", "AR-855066")
    if app["ApplicationStatus"] != "APP":
        raise ApplicationRefused(f"The receivable application {application_id} is an activity "
                                 "application; unapply it as an activity.", "AR-855067")
    if app["IsLatestApplication"] != "Y" or app["ApplicationAmount"] <= 0:
        raise ApplicationRefused(f"The receivable application {application_id} was already "
                                 "reversed.", "AR-855068")
    return app


def unapply_receipt(receipt: dict, application: dict, *, reversal_gl_date: str | None = None,
                    called_from: str | None = None) -> dict:
    """Undo the whole application (Receivables has no partial unapply): its amount goes back to
    the installment's balance and the receipt's unapplied amount. Returns the offsetting row."""
    store = pod().store
    found = store.installment(application["ReferenceInstallmentId"])
    if found is None:
        raise ApplicationRefused("The applied installment no longer exists.", "AR-855060")
    invoice, installment = found
    amount = application["ApplicationAmount"]
    installment["InstallmentBalanceDue"] = in_currency(invoice, installment["InstallmentBalanceDue"] + amount)
    installment["AmountPaid"] = in_currency(invoice, installment["AmountPaid"] - amount)
    refresh_balance(invoice)
    touch(invoice)
    _receipt_changed(receipt, amount)
    application["IsLatestApplication"] = "N"
    day = reversal_gl_date or today().isoformat()
    reversal = {**application, "ApplicationId": store.new_id(), "ApplicationAmount": -amount,
                "ApplicationDate": day, "AccountingDate": day, "CalledFrom": called_from,
                "_reverses": application["ApplicationId"]}
    store.applications.append(reversal)
    return reversal


def apply_activity(receipt: dict, activity: dict, amount: Decimal, *, apply_date: str | None = None,
                   gl_date: str | None = None, comments: str | None = None,
                   customer_reference: str | None = None) -> dict:
    """Move ``amount`` of the receipt's unapplied money onto a receivables activity (its GL
    account takes it); returns the activity application row."""
    store = pod().store
    amount = rounded(amount, receipt["Currency"])
    _check_amount(receipt, amount)
    _receipt_changed(receipt, -amount)
    apply_date = apply_date or today().isoformat()
    row = {"ApplicationId": store.new_id(), "kind": "receipt", "ApplicationAmount": amount,
           "ApplicationDate": apply_date, "AccountingDate": gl_date or apply_date,
           "ApplicationStatus": "ACTIVITY", "ActivityName": activity["name"],
           "StandardReceiptId": receipt["StandardReceiptId"], "ReceiptNumber": receipt["ReceiptNumber"],
           "ReferenceInstallmentId": RECEIPT_WRITE_OFF, "ReferenceTransactionId": None,
           "ReferenceTransactionNumber": None, "account_id": receipt.get("account_id"),
           "CalledFrom": None, "IsLatestApplication": "Y", "_comments": comments,
           "_customer_reference": customer_reference, "_gl_account": activity["gl_account"]}
    store.applications.append(row)
    return row
