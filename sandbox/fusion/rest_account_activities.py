"""``receivablesCustomerAccountActivities`` (read-only): an account's open receivables and the
payment schedules, receipts, applications and credit memos behind them.

There is no REST resource for AR customer accounts themselves; this is the read side a
reconciler uses to check that Fusion's open balance matches Shopify's. Its
``standardReceiptApplications`` child is also the only way to learn an application's id, which
unapplying needs, so that child takes ``q`` and its finders (the other children don't).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Blueprint

from .errors import not_found
from .query import DATETIME, NUM, STR
from .rest_common import (
    ResourceSpec, change_indicator, check_version, child_page, collection_response, describe,
    filter_sort, framework_version, get_or_404, item_response, pod, shape_item,
)
from .store import format_stamp, today

bp = Blueprint("fusion_account_activities", __name__)
PREFIX = "/fscmRestApi/resources/<version>/receivablesCustomerAccountActivities"
ATTRS = ["AccountId", "AccountNumber", "CustomerName", "CustomerId", "TaxRegistrationNumber",
         "TaxpayerIdentificationNumber", "TotalOpenReceivablesForAccount",
         "TotalTransactionsDueForAccount", "CreatedBy", "CreationDate", "LastUpdatedBy",
         "LastUpdateDate"]
_KINDS = {"AccountId": NUM, "CustomerId": NUM, "TotalOpenReceivablesForAccount": NUM,
          "TotalTransactionsDueForAccount": NUM, "CreationDate": DATETIME, "LastUpdateDate": DATETIME}
RECEIPT_ATTRS = ("StandardReceiptId", "ReceiptNumber", "ReceiptDate", "Amount", "UnappliedAmount",
                 "Currency", "ReceiptMethod", "Status")
CHILDREN = ["transactionPaymentSchedules", "standardReceipts", "standardReceiptApplications",
            "creditMemos", "creditMemoApplications", "transactionAdjustments",
            "transactionsPaidByOtherCustomers"]
SPEC = ResourceSpec(
    name="receivablesCustomerAccountActivities", api="fscmRestApi", key="AccountId",
    attributes={a: _KINDS.get(a, STR) for a in ATTRS},
    queryable={"AccountId", "AccountNumber", "CustomerName", "CustomerId", "TaxRegistrationNumber",
               "TaxpayerIdentificationNumber"},
    finders={"PrimaryKey": {"AccountId": "AccountId"}},
    children=CHILDREN,
)


def _children(account: dict) -> dict[str, list[dict]]:
    store, seed = pod().store, pod().seed
    account_id = account["CustomerAccountId"]
    invoices = [i for i in store.invoices.values() if i["account_id"] == account_id]
    schedules = [{
        "InstallmentId": inst["InstallmentId"], "TransactionNumber": inv["header"]["TransactionNumber"],
        "CustomerTransactionId": inv["header"]["CustomerTransactionId"],
        "TransactionType": inv["header"]["TransactionType"],
        "TransactionClass": seed.transaction_types[inv["header"]["TransactionType"]]["class"],
        "TransactionDate": inv["header"]["TransactionDate"], "DueDate": inst["InstallmentDueDate"],
        "OriginalAmount": inst["OriginalAmount"], "InstallmentBalanceDue": inst["InstallmentBalanceDue"],
        "AmountPaid": inst["AmountPaid"], "AmountCredited": inst["InstallmentAmountCredited"],
        "Status": inst["InstallmentStatus"], "Currency": inv["header"]["InvoiceCurrencyCode"],
    } for inv in invoices for inst in inv["installments"]]
    receipts = [{k: r[k] for k in RECEIPT_ATTRS}
                for r in store.receipts.values() if r.get("account_id") == account_id]
    apps = [a for a in store.applications if a["account_id"] == account_id]
    memos = [{"CustomerTransactionId": m["header"]["CustomerTransactionId"],
              "TransactionNumber": m["header"]["TransactionNumber"],
              "TransactionDate": m["header"]["TransactionDate"],
              "EnteredAmount": m["header"]["EnteredAmount"],
              "TransactionBalanceDue": m["header"]["TransactionBalanceDue"],
              "ReferenceTransactionId": m["previous_trx_id"]}
             for m in store.credit_memos.values() if m["account_id"] == account_id]
    return {"transactionPaymentSchedules": schedules, "standardReceipts": receipts,
            "standardReceiptApplications": [_receipt_application(a) for a in apps if a["kind"] == "receipt"],
            "creditMemos": memos,
            "creditMemoApplications": [_public(a) for a in apps if a["kind"] == "credit_memo"],
            "transactionAdjustments": [], "transactionsPaidByOtherCustomers": []}


def _public(application: dict) -> dict:
    return {k: v for k, v in application.items()
            if k not in ("account_id", "kind") and not k.startswith("_")}


def _receipt_application(application: dict) -> dict:
    """A row as the listing shows it, with the receipt's and the transaction's current state."""
    store = pod().store
    receipt = store.receipts.get(application["StandardReceiptId"], {})
    trx = store.transaction(application["ReferenceTransactionId"]) \
        if application["ReferenceTransactionId"] else None
    status = None
    if trx is not None:
        status = "Closed" if trx["header"].get("InvoiceBalanceAmount") == 0 else "Open"
    return {**_public(application), "ActivityName": application.get("ActivityName"),
            "ReceiptMethod": receipt.get("ReceiptMethod"), "EnteredCurrency": receipt.get("Currency"),
            "ProcessStatus": "Processed", "ReferenceTransactionStatus": status}


def _flat(account: dict) -> dict:
    kids = _children(account)
    open_invoices = sum((s["InstallmentBalanceDue"] for s in kids["transactionPaymentSchedules"]), Decimal(0))
    open_memos = sum((m["TransactionBalanceDue"] for m in kids["creditMemos"]), Decimal(0))
    unapplied = sum((r["UnappliedAmount"] for r in kids["standardReceipts"]), Decimal(0))
    due = sum((s["InstallmentBalanceDue"] for s in kids["transactionPaymentSchedules"]
               if date.fromisoformat(s["DueDate"]) <= today()), Decimal(0))
    party = pod().store.parties.get(account["PartyId"], {})
    return {"AccountId": account["CustomerAccountId"], "AccountNumber": account["AccountNumber"],
            "CustomerName": account["AccountName"], "CustomerId": account["PartyId"],
            "TaxRegistrationNumber": None,
            "TaxpayerIdentificationNumber": party.get("TaxpayerIdentificationNumber"),
            # sums of amounts each already at its currency's precision
            "TotalOpenReceivablesForAccount": open_invoices + open_memos - unapplied,
            "TotalTransactionsDueForAccount": due, "CreatedBy": account["CreatedBy"],
            "CreationDate": format_stamp(account["CreationDate"]), "LastUpdatedBy": account["LastUpdatedBy"],
            "LastUpdateDate": format_stamp(account["LastUpdateDate"])}


def _render(account: dict, shape, fw: int) -> dict:
    return shape_item(SPEC, _flat(account), _children(account), shape, account["CustomerAccountId"],
                      change_indicator(1), fw)


def _get(account_id: str) -> dict:
    return get_or_404(pod().store.accounts, account_id, f"The customer account {account_id} doesn't exist.")


_APPLICATION = {"ApplicationId", "ApplicationAmount", "ApplicationDate", "AccountingDate",
                "ApplicationStatus", "ReferenceTransactionId", "ReferenceTransactionNumber"}
# what standardReceiptApplications can be searched by (q) and with (finders)
RECEIPT_APPLICATIONS = ResourceSpec(
    name="standardReceiptApplications", api="fscmRestApi", key="ApplicationId",
    attributes={"ActivityName": STR, "ApplicationId": NUM, "ApplicationStatus": STR,
                "IsLatestApplication": STR, "ProcessStatus": STR, "ReceiptMethod": STR,
                "ReceiptNumber": STR, "ReferenceInstallmentId": NUM, "ReferenceTransactionId": NUM,
                "ReferenceTransactionNumber": STR, "ReferenceTransactionStatus": STR,
                "StandardReceiptId": NUM, "ApplicationAmount": NUM, "ApplicationDate": STR,
                "AccountingDate": STR},
    queryable={"ActivityName", "ApplicationId", "ApplicationStatus", "IsLatestApplication",
               "ProcessStatus", "ReceiptMethod", "ReceiptNumber", "ReferenceInstallmentId",
               "ReferenceTransactionId", "ReferenceTransactionNumber", "ReferenceTransactionStatus",
               "StandardReceiptId"},
    finders={"PrimaryKey": {"ApplicationId": "ApplicationId"}},
)
CHILD_ATTRS = {c: set() for c in CHILDREN} | {
    "transactionPaymentSchedules": {
        "InstallmentId", "TransactionNumber", "CustomerTransactionId", "TransactionType",
        "TransactionClass", "TransactionDate", "DueDate", "OriginalAmount", "InstallmentBalanceDue",
        "AmountPaid", "AmountCredited", "Status", "Currency"},
    "standardReceipts": set(RECEIPT_ATTRS),
    "standardReceiptApplications": set(RECEIPT_APPLICATIONS.attributes) | {"CalledFrom",
                                                                           "EnteredCurrency"},
    "creditMemos": {"CustomerTransactionId", "TransactionNumber", "TransactionDate", "EnteredAmount",
                    "TransactionBalanceDue", "ReferenceTransactionId"},
    "creditMemoApplications": _APPLICATION | {"CreditMemoId", "CreditMemoNumber"},
}


@bp.get(PREFIX)
def list_activities(version):
    check_version(version)
    return collection_response(SPEC, CHILD_ATTRS, lambda: pod().store.accounts.values(), _flat, _render)


@bp.get(PREFIX + "/describe")
def describe_activities(version):
    check_version(version)
    return describe(SPEC, CHILD_ATTRS)


@bp.get(PREFIX + "/<account_id>")
def get_activity(version, account_id):
    check_version(version)
    return item_response(SPEC, CHILD_ATTRS, lambda: _get(account_id), _render)


@bp.get(PREFIX + "/<account_id>/child/<child>")
def get_activity_child(version, account_id, child):
    check_version(version)
    framework_version()
    if child not in CHILDREN:
        raise not_found(f"The child resource {child} doesn't exist.")
    with pod().store.lock:
        rows = _children(_get(account_id))[child]
    if child == RECEIPT_APPLICATIONS.name:
        rows = filter_sort(RECEIPT_APPLICATIONS, rows, framework_version())
    return child_page(SPEC, account_id, child, rows, attributes=CHILD_ATTRS[child])
