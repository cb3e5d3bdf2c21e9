"""SOAP ``/fscmService/StandardReceiptService``: ``createApplyReceipt`` (apply a receipt to an
invoice installment), ``createUnapplyReceipt`` (reverse one whole application) and
``createActivityApplication`` (put unapplied receipt money on a receivables activity).

The REST ``applyReceipt`` action is documented only from 26C (§1.1), so this is how a connector
on an older release pays an invoice. The operation is ``createApplyReceipt`` with the parameter element
``applyReceipt`` (types namespace); the ``ApplyReceipt`` SDO fields use the WSDL's names —
``Instalment``/``InstalmentId`` with one "l", ``ApplicationDate`` — and anything else (the
``ApplyDate``/``ReceiptCurrencyCode`` a public port sends) is refused, so a connector built
against the sandbox can't carry those names to a pod. The balances move through
:func:`receivables.apply_receipt`, exactly as the REST action moves them.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from .errors import ServiceFault, record_missing, row_invalid
from .receivables import (
    RECEIPT_WRITE_OFF, WRITE_OFF_TYPE, ApplicationRefused, apply_activity, apply_receipt,
    receipt_application, unapply_receipt,
)
from .rest_common import pod
from .soap import operation
from .soap_xml import parameter, result_response, sdo_to_dict, sdo_xml

SR_NS = "http://xmlns.oracle.com/apps/financials/receivables/receipts/shared/standardReceiptService/commonService/"
SR_TYPES = SR_NS + "types/"
# ApplyReceipt SDO elements in WSDL order (§1.3); the DFF element is accepted and ignored
APPLY_FIELDS = ["AmountApplied", "ReceiptId", "Comments", "CustomerTrxId", "Discount", "Instalment",
                "ReceiptNumber", "TransactionNumber", "ReceiptAmount", "ReceiptDate", "CustomerName",
                "TransactionDate", "TransactionSource", "AmountReceiptCurrency", "ReceiptCurrency",
                "ExchangeRate", "ApplicationDate", "AccountingDate", "ApplyClosedInvoices",
                "InstalmentId", "CustomerReason", "CustomerReference", "CreateClaimForTransaction"]
DFF_FIELD = "ReceivableApplicationFLEXVA"
OBJECT = "ApplyReceipt"
APPLCORE = "oracle.apps.fnd.applcore.messages.ApplcoreException"


class _Sdo(dict):
    """An SDO's fields, knowing which SDO they came from so faults can name it."""

    def __init__(self, values: dict, object_name: str):
        super().__init__(values)
        self.object_name = object_name


def _fields(op_el: Element, param: str = "applyReceipt", names: list[str] = APPLY_FIELDS,
            object_name: str = OBJECT, skip: frozenset[str] = frozenset({DFF_FIELD})) -> _Sdo:
    """The parameter's fields as text or None (empty and ``xsi:nil`` alike); elements the
    WSDL doesn't have fault, naming the element."""
    fields = sdo_to_dict(parameter(op_el, SR_TYPES, param), SR_NS, set(), skip=skip)
    unknown = [name for name in fields if name not in names]
    if unknown:
        raise ServiceFault("env:Client", f"Unexpected element {unknown[0]} in {object_name}; the "
                           f"elements are {', '.join(names + sorted(skip))}.")
    return _Sdo({name: value or None for name, value in fields.items()}, object_name)


def _invalid(name: str, message: str, object_name: str = OBJECT) -> ServiceFault:
    return row_invalid({"message": message, "attributeName": name, "objectName": object_name})


def _typed(fields: dict, name: str, parse, kind: str):
    """``parse(text)`` of the field, None when absent; a row fault naming it when malformed."""
    raw = fields.get(name)
    if raw is None:
        return None
    try:
        return parse(raw)
    except (ValueError, InvalidOperation):
        raise _invalid(name, f"The value {raw} of {name} isn't a valid {kind}.",
                       getattr(fields, "object_name", OBJECT)) from None


def _id(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


def _signed(raw: str) -> int:
    """An id that may be one of the negative special schedule ids (-3 receipt write-off)."""
    return int(raw.strip())


def _amount(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(raw)
    return value


def _long(fields: dict, name: str) -> int | None:
    return _typed(fields, name, _id, "number")


def _decimal(fields: dict, name: str) -> Decimal | None:
    return _typed(fields, name, _amount, "number")


def _date(fields: dict, name: str) -> str | None:
    return _typed(fields, name, lambda raw: date.fromisoformat(raw[:10]).isoformat(), "date")


def _by_id_or_number(fields: dict, id_name: str, number_name: str, records: dict, number_of,
                     what: str, narrow=lambda r: True) -> dict | None:
    """The record named by ``id_name`` or by ``number_name`` (they must agree); None if neither.

    Numbers aren't unique across business units/sources and ``ApplyReceipt`` carries no
    business unit, so a number that matches several records is refused: send the id.
    """
    record_id, number = _long(fields, id_name), fields.get(number_name)
    if record_id is not None:
        record = records.get(record_id)
        if record is None:
            raise record_missing(f"The record for {what} ID {record_id} doesn't exist.")
        if number is not None and number_of(record) != number:
            raise _invalid(number_name, f"{number_name} {number} isn't the number of the {what} "
                                        f"with ID {record_id}.")
        return record
    if number is None:
        return None
    matches = [r for r in records.values() if number_of(r) == number and narrow(r)]
    if not matches:
        raise record_missing(f"The record for {what} Number {number} doesn't exist.")
    if len(matches) > 1:
        raise _invalid(number_name, f"The {what} number {number} matches {len(matches)} records; "
                                    f"send {id_name}.")
    return matches[0]


def _installment(fields: dict, invoice: dict | None) -> tuple[dict, dict]:
    """(invoice, installment) from ``InstalmentId`` (payment schedule id) or ``Instalment``
    (installment number) with the transaction; a one-installment transaction needs neither."""
    p = pod()
    schedule_id = _long(fields, "InstalmentId")
    if schedule_id is not None:
        found = p.store.installment(schedule_id)
        if found is None:
            raise record_missing(f"The record for Instalment ID {schedule_id} doesn't exist.")
        if invoice is None and not p.settings.soap_apply_accepts_instalment_id_alone:
            raise _invalid("CustomerTrxId", "JBO-27014: Attribute CustomerTrxId or "
                                            "TransactionNumber in ApplyReceipt is required.")
        if invoice is not None and found[0] is not invoice:
            raise _invalid("InstalmentId", f"The instalment {schedule_id} isn't an instalment of "
                                           f"transaction {invoice['header']['TransactionNumber']}.")
        return found
    if invoice is None:
        raise _invalid("CustomerTrxId", "JBO-27014: Attribute CustomerTrxId or TransactionNumber "
                                        "in ApplyReceipt is required.")
    number = _long(fields, "Instalment")
    installments = invoice["installments"]
    if number is not None:
        match = next((i for i in installments if i["InstallmentSequenceNumber"] == number), None)
        if match is None:
            raise record_missing(f"The record for Instalment {number} of transaction "
                                 f"{invoice['header']['TransactionNumber']} doesn't exist.")
        return invoice, match
    if len(installments) != 1:
        raise _invalid("Instalment", f"The transaction {invoice['header']['TransactionNumber']} has "
                                     "several instalments; send Instalment or InstalmentId.")
    return invoice, installments[0]


def _echo(fields: dict, receipt: dict, invoice: dict, installment: dict, application: dict) -> dict:
    """The request's fields with what the pod resolved filled in (clients read CustomerTrxId
    and ReceiptNumber from the answer, §1.3)."""
    header = invoice["header"]
    value = dict(fields)
    value.update({
        "AmountApplied": application["ApplicationAmount"], "ReceiptId": receipt["StandardReceiptId"],
        "CustomerTrxId": header["CustomerTransactionId"],
        "Instalment": installment["InstallmentSequenceNumber"],
        "ReceiptNumber": receipt["ReceiptNumber"], "TransactionNumber": header["TransactionNumber"],
        "ReceiptAmount": receipt["Amount"], "ReceiptDate": receipt["ReceiptDate"],
        "CustomerName": fields.get("CustomerName") or receipt["CustomerName"] or header["BillToCustomerName"],
        "TransactionDate": header["TransactionDate"], "TransactionSource": header["TransactionSource"],
        "ReceiptCurrency": receipt["Currency"], "ApplicationDate": application["ApplicationDate"],
        "AccountingDate": application["AccountingDate"], "InstalmentId": installment["InstallmentId"],
    })
    return value


def _refusal(exc: ApplicationRefused, object_name: str, attribute: str = "AmountApplied") -> ServiceFault:
    detail = {"message": exc.message, "objectName": object_name}
    if exc.on_amount:
        detail["attributeName"] = attribute
    return ServiceFault(exc.code, f"{exc.code}: {exc.message}", [detail], exception_class=APPLCORE)


@operation("StandardReceiptService", SR_TYPES, "createApplyReceipt")
def create_apply_receipt(op_el):
    fields = _fields(op_el)
    amount = _decimal(fields, "AmountApplied")
    if _decimal(fields, "Discount") not in (None, Decimal(0)):
        raise _invalid("Discount", "The sandbox doesn't model earned or unearned discounts; "
                                   "leave Discount empty.")
    application_date = _date(fields, "ApplicationDate")
    accounting_date = _date(fields, "AccountingDate")
    store = pod().store
    receipt = _by_id_or_number(fields, "ReceiptId", "ReceiptNumber", store.receipts,
                               lambda r: r["ReceiptNumber"], "Receipt")
    if receipt is None:
        raise _invalid("ReceiptId", "JBO-27014: Attribute ReceiptId or ReceiptNumber in "
                                    "ApplyReceipt is required.")
    source = fields.get("TransactionSource")
    invoice = _by_id_or_number(fields, "CustomerTrxId", "TransactionNumber", store.invoices,
                               lambda i: i["header"]["TransactionNumber"], "Transaction",
                               lambda i: source is None or i["header"]["TransactionSource"] == source)
    invoice, installment = _installment(fields, invoice)
    try:
        application = apply_receipt(receipt, invoice, installment, amount,
                                    application_date=application_date, accounting_date=accounting_date)
    except ApplicationRefused as exc:
        raise _refusal(exc, OBJECT) from None
    value = _echo(fields, receipt, invoice, installment, application)
    sdo = sdo_xml("ns1", value, APPLY_FIELDS, {"ReceiptAmount": receipt["Currency"]})
    return result_response(SR_TYPES, SR_NS, "createApplyReceipt", "ApplyReceiptResult",
                           f"<ns1:Value>{sdo}</ns1:Value>")


# --- unapplying ---------------------------------------------------------------------------------
# UnapplyReceipt SDO (the old stub's eight fields, then the two a 25D page adds). It has no
# amount: an application is reversed whole.
UNAPPLY_FIELDS = ["BusinessUnit", "ReceiptNumber", "TrxNumber", "CustomerTrxId", "Installment",
                  "AppliedPaymentScheduleId", "ReceivableApplicationId", "ReversalGlDate",
                  "InterfaceToBudgeting", "InterfaceFailureReason"]
UNAPPLY = "UnapplyReceipt"


def _receipt_in_business_unit(fields: _Sdo) -> dict:
    """These SDOs name the receipt by business unit and number only (no ReceiptId), so a number
    used twice in one business unit can't be told apart."""
    p = pod()
    bu, number = fields.get("BusinessUnit"), fields.get("ReceiptNumber")
    for name, value in (("BusinessUnit", bu), ("ReceiptNumber", number)):
        if value is None:
            raise _invalid(name, f"JBO-27014: Attribute {name} in {fields.object_name} is required.",
                           fields.object_name)
    if bu not in p.seed.business_units:
        raise _invalid("BusinessUnit", f"The business unit {bu} doesn't exist.", fields.object_name)
    matches = [r for r in p.store.receipts.values()
               if r["BusinessUnit"] == bu and r["ReceiptNumber"] == number]
    if not matches:
        raise record_missing(f"The record for Receipt Number {number} in {bu} doesn't exist.")
    if len(matches) > 1:
        raise _invalid("ReceiptNumber", f"The receipt number {number} matches {len(matches)} "
                                        f"receipts in {bu}.", fields.object_name)
    return matches[0]


def _names_application(fields: _Sdo, application: dict) -> bool:
    """Whether the transaction keys that were sent all agree with the application."""
    found = pod().store.installment(application["ReferenceInstallmentId"])
    sequence = found[1]["InstallmentSequenceNumber"] if found else None
    expected = {"CustomerTrxId": application["ReferenceTransactionId"],
                "TrxNumber": application["ReferenceTransactionNumber"],
                "AppliedPaymentScheduleId": application["ReferenceInstallmentId"],
                "Installment": sequence}
    return all(fields.get(name) is None or fields[name] == str(value)
               for name, value in expected.items())


def _application_to_unapply(fields: _Sdo, receipt: dict) -> dict:
    """By ``ReceivableApplicationId``, or else the one latest application of the receipt to the
    transaction the other keys name."""
    application_id = _long(fields, "ReceivableApplicationId")
    if application_id is not None:
        try:
            application = receipt_application(receipt, application_id)
        except ApplicationRefused as exc:
            raise _invalid("ReceivableApplicationId", exc.message, UNAPPLY) from None
        if not _names_application(fields, application):
            raise _invalid("ReceivableApplicationId", f"The receivable application {application_id} "
                                                      "doesn't apply to the transaction named.", UNAPPLY)
        return application
    if all(fields.get(k) is None for k in ("CustomerTrxId", "TrxNumber", "AppliedPaymentScheduleId")):
        raise _invalid("ReceivableApplicationId", "JBO-27014: Attribute ReceivableApplicationId, or "
                                                  "CustomerTrxId or TrxNumber, in UnapplyReceipt is "
                                                  "required.", UNAPPLY)
    matches = [a for a in pod().store.applications
               if a["kind"] == "receipt" and a["StandardReceiptId"] == receipt["StandardReceiptId"]
               and a["ApplicationStatus"] == "APP" and a["IsLatestApplication"] == "Y"
               and a["ApplicationAmount"] > 0 and _names_application(fields, a)]
    if not matches:
        raise record_missing(f"The receipt {receipt['ReceiptNumber']} has no application to the "
                             "transaction named.")
    if len(matches) > 1:
        raise _invalid("ReceivableApplicationId", f"The receipt {receipt['ReceiptNumber']} has "
                                                  f"{len(matches)} applications to the transaction; "
                                                  "send ReceivableApplicationId.", UNAPPLY)
    return matches[0]


@operation("StandardReceiptService", SR_TYPES, "createUnapplyReceipt")
def create_unapply_receipt(op_el):
    fields = _fields(op_el, "unapplyReceipt", UNAPPLY_FIELDS, UNAPPLY, frozenset())
    reversal_gl_date = _date(fields, "ReversalGlDate")
    receipt = _receipt_in_business_unit(fields)
    application = _application_to_unapply(fields, receipt)
    try:
        reversal = unapply_receipt(receipt, application, reversal_gl_date=reversal_gl_date)
    except ApplicationRefused as exc:
        raise _refusal(exc, UNAPPLY) from None
    _invoice, installment = pod().store.installment(application["ReferenceInstallmentId"])
    value = {**fields, "ReceiptNumber": receipt["ReceiptNumber"],
             "TrxNumber": application["ReferenceTransactionNumber"],
             "CustomerTrxId": application["ReferenceTransactionId"],
             "Installment": installment["InstallmentSequenceNumber"],
             "AppliedPaymentScheduleId": application["ReferenceInstallmentId"],
             "ReceivableApplicationId": application["ApplicationId"],
             "ReversalGlDate": reversal["AccountingDate"]}
    sdo = sdo_xml("ns1", value, UNAPPLY_FIELDS)
    return result_response(SR_TYPES, SR_NS, "createUnapplyReceipt", "UnapplyReceiptResult",
                           f"<ns1:Value>{sdo}</ns1:Value>")


# --- activity applications ---------------------------------------------------------------------
# ActivityApplication SDO in the WSDL stub's element order; its DFF and GDF are passed over.
ACTIVITY_FIELDS = [
    "BusinessUnit", "ReceiptNumber", "ReceivableTrxName", "AmountApplied", "ApplyDate",
    "ApplyGlDate", "AppliedPaymentScheduleId", "LinkToCustomerTrxId", "ReceivablesTrxId",
    "USSGLTransactionCode", "Comments", "PaymentSetId", "CustomerReference", "ValWriteoffLimits",
    "NettedReceipt", "NettedCashReceiptId", "SecondaryApplicationReferenceType",
    "SecondaryApplicationReferenceNumber", "CustomerReason", "PayGroupLookupCode", "PayAlone",
    "PaymentMethodCode", "PaymentReasonCode", "PaymentReasonComments", "DeliveryChannelCode",
    "RemitMessage", "RemittanceMessage", "RemitingMessage", "PartyId", "PartySiteId",
    "BankAccountId"]
ACTIVITY_SKIP = frozenset({DFF_FIELD, "ActivityApplicationGdfVA"})
ACTIVITY = "ActivityApplication"


def _activity(fields: _Sdo, business_unit: str) -> dict:
    """The business unit's activity by ``ReceivablesTrxId`` or ``ReceivableTrxName`` (agreeing
    when both come)."""
    activities = [a for (bu, _name), a in pod().seed.receivables_activities.items() if bu == business_unit]
    trx_id, name = _long(fields, "ReceivablesTrxId"), fields.get("ReceivableTrxName")
    if trx_id is None and name is None:
        raise _invalid("ReceivableTrxName", "JBO-27014: Attribute ReceivableTrxName or "
                                            "ReceivablesTrxId in ActivityApplication is required.", ACTIVITY)
    match = next((a for a in activities if (trx_id is None or a["id"] == trx_id)
                  and (name is None or a["name"] == name)), None)
    if match is None:
        named = name if trx_id is None else f"{name or ''} (ReceivablesTrxId {trx_id})".strip()
        raise _invalid("ReceivableTrxName" if name else "ReceivablesTrxId",
                       f"The receivables activity {named} doesn't exist in {business_unit}.", ACTIVITY)
    return match


@operation("StandardReceiptService", SR_TYPES, "createActivityApplication")
def create_activity_application(op_el):
    fields = _fields(op_el, "activityApplication", ACTIVITY_FIELDS, ACTIVITY, ACTIVITY_SKIP)
    amount = _decimal(fields, "AmountApplied")
    apply_date = _date(fields, "ApplyDate")
    gl_date = _date(fields, "ApplyGlDate")
    schedule = _typed(fields, "AppliedPaymentScheduleId", _signed, "number")
    if schedule is None:
        if pod().settings.activity_application_needs_schedule_id:
            raise _invalid("AppliedPaymentScheduleId", "JBO-27014: Attribute AppliedPaymentScheduleId "
                                                       "in ActivityApplication is required.", ACTIVITY)
        schedule = RECEIPT_WRITE_OFF
    if schedule != RECEIPT_WRITE_OFF:
        raise _invalid("AppliedPaymentScheduleId",
                       f"The sandbox models receipt write-offs only (AppliedPaymentScheduleId "
                       f"{RECEIPT_WRITE_OFF}); {schedule} isn't supported.", ACTIVITY)
    if amount is None:
        raise _invalid("AmountApplied", "JBO-27014: Attribute AmountApplied in ActivityApplication "
                                        "is required.", ACTIVITY)
    receipt = _receipt_in_business_unit(fields)
    activity = _activity(fields, receipt["BusinessUnit"])
    if activity["type"] != WRITE_OFF_TYPE:
        raise _invalid("ReceivableTrxName", f"The receivables activity {activity['name']} is of type "
                                            f"{activity['type']}, not {WRITE_OFF_TYPE}.", ACTIVITY)
    try:
        row = apply_activity(receipt, activity, amount, apply_date=apply_date, gl_date=gl_date,
                             comments=fields.get("Comments"),
                             customer_reference=fields.get("CustomerReference"))
    except ApplicationRefused as exc:
        raise _refusal(exc, ACTIVITY) from None
    value = {**fields, "ReceiptNumber": receipt["ReceiptNumber"], "ReceivableTrxName": activity["name"],
             "ReceivablesTrxId": activity["id"], "AmountApplied": row["ApplicationAmount"],
             "ApplyDate": row["ApplicationDate"], "ApplyGlDate": row["AccountingDate"],
             "AppliedPaymentScheduleId": RECEIPT_WRITE_OFF}
    sdo = sdo_xml("ns1", value, ACTIVITY_FIELDS)
    return result_response(SR_TYPES, SR_NS, "createActivityApplication", "ActivityApplicationResult",
                           f"<ns1:Value>{sdo}</ns1:Value>")
