"""``receivablesCustomerAccountActivities`` (read-only): an account's open receivables and the
payment schedules, receipts, applications and credit memos behind them.

There is no REST resource for AR customer accounts themselves; this is the read side a
reconciler uses to check that Fusion's open balance matches Shopify's.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Blueprint

from .errors import not_found
from .money import cents
from .query import DATETIME, NUM, STR
from .rest_common import (
    COLLECTION_TYPE, ResourceSpec, change_indicator, collection_envelope, describe, filter_sort,
    framework_version, json_response, page_params, parse_shape, pod, resource_url, shape_item,
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


def _version_ok(version: str) -> None:
    if version not in ("11.13.18.05", "latest"):
        raise not_found(f"The resource version {version} doesn't exist.")


def _children(account: dict) -> dict[str, list[dict]]:
    store = pod().store
    account_id = account["CustomerAccountId"]
    invoices = [i for i in store.invoices.values() if i["account_id"] == account_id]
    schedules = [{
        "InstallmentId": inst["InstallmentId"], "TransactionNumber": inv["header"]["TransactionNumber"],
        "CustomerTransactionId": inv["header"]["CustomerTransactionId"],
        "TransactionType": inv["header"]["TransactionType"], "TransactionClass": "INV",
        "TransactionDate": inv["header"]["TransactionDate"], "DueDate": inst["InstallmentDueDate"],
        "OriginalAmount": inst["OriginalAmount"], "InstallmentBalanceDue": inst["InstallmentBalanceDue"],
        "AmountPaid": inst["AmountPaid"], "AmountCredited": inst["InstallmentAmountCredited"],
        "Status": inst["InstallmentStatus"], "Currency": inv["header"]["InvoiceCurrencyCode"],
    } for inv in invoices for inst in inv["installments"]]
    receipts = [{k: r[k] for k in ("StandardReceiptId", "ReceiptNumber", "ReceiptDate", "Amount",
                                   "UnappliedAmount", "Currency", "ReceiptMethod", "Status")}
                for r in store.receipts.values() if r.get("account_id") == account_id]
    apps = [a for a in store.applications if a["account_id"] == account_id]
    public = lambda a: {k: v for k, v in a.items() if k not in ("account_id", "kind")}  # noqa: E731
    memos = [{"CustomerTransactionId": m["header"]["CustomerTransactionId"],
              "TransactionNumber": m["header"]["TransactionNumber"],
              "TransactionDate": m["header"]["TransactionDate"],
              "EnteredAmount": m["header"]["EnteredAmount"],
              "TransactionBalanceDue": m["header"]["TransactionBalanceDue"],
              "ReferenceTransactionId": m["previous_trx_id"]}
             for m in store.credit_memos.values() if m["account_id"] == account_id]
    return {"transactionPaymentSchedules": schedules, "standardReceipts": receipts,
            "standardReceiptApplications": [public(a) for a in apps if a["kind"] == "receipt"],
            "creditMemos": memos,
            "creditMemoApplications": [public(a) for a in apps if a["kind"] == "credit_memo"],
            "transactionAdjustments": [], "transactionsPaidByOtherCustomers": []}


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
            "TotalOpenReceivablesForAccount": cents(open_invoices + open_memos - unapplied),
            "TotalTransactionsDueForAccount": cents(due), "CreatedBy": account["CreatedBy"],
            "CreationDate": format_stamp(account["CreationDate"]), "LastUpdatedBy": account["LastUpdatedBy"],
            "LastUpdateDate": format_stamp(account["LastUpdateDate"])}


def _render(account: dict, shape, fw: int) -> dict:
    return shape_item(SPEC, _flat(account), _children(account), shape, account["CustomerAccountId"],
                      change_indicator(1), fw)


def _get(account_id: str) -> dict:
    account = pod().store.accounts.get(int(account_id)) if account_id.isdigit() else None
    if account is None:
        raise not_found(f"The customer account {account_id} doesn't exist.")
    return account


CHILD_ATTRS = {c: set() for c in CHILDREN}


@bp.get(PREFIX)
def list_activities(version):
    _version_ok(version)
    fw = framework_version()
    shape = parse_shape(SPEC, CHILD_ATTRS)
    limit, offset = page_params()
    with pod().store.lock:
        accounts = {a["CustomerAccountId"]: a for a in pod().store.accounts.values()}
        rows = filter_sort(SPEC, [_flat(a) for a in accounts.values()], fw)
        items = [_render(accounts[r["AccountId"]], shape, fw) for r in rows[offset:offset + limit]]
    return json_response(collection_envelope(SPEC, items, len(rows), limit, offset), mimetype=COLLECTION_TYPE)


@bp.get(PREFIX + "/describe")
def describe_activities(version):
    _version_ok(version)
    return describe(SPEC, CHILD_ATTRS)


@bp.get(PREFIX + "/<account_id>")
def get_activity(version, account_id):
    _version_ok(version)
    fw = framework_version()
    with pod().store.lock:
        return json_response(_render(_get(account_id), parse_shape(SPEC, CHILD_ATTRS), fw))


@bp.get(PREFIX + "/<account_id>/child/<child>")
def get_activity_child(version, account_id, child):
    _version_ok(version)
    framework_version()
    if child not in CHILDREN:
        raise not_found(f"The child resource {child} doesn't exist.")
    limit, offset = page_params()
    with pod().store.lock:
        rows = _children(_get(account_id))[child]
    page = rows[offset:offset + limit]
    href = f"{resource_url(SPEC, account_id)}/child/{child}"
    return json_response({"items": page, "count": len(page), "hasMore": offset + len(page) < len(rows),
                          "limit": limit, "offset": offset,
                          "links": [{"rel": "self", "href": href, "name": child, "kind": "collection"}]},
                         mimetype=COLLECTION_TYPE)
