"""``receivablesInvoices`` writes: POST (create, or upsert with ``Upsert-Mode: true``), PATCH and
DELETE. The views hang on :data:`rest_invoices.bp`.

Upsert (rest.md §0: "find a matching item and update it instead of creating") matches an invoice
by ``TransactionNumber`` + ``TransactionSource`` and applies the payload's updatable attributes
(``InvoiceStatus``, ``PaymentTerms``, ``TransactionDate``); the rest of the payload, lines
included, is left as the stored invoice has it. No match (or no number) creates as usual.
"""
from __future__ import annotations

from .errors import bad_request
from .rest_common import (
    check_if_match, check_version, created_response, framework_version, json_body, json_response,
    parse_shape, pod, upsert_requested,
)
from .rest_invoices import (
    CHILD_ATTRS, PREFIX, SPEC, bp, create_invoice, due_date, get_record, parse_date, render_public,
    touch,
)


def update_invoice(record: dict, body: dict) -> None:
    """Apply the updatable attributes in ``body`` (rest.md §1.7); 400 for any other attribute."""
    seed = pod().seed
    header = record["header"]
    for attr in body:
        if attr not in SPEC.updatable:
            raise bad_request(f"The attribute {attr} can't be updated; only InvoiceStatus, "
                              "PaymentTerms and TransactionDate are updatable.", "JBO-27008",
                              f"/{attr}")
    if "InvoiceStatus" in body:
        status = body["InvoiceStatus"]
        if status not in ("Complete", "Incomplete", "Frozen"):
            raise bad_request(f"The value of the attribute InvoiceStatus isn't valid: {status!r}.",
                              "AR-855012", "/InvoiceStatus")
        if status == "Incomplete" and any(i["AmountPaid"] or i["InstallmentAmountCredited"]
                                          for i in record["installments"]):
            raise bad_request("You can't incomplete a transaction that has activity against it.",
                              "AR-855013", "/InvoiceStatus")
        header["InvoiceStatus"] = status
    if "PaymentTerms" in body:
        if body["PaymentTerms"] not in seed.payment_terms:
            raise bad_request(f"The value of the attribute PaymentTerms isn't valid: "
                              f"{body['PaymentTerms']!r}.", "AR-855004", "/PaymentTerms")
        header["PaymentTerms"] = body["PaymentTerms"]
    if "TransactionDate" in body:
        header["TransactionDate"] = parse_date(body["TransactionDate"], "TransactionDate")
    if "PaymentTerms" in body or "TransactionDate" in body:
        header["DueDate"] = due_date(header["TransactionDate"], header["PaymentTerms"])
        for inst in record["installments"]:
            inst["InstallmentDueDate"] = header["DueDate"]
    touch(record)


def _upsert_match(body: dict) -> dict | None:
    number, source = body.get("TransactionNumber"), body.get("TransactionSource")
    if not number or not source:
        return None
    return next((r for r in pod().store.invoices.values()
                 if r["header"]["TransactionNumber"] == number
                 and r["header"]["TransactionSource"] == source), None)


@bp.post(PREFIX)
def post_invoice(version):
    check_version(version)
    fw = framework_version()
    body = json_body()
    shape = parse_shape(SPEC, CHILD_ATTRS)
    upsert = upsert_requested()
    with pod().store.lock:
        existing = _upsert_match(body) if upsert else None
        if existing is not None:
            update_invoice(existing, {a: v for a, v in body.items() if a in SPEC.updatable})
            return json_response(render_public(existing, shape, fw))
        record = create_invoice(body)
        inline = record["posted"] if pod().settings.echo_children_on_create else set()
        item = render_public(record, shape, fw, inline)
    return created_response(SPEC, record["header"]["CustomerTransactionId"], item)


@bp.patch(PREFIX + "/<trx_id>")
def patch_invoice(version, trx_id):
    check_version(version)
    fw = framework_version()
    body = json_body()
    with pod().store.lock:
        record = get_record(trx_id)
        check_if_match(record["version"])
        update_invoice(record, body)
        return json_response(render_public(record, parse_shape(SPEC, CHILD_ATTRS), fw))


@bp.delete(PREFIX + "/<trx_id>")
def delete_invoice(version, trx_id):
    check_version(version)
    framework_version()
    with pod().store.lock:
        record = get_record(trx_id)
        check_if_match(record["version"])
        if record["header"]["InvoiceStatus"] != "Incomplete":
            raise bad_request("You can only delete an incomplete transaction.", "AR-855014",
                              "/InvoiceStatus")
        del pod().store.invoices[record["header"]["CustomerTransactionId"]]
    return "", 204
