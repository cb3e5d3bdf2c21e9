"""SOAP ``/fscmService/CreditMemoService`` ``createCreditMemo``: a header-level credit against an
invoice's line/tax/freight buckets, applied to the invoice at once.  A percentage credits that
share of the bucket, rounded to the invoice currency's precision (none for JPY).

This is how a Shopify refund lands *against* its invoice (REST only makes on-account memos).
A credit beyond the invoice balance, or beyond what remains of one bucket (line, tax or
freight), is refused unless the invoice's transaction type allows overapplication.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import ServiceFault, record_missing, row_invalid
from .money import rounded
from .receivables import OverApplication, allows_overapplication, apply_to_invoice
from .rest_common import caller, pod
from .rest_credit_memos import ATTRS
from .rest_invoices import check_number, in_currency
from .soap import operation
from .soap_xml import parameter, result_response, sdo_to_dict, sdo_xml
from .store import today

CM_NS = "http://xmlns.oracle.com/apps/financials/receivables/transactions/creditMemos/creditMemoService/"
CM_TYPES = CM_NS + "types/"
SDO_FIELDS = ["BatchSourceSequenceId", "CustomerTransactionId", "Comments",
              "CustomerTransactionTypeSequenceId", "CustomerReference", "CustomerReferenceDate",
              "DocumentSequenceId", "DocumentSequenceValue", "FreightAmount", "FreightPercent",
              "GlDate", "InternalNotes", "LineAmount", "LinePercent", "MethodForRules",
              "PreviousCustomerTransactionId", "ReasonCode", "SplitTerminationMethod",
              "TransactionDate", "CurrencyCode", "TransactionNumber", "TaxAmount", "TaxPercent",
              "ComputeTax"]
AMOUNT_FIELDS = ("LineAmount", "TaxAmount", "FreightAmount")
BUCKETS = {"line": ("LineAmount", "LinePercent"), "tax": ("TaxAmount", "TaxPercent"),
           "freight": ("FreightAmount", "FreightPercent")}


def _decimal(fields: dict, name: str) -> Decimal | None:
    raw = fields.get(name)
    if raw in (None, ""):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise row_invalid({"message": f"The value {raw} of {name} isn't a number.",
                           "attributeName": name, "objectName": "CreditMemo"}) from None


def _bucket(fields: dict, name: str, percent_name: str, base: Decimal, currency: str) -> Decimal:
    amount, percent = _decimal(fields, name), _decimal(fields, percent_name)
    if amount is not None and percent is not None:
        raise row_invalid({"message": f"Enter either {name} or {percent_name}, not both.",
                           "attributeName": name, "objectName": "CreditMemo"})
    if percent is not None:
        amount = base * percent / 100
    amount = rounded(amount or 0, currency)
    if amount > 0:
        raise row_invalid({"message": f"AR-855072: The credit amount {name} must be negative.",
                           "attributeName": name, "objectName": "CreditMemo"})
    return amount


def _by_id(fields: dict, name: str, lookup, default):
    raw = fields.get(name)
    if raw in (None, ""):
        return default
    found = lookup(int(raw)) if raw.isdigit() else None
    if found is None:
        raise record_missing(f"The record for {name} {raw} doesn't exist.")
    return found


def _overapply(message: str, attribute: str) -> ServiceFault:
    return ServiceFault("AR:::AR_CM_OVERAPPLY", f"AR-855075: {message}",
                        [{"message": message, "attributeName": attribute, "objectName": "CreditMemo"}],
                        exception_class="oracle.apps.fnd.applcore.messages.ApplcoreException")


def _check_buckets(invoice: dict, amounts: dict[str, Decimal]) -> None:
    """Each credited part (negative) may not exceed what remains of that part of the invoice."""
    if allows_overapplication(invoice):
        return
    credited = invoice.setdefault("credited", {b: Decimal(0) for b in BUCKETS})
    for bucket, amount in amounts.items():
        remaining = in_currency(invoice, invoice["buckets"][bucket] - credited[bucket])
        if -amount > remaining:
            name = BUCKETS[bucket][0]
            raise _overapply(f"The {name} {amount} exceeds the remaining {bucket} amount {remaining} "
                             f"of transaction {invoice['header']['TransactionNumber']}, and its "
                             "transaction type doesn't allow overapplication.", name)


def _fault(message: str, code: str, path: str):
    return row_invalid({"message": message, "attributeName": path.strip("/"), "objectName": "CreditMemo"})


@operation("CreditMemoService", CM_TYPES, "createCreditMemo")
def create_credit_memo(op_el):
    fields = sdo_to_dict(parameter(op_el, CM_TYPES, "creditMemo"), CM_NS, set(),
                         skip=frozenset({"CreditMemoFLEXVA"}))
    unknown = set(fields) - set(SDO_FIELDS)
    if unknown:
        raise ServiceFault("env:Client", f"Unexpected elements in CreditMemo: {sorted(unknown)}")
    p = pod()
    seed, store = p.seed, p.store
    prev = fields.get("PreviousCustomerTransactionId")
    if not prev:
        raise row_invalid({"message": "JBO-27014: Attribute PreviousCustomerTransactionId in "
                                      "CreditMemo is required.",
                           "attributeName": "PreviousCustomerTransactionId", "objectName": "CreditMemo"})
    invoice = store.invoices.get(int(prev)) if prev.isdigit() else None
    if invoice is None:
        raise record_missing(f"The record for transaction ID {prev} doesn't exist.")
    inv_header = invoice["header"]
    if inv_header["InvoiceStatus"] != "Complete":
        raise _fault("AR-855073: You can only credit a complete transaction.", "", "/PreviousCustomerTransactionId")
    # source and type come as ids; omitted, they default to the invoice's source and to the
    # credit memo type configured on the invoice's transaction type (an unconfirmed guess)
    source = _by_id(fields, "BatchSourceSequenceId", seed.source_by_id,
                    seed.transaction_sources[inv_header["TransactionSource"]])
    ttype = _by_id(fields, "CustomerTransactionTypeSequenceId", seed.type_by_id,
                   seed.transaction_types.get(seed.transaction_types[inv_header["TransactionType"]]
                                              .get("credit_memo_type", "")))
    if ttype is None or ttype.get("class") != "CM":
        raise _fault("AR-855003: The transaction type isn't a valid credit memo type.", "",
                     "/CustomerTransactionTypeSequenceId")
    currency = fields.get("CurrencyCode") or inv_header["InvoiceCurrencyCode"]
    if currency != inv_header["InvoiceCurrencyCode"]:
        raise _fault("The credit memo currency must be the invoice currency.", "", "/CurrencyCode")
    amounts = {bucket: _bucket(fields, *names, invoice["buckets"][bucket], currency)
               for bucket, names in BUCKETS.items()}
    line, tax, freight = amounts["line"], amounts["tax"], amounts["freight"]
    total = line + tax + freight
    if total == 0:
        raise _fault("AR-855074: Enter an amount or percent to credit.", "", "/LineAmount")
    gl_date = fields.get("GlDate") or fields.get("TransactionDate") or today().isoformat()
    closed = p.calendar.closed_message(gl_date)
    if closed:  # the memo takes the invoice's conversion rate: only its GL date can be refused
        raise ServiceFault(p.settings.closed_period_code, f"{p.settings.closed_period_code}: {closed}",
                           [{"message": closed, "attributeName": "GlDate", "objectName": "CreditMemo"}],
                           exception_class="oracle.apps.fnd.applcore.messages.ApplcoreException")
    number = check_number(seed, store, source["name"], fields.get("TransactionNumber"), _fault)
    _check_buckets(invoice, amounts)
    try:
        apply_to_invoice(invoice, -total, "credit")
    except OverApplication as exc:
        raise _overapply(str(exc), "LineAmount") from None
    credited = invoice.setdefault("credited", {b: Decimal(0) for b in BUCKETS})
    for bucket, amount in amounts.items():
        credited[bucket] = in_currency(invoice, credited[bucket] - amount)
    trx_date = fields.get("TransactionDate") or today().isoformat()
    now = store.stamp()
    header = {a: None for a in ATTRS}
    header.update({
        "CustomerTransactionId": store.new_id(), "TransactionNumber": number,
        "BusinessUnit": inv_header["BusinessUnit"], "TransactionSource": source["name"],
        "TransactionType": ttype["name"], "TransactionDate": trx_date,
        "AccountingDate": fields.get("GlDate") or trx_date, "CreditMemoCurrency": currency,
        "BillToCustomerName": inv_header["BillToCustomerName"],
        "BillToCustomerNumber": inv_header["BillToCustomerNumber"], "BillToSite": inv_header["BillToSite"],
        "CreditMemoComments": fields.get("Comments"), "CreditReason": fields.get("ReasonCode"),
        "CustomerReference": fields.get("CustomerReference"), "InternalNotes": fields.get("InternalNotes"),
        "CreditMemoStatus": "Complete", "EnteredAmount": total, "TransactionBalanceDue": rounded(0, currency),
        "PrintStatus": "NOT PRINTED", "CreatedBy": caller(), "CreationDate": now,
        "LastUpdatedBy": caller(), "LastUpdateDate": now,
    })
    record = {"header": header, "lines": [], "distributions": [], "version": 1,
              "account_id": invoice["account_id"],
              "previous_trx_id": inv_header["CustomerTransactionId"]}
    store.credit_memos[header["CustomerTransactionId"]] = record
    store.applications.append({
        "ApplicationId": store.new_id(), "kind": "credit_memo", "ApplicationAmount": -total,
        "ApplicationDate": trx_date, "ApplicationStatus": "APP",
        "CreditMemoId": header["CustomerTransactionId"], "CreditMemoNumber": number,
        "ReferenceTransactionId": inv_header["CustomerTransactionId"],
        "ReferenceTransactionNumber": inv_header["TransactionNumber"],
        "account_id": invoice["account_id"]})
    value = {name: fields.get(name) for name in SDO_FIELDS}
    value.update({"CustomerTransactionId": header["CustomerTransactionId"], "TransactionNumber": number,
                  "BatchSourceSequenceId": source["id"], "CustomerTransactionTypeSequenceId": ttype["id"],
                  "PreviousCustomerTransactionId": inv_header["CustomerTransactionId"],
                  "CurrencyCode": currency, "TransactionDate": trx_date,
                  "GlDate": header["AccountingDate"], "LineAmount": line, "TaxAmount": tax,
                  "FreightAmount": freight})
    sdo = sdo_xml("ns1", value, SDO_FIELDS, {a: currency for a in AMOUNT_FIELDS})
    return result_response(CM_TYPES, CM_NS, "createCreditMemo", "CreditMemoResult",
                           f"<ns1:Value>{sdo}</ns1:Value>")
