"""``standardReceipts`` (create/read) and the ``applyReceipt`` action.

A receipt starts fully unapplied; ``applyReceipt`` moves money from the receipt's
``UnappliedAmount`` onto one invoice installment (``appliedPaymentScheduleId`` =
``InstallmentId``), which is what makes the invoice's open balance match Shopify's
``total_outstanding``.
"""
from __future__ import annotations


from flask import Blueprint, request

from .errors import RestError, bad_request, not_found
from .money import cents, to_decimal
from .query import DATE, DATETIME, NUM, STR
from .receivables import OverApplication, apply_to_installment
from .rest_common import (
    ACTION_TYPE, COLLECTION_TYPE, ResourceSpec, caller, change_indicator, check_attributes,
    collection_envelope, describe, filter_sort, framework_version, json_body, json_response,
    page_params, parse_shape, pod, resource_url, shape_item,
)
from .rest_invoices import parse_date
from .store import format_stamp, today

bp = Blueprint("fusion_receipts", __name__)
PREFIX = "/fscmRestApi/resources/<version>/standardReceipts"

WRITABLE = ["ReceiptNumber", "ReceiptDate", "AccountingDate", "Amount", "Currency", "ConversionDate",
            "ConversionRate", "ConversionRateType", "BusinessUnit", "ReceiptMethod", "CustomerName",
            "CustomerAccountNumber", "CustomerSite", "CustomerBank", "CustomerBankAccountNumber",
            "CustomerBankBranch", "TaxpayerIdentificationNumber", "RemittanceBankName",
            "RemittanceBankBranch", "RemittanceBankAccountNumber", "RemittanceBankDepositDate",
            "RemittanceBankAllowOverride", "ReceiptBatchName", "ReceiptBatchDate", "MaturityDate",
            "PostmarkDate", "ReceiptAtRisk", "ReceivablesSpecialist", "StructuredPaymentReference",
            "Comments", "DocumentNumber"]
READ_ONLY = ["StandardReceiptId", "AccountedAmount", "UnappliedAmount", "State", "Status",
             "ReversalCategory", "ReversalComments", "ReversalDate", "ReversalReason", "CreatedBy",
             "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
ATTRS = ["StandardReceiptId"] + WRITABLE + [a for a in READ_ONLY if a != "StandardReceiptId"]
_KINDS = {"StandardReceiptId": NUM, "Amount": NUM, "AccountedAmount": NUM, "UnappliedAmount": NUM,
          "ConversionRate": NUM, "ReceiptDate": DATE, "AccountingDate": DATE, "ConversionDate": DATE,
          "RemittanceBankDepositDate": DATE, "ReceiptBatchDate": DATE, "MaturityDate": DATE,
          "PostmarkDate": DATE, "ReversalDate": DATE, "CreationDate": DATETIME,
          "LastUpdateDate": DATETIME}
SPEC = ResourceSpec(
    name="standardReceipts", api="fscmRestApi", key="StandardReceiptId",
    attributes={a: _KINDS.get(a, STR) for a in ATTRS},
    queryable={"BusinessUnit", "CustomerAccountNumber", "CustomerName", "CustomerSite",
               "ReceiptDate", "ReceiptNumber", "StandardReceiptId"},
    finders={"PrimaryKey": {"StandardReceiptId": "StandardReceiptId"},
             "StandardReceiptsFinder": {v: v for v in ("BusinessUnit", "CustomerAccountNumber",
                                                       "CustomerName", "CustomerSite",
                                                       "ReceiptDate", "ReceiptNumber")}},
    children=["attachments", "remittanceReferences", "standardReceiptDFF", "standardReceiptGdf"],
    actions=["applyReceipt"],
)


def _version_ok(version: str) -> None:
    if version not in ("11.13.18.05", "latest"):
        raise not_found(f"The resource version {version} doesn't exist.")


def _flat(receipt: dict) -> dict:
    return {a: (format_stamp(receipt[a]) if a in ("CreationDate", "LastUpdateDate") else receipt.get(a))
            for a in ATTRS}


def _render(receipt: dict, shape, fw: int) -> dict:
    return shape_item(SPEC, _flat(receipt), {}, shape, receipt["StandardReceiptId"],
                      change_indicator(receipt["version"]), fw)


def _get(receipt_id: str) -> dict:
    try:
        receipt = pod().store.receipts.get(int(receipt_id))
    except ValueError:
        receipt = None
    if receipt is None:
        raise not_found(f"The standard receipt {receipt_id} doesn't exist.")
    return receipt


def create_receipt(body: dict) -> dict:
    p = pod()
    seed, store, settings = p.seed, p.store, p.settings
    check_attributes(body, set(WRITABLE), "standardReceipts", read_only=set(READ_ONLY))
    bu_name = body.get("BusinessUnit")
    if bu_name not in seed.business_units:
        raise bad_request(f"The value of the attribute BusinessUnit isn't valid: {bu_name!r}.",
                          "AR-855001", "/BusinessUnit")
    bu = seed.business_units[bu_name]
    method = body.get("ReceiptMethod")
    if method not in seed.receipt_methods:
        raise bad_request(f"The value of the attribute ReceiptMethod isn't valid: {method!r}.",
                          "AR-855006", "/ReceiptMethod")
    number = body.get("ReceiptNumber")
    if not number:
        if settings.receipt_number_required:
            raise bad_request("The attribute ReceiptNumber is required.", "JBO-27014", "/ReceiptNumber")
        number = store.new_receipt_number()
    amount = to_decimal(body.get("Amount"), "Amount")
    if amount is None or amount <= 0:
        raise bad_request("The attribute Amount is required and must be greater than zero.",
                          "AR-855050", "/Amount")
    amount = cents(amount)
    receipt_date = parse_date(body.get("ReceiptDate"), "ReceiptDate") or today().isoformat()
    accounting_date = parse_date(body.get("AccountingDate"), "AccountingDate") or receipt_date
    currency = body.get("Currency") or bu["currency"]
    if currency != bu["currency"] and not body.get("ConversionRateType"):
        raise bad_request(f"The receipt currency {currency} differs from the ledger currency, so "
                          "ConversionRateType is required.", "AR-855005", "/ConversionRateType")
    bank = body.get("RemittanceBankAccountNumber")
    expected_bank = seed.receipt_methods[method].get("remittance_bank_account_number")
    if bank and expected_bank and bank != expected_bank:
        raise bad_request(f"The remittance bank account {bank} isn't set up for the receipt "
                          f"method {method}.", "AR-855051", "/RemittanceBankAccountNumber")
    account = None
    if body.get("CustomerAccountNumber"):
        account = store.account_by_number(str(body["CustomerAccountNumber"]))
        if account is None:
            raise bad_request(f"The customer account {body['CustomerAccountNumber']} doesn't exist.",
                              "AR-855020", "/CustomerAccountNumber")
    for r in store.receipts.values():
        if (r["BusinessUnit"], r["ReceiptNumber"], r["CustomerAccountNumber"], r["ReceiptDate"],
                r["Amount"]) == (bu_name, number, account and account["AccountNumber"], receipt_date, amount):
            raise bad_request(f"A receipt {number} with the same customer, date and amount "
                              "already exists.", "AR-855052", "/ReceiptNumber")
    now = store.stamp()
    receipt = {a: body.get(a) for a in ATTRS}
    receipt.update({
        "StandardReceiptId": store.new_id(), "ReceiptNumber": number, "ReceiptDate": receipt_date,
        "AccountingDate": accounting_date, "Amount": amount, "AccountedAmount": amount,
        "UnappliedAmount": amount, "Currency": currency, "BusinessUnit": bu_name,
        "ReceiptMethod": method, "RemittanceBankAccountNumber": bank or expected_bank,
        "CustomerAccountNumber": account and account["AccountNumber"],
        "CustomerName": body.get("CustomerName") or (account and account["AccountName"]),
        "State": "Cleared", "Status": "UNAPP", "CreatedBy": caller(), "CreationDate": now,
        "LastUpdatedBy": caller(), "LastUpdateDate": now, "version": 1,
        "account_id": account and account["CustomerAccountId"],
    })
    store.receipts[receipt["StandardReceiptId"]] = receipt
    return receipt


@bp.post(PREFIX)
def post_receipt(version):
    _version_ok(version)
    fw = framework_version()
    body = json_body()
    with pod().store.lock:
        receipt = create_receipt(body)
        item = _render(receipt, parse_shape(SPEC, {}), fw)
    return json_response(item, status=201, headers={"Location": resource_url(SPEC, receipt["StandardReceiptId"])})


@bp.get(PREFIX)
def list_receipts(version):
    _version_ok(version)
    fw = framework_version()
    shape = parse_shape(SPEC, {})
    limit, offset = page_params()
    with pod().store.lock:
        receipts = {r["StandardReceiptId"]: r for r in pod().store.receipts.values()}
        rows = filter_sort(SPEC, [_flat(r) for r in receipts.values()], fw)
        items = [_render(receipts[r["StandardReceiptId"]], shape, fw) for r in rows[offset:offset + limit]]
    return json_response(collection_envelope(SPEC, items, len(rows), limit, offset), mimetype=COLLECTION_TYPE)


@bp.get(PREFIX + "/describe")
def describe_receipts(version):
    _version_ok(version)
    return describe(SPEC, {})


@bp.get(PREFIX + "/<receipt_id>")
def get_receipt(version, receipt_id):
    _version_ok(version)
    fw = framework_version()
    with pod().store.lock:
        return json_response(_render(_get(receipt_id), parse_shape(SPEC, {}), fw))


@bp.post(PREFIX + "/<receipt_id>/action/applyReceipt")
def apply_receipt(version, receipt_id):
    """Apply (part of) the receipt to one invoice installment."""
    _version_ok(version)
    framework_version()
    p = pod()
    if p.settings.strict_action_media_type and request.mimetype != ACTION_TYPE:
        raise RestError(f"The media type {request.mimetype or '(none)'} isn't supported; actions "
                        f"take {ACTION_TYPE}.", "", "", 415)
    body = json_body((ACTION_TYPE, "application/json"))
    check_attributes(body, {"appliedPaymentScheduleId", "amountApplied", "calledFrom"}, "applyReceipt")
    with p.store.lock:
        receipt = _get(receipt_id)
        schedule = body.get("appliedPaymentScheduleId")
        found = p.store.installment(int(schedule)) if isinstance(schedule, (int, str)) and \
            str(schedule).isdigit() else None
        if found is None:
            raise bad_request(f"The payment schedule {schedule!r} doesn't exist.", "AR-855060",
                              "/appliedPaymentScheduleId")
        invoice, installment = found
        if invoice["header"]["InvoiceStatus"] != "Complete":
            raise bad_request("You can only apply receipts to complete transactions.", "AR-855061")
        if invoice["header"]["InvoiceCurrencyCode"] != receipt["Currency"]:
            raise bad_request("The receipt and the transaction currencies differ.", "AR-855062")
        amount = to_decimal(body.get("amountApplied"), "amountApplied")
        amount = cents(amount if amount is not None
                       else min(installment["InstallmentBalanceDue"], receipt["UnappliedAmount"]))
        if amount <= 0:
            raise bad_request("The amount applied must be greater than zero.", "AR-855063", "/amountApplied")
        if amount > receipt["UnappliedAmount"]:
            raise bad_request(f"The amount applied {amount} exceeds the unapplied amount "
                              f"{receipt['UnappliedAmount']} of receipt {receipt['ReceiptNumber']}.",
                              "AR-855064", "/amountApplied")
        try:
            apply_to_installment(invoice, installment, amount, "receipt")
        except OverApplication as exc:
            raise bad_request(str(exc), "AR-855065", "/amountApplied") from None
        receipt["UnappliedAmount"] = cents(receipt["UnappliedAmount"] - amount)
        receipt["Status"] = "APP" if receipt["UnappliedAmount"] == 0 else "UNAPP"
        receipt["LastUpdateDate"] = p.store.stamp()
        receipt["version"] += 1
        p.store.applications.append({
            "ApplicationId": p.store.new_id(), "kind": "receipt",
            "ApplicationAmount": amount, "ApplicationDate": today().isoformat(),
            "ApplicationStatus": "APP", "StandardReceiptId": receipt["StandardReceiptId"],
            "ReceiptNumber": receipt["ReceiptNumber"], "ReferenceInstallmentId": installment["InstallmentId"],
            "ReferenceTransactionId": invoice["header"]["CustomerTransactionId"],
            "ReferenceTransactionNumber": invoice["header"]["TransactionNumber"],
            "account_id": invoice["account_id"], "CalledFrom": body.get("calledFrom")})
    return json_response({"result": p.settings.apply_receipt_result}, mimetype=ACTION_TYPE)
