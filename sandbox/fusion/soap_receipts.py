"""SOAP ``/fscmService/StandardReceiptService`` ``createApplyReceipt``: apply a receipt to an
invoice installment (reference §1.3, §1.5).

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
from .receivables import ApplicationRefused, apply_receipt
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


def _fields(op_el: Element) -> dict:
    """The ``applyReceipt`` fields as text or None (empty and ``xsi:nil`` alike); elements the
    WSDL doesn't have fault, naming the element."""
    fields = sdo_to_dict(parameter(op_el, SR_TYPES, "applyReceipt"), SR_NS, set(),
                         skip=frozenset({DFF_FIELD}))
    unknown = [name for name in fields if name not in APPLY_FIELDS]
    if unknown:
        raise ServiceFault("env:Client", f"Unexpected element {unknown[0]} in ApplyReceipt; the "
                           f"elements are {', '.join(APPLY_FIELDS + [DFF_FIELD])}.")
    return {name: value or None for name, value in fields.items()}


def _invalid(name: str, message: str) -> ServiceFault:
    return row_invalid({"message": message, "attributeName": name, "objectName": OBJECT})


def _typed(fields: dict, name: str, parse, kind: str):
    """``parse(text)`` of the field, None when absent; a row fault naming it when malformed."""
    raw = fields.get(name)
    if raw is None:
        return None
    try:
        return parse(raw)
    except (ValueError, InvalidOperation):
        raise _invalid(name, f"The value {raw} of {name} isn't a valid {kind}.") from None


def _id(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


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
        detail = {"message": exc.message, "objectName": OBJECT}
        if exc.on_amount:
            detail["attributeName"] = "AmountApplied"
        raise ServiceFault(exc.code, f"{exc.code}: {exc.message}", [detail],
                           exception_class=APPLCORE) from None
    value = _echo(fields, receipt, invoice, installment, application)
    sdo = sdo_xml("ns1", value, APPLY_FIELDS, {"ReceiptAmount": receipt["Currency"]})
    return result_response(SR_TYPES, SR_NS, "createApplyReceipt", "ApplyReceiptResult",
                           f"<ns1:Value>{sdo}</ns1:Value>")
