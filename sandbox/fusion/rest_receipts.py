"""``standardReceipts`` (create/read) and the ``applyReceipt`` and ``unapplyReceipt`` actions.

A receipt starts fully unapplied; ``applyReceipt`` moves money from the receipt's
``UnappliedAmount`` onto one invoice installment (``appliedPaymentScheduleId`` =
``InstallmentId``), which is what makes the invoice's open balance match Shopify's
``total_outstanding``. ``unapplyReceipt`` (documented from 26D only, hence the
``rest_unapply_receipt`` setting) gives one whole application back; a refund of a paid invoice
needs it before its invoice can be credited.
"""
from __future__ import annotations

import dataclasses

from flask import Blueprint, abort, request

from .errors import RestError, bad_request
from .money import rounded, to_decimal
from .query import DATE, DATETIME, NUM, STR
from .receivables import ApplicationRefused, apply_receipt as apply_receipt_to, receipt_application, \
    unapply_receipt as unapply_receipt_from
from .rest_common import (
    ACTION_TYPE, ResourceSpec, caller, change_indicator, check_attributes, check_if_match, check_version,
    collection_response, created_response, describe, flat_attributes, framework_version,
    get_or_404, item_response, json_body, json_response, parse_shape, pod, refuse_upsert, shape_item,
)
from .periods import refuse_rest
from .rest_invoices import parse_date
from .store import today

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
    actions=["applyReceipt", "unapplyReceipt"],
)


def _spec() -> ResourceSpec:
    """The resource as this pod's release has it: without ``unapplyReceipt`` before 26D."""
    if pod().settings.rest_unapply_receipt:
        return SPEC
    return dataclasses.replace(SPEC, actions=[a for a in SPEC.actions if a != "unapplyReceipt"])


def _flat(receipt: dict) -> dict:
    return flat_attributes(receipt, ATTRS)


def _render(receipt: dict, shape, fw: int) -> dict:
    return shape_item(SPEC, _flat(receipt), {}, shape, receipt["StandardReceiptId"],
                      change_indicator(receipt["version"]), fw)


def _get(receipt_id: str) -> dict:
    return get_or_404(pod().store.receipts, receipt_id, f"The standard receipt {receipt_id} doesn't exist.")


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
    receipt_date = parse_date(body.get("ReceiptDate"), "ReceiptDate") or today().isoformat()
    accounting_date = parse_date(body.get("AccountingDate"), "AccountingDate") or receipt_date
    currency = body.get("Currency") or bu["currency"]
    amount = rounded(amount, currency)
    if currency != bu["currency"] and not body.get("ConversionRateType"):
        raise bad_request(f"The receipt currency {currency} differs from the ledger currency, so "
                          "ConversionRateType is required.", "AR-855005", "/ConversionRateType")
    refuse_rest(p.calendar, settings, accounting_date=accounting_date, date_path="/AccountingDate",
                currency=currency, ledger=bu["currency"], rate_type=body.get("ConversionRateType"),
                conversion_date=parse_date(body.get("ConversionDate"), "ConversionDate") or receipt_date,
                rate=body.get("ConversionRate"))
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
    check_version(version)
    fw = framework_version()
    body = json_body()
    refuse_upsert("standardReceipts")
    with pod().store.lock:
        receipt = create_receipt(body)
        item = _render(receipt, parse_shape(SPEC, {}), fw)
    return created_response(SPEC, receipt["StandardReceiptId"], item)


@bp.get(PREFIX)
def list_receipts(version):
    check_version(version)
    return collection_response(SPEC, {}, lambda: pod().store.receipts.values(), _flat, _render)


@bp.get(PREFIX + "/describe")
def describe_receipts(version):
    check_version(version)
    return describe(_spec(), {})


@bp.get(PREFIX + "/<receipt_id>")
def get_receipt(version, receipt_id):
    check_version(version)
    return item_response(SPEC, {}, lambda: _get(receipt_id), _render)


def _action_body(version: str, allowed: set[str], action: str) -> dict:
    check_version(version)
    framework_version()
    if pod().settings.strict_action_media_type and request.mimetype != ACTION_TYPE:
        raise RestError(f"The media type {request.mimetype or '(none)'} isn't supported; actions "
                        f"take {ACTION_TYPE}.", "", "", 415)
    body = json_body((ACTION_TYPE, "application/json"))
    check_attributes(body, allowed, action)
    return body


def _refused(exc: ApplicationRefused, amount_path: str = "") -> RestError:
    return bad_request(exc.message, exc.code, amount_path if exc.on_amount else "")


def _action_result():
    """Both actions answer an undocumented ``result`` string: clients mustn't parse it."""
    return json_response({"result": pod().settings.apply_receipt_result}, mimetype=ACTION_TYPE)


@bp.post(PREFIX + "/<receipt_id>/action/applyReceipt")
def apply_receipt(version, receipt_id):
    """Apply (part of) the receipt to one invoice installment."""
    body = _action_body(version, {"appliedPaymentScheduleId", "amountApplied", "calledFrom"},
                        "applyReceipt")
    with pod().store.lock:
        receipt = _get(receipt_id)
        check_if_match(receipt["version"])
        schedule = body.get("appliedPaymentScheduleId")
        found = pod().store.installment(int(schedule)) if isinstance(schedule, (int, str)) and \
            str(schedule).isdigit() else None
        if found is None:
            raise bad_request(f"The payment schedule {schedule!r} doesn't exist.", "AR-855060",
                              "/appliedPaymentScheduleId")
        invoice, installment = found
        amount = to_decimal(body.get("amountApplied"), "amountApplied")
        try:
            apply_receipt_to(receipt, invoice, installment, amount, called_from=body.get("calledFrom"))
        except ApplicationRefused as exc:
            raise _refused(exc, "/amountApplied") from None
    return _action_result()


@bp.post(PREFIX + "/<receipt_id>/action/unapplyReceipt")
def unapply_receipt(version, receipt_id):
    """Reverse one whole application of the receipt (there is no amount: unapplying part of it
    is unapplying all of it and applying the rest again)."""
    if not pod().settings.rest_unapply_receipt:
        abort(404)
    body = _action_body(version, {"receivableApplicationId", "appliedPaymentScheduleId",
                                  "calledFrom"}, "unapplyReceipt")
    application_id = body.get("receivableApplicationId")
    if application_id in (None, ""):
        raise bad_request("The parameter receivableApplicationId is required.", "JBO-27014",
                          "/receivableApplicationId")
    with pod().store.lock:
        receipt = _get(receipt_id)
        check_if_match(receipt["version"])
        try:
            application = receipt_application(receipt, application_id)
        except ApplicationRefused as exc:
            raise bad_request(exc.message, exc.code, "/receivableApplicationId") from None
        schedule = body.get("appliedPaymentScheduleId")
        if schedule is not None and str(schedule) != str(application["ReferenceInstallmentId"]):
            raise bad_request(f"The receivable application {application_id} doesn't apply to the "
                              f"payment schedule {schedule}.", "AR-855069", "/appliedPaymentScheduleId")
        try:
            unapply_receipt_from(receipt, application, called_from=body.get("calledFrom"))
        except ApplicationRefused as exc:
            raise _refused(exc) from None
    return _action_result()
