"""``receivablesInvoices``: create with lines/tax lines/distributions, read, query (the write
views — POST/upsert, PATCH, DELETE — are in :mod:`rest_invoice_writes`).

Validation follows what a Receivables pod checks on create (set-up names, numbering, customer
bill-to site in the business unit's reference set, ADF attribute checks) so a connector that
passes here has a fair chance on a real pod. Amounts are Decimal end to end.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import Blueprint

from . import customers
from .errors import bad_request, not_found
from .money import rounded, to_decimal
from .periods import refuse_rest
from .query import DATE, DATETIME, NUM, STR
from .rest_common import (
    ResourceSpec, caller, change_indicator, check_attributes, check_version, child_page,
    collection_response, describe, flat_attributes, framework_version, get_or_404, item_response,
    pod, resource_url, shape_item, wants_nested, with_nested,
)
from .seed import Seed
from .store import today

bp = Blueprint("fusion_invoices", __name__)
PREFIX = "/fscmRestApi/resources/<version>/receivablesInvoices"
PERCENT = Decimal("0.01")  # a distribution's Percent: two decimals, whatever the currency

# --- attribute catalogue (rest.md §1.2–1.5) -------------------------------------------------------
HEADER_WRITABLE = [
    "AccountingDate", "AllowCompletion", "BankAccountNumber", "BillToContact", "BillToCustomerName",
    "BillToCustomerNumber", "BillToSite", "BillingDate", "BusinessUnit", "CardHolderFirstName",
    "CardHolderLastName", "Carrier", "Comments", "ControlCompletionReason", "ConversionDate",
    "ConversionRate", "ConversionRateType", "CreditCardAuthorizationRequestIdentifier",
    "CreditCardErrorCode", "CreditCardErrorText", "CreditCardExpirationDate", "CreditCardIssuerCode",
    "CreditCardTokenNumber", "CreditCardVoiceAuthorizationCode", "CrossReference",
    "CustomerTransactionId", "DefaultTaxationCountry", "DeliveryMethod",
    "DocumentFiscalClassification", "DocumentNumber", "DueDate", "Email",
    "FirstPartyRegistrationNumber", "FreightAmount", "InitialCustomerTrxId", "Intercompany",
    "InternalNotes", "InvoiceCurrencyCode", "InvoicePrinted", "InvoiceStatus", "InvoicingRule",
    "LastPrintDate", "LegalEntityIdentifier", "OriginalPrintDate", "PayingCustomerAccount",
    "PayingCustomerName", "PayingCustomerSite", "PaymentTerms", "Prepayment", "PrintOption",
    "PurchaseOrder", "PurchaseOrderDate", "PurchaseOrderRevision", "ReceiptMethod",
    "RemitToAddress", "SalesPersonNumber", "ShipDate", "ShipToContact", "ShipToCustomerName",
    "ShipToCustomerNumber", "ShipToSite", "ShippingReference", "SoldToPartyNumber",
    "SpecialInstructions", "StructuredPaymentReference", "ThirdPartyRegistrationNumber",
    "TransactionDate", "TransactionNumber", "TransactionSource", "TransactionType",
]
HEADER_READ_ONLY = ["BillToPartyId", "EnteredAmount", "InvoiceBalanceAmount", "CreatedBy",
                    "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
CHILDREN = ["receivablesInvoiceLines", "receivablesInvoiceDistributions",
            "receivablesInvoiceInstallments", "receivablesInvoiceDFF", "receivablesInvoiceGdf",
            "receivablesInvoiceTransactionDFF", "attachments", "notes"]
SUPPORTED_POST_CHILDREN = {"receivablesInvoiceLines", "receivablesInvoiceDistributions"}
LINE_WRITABLE = [
    "AccountingRule", "AccountingRuleDuration", "AllocatedFreightAmount", "AssessableValue",
    "CustomerTransactionLineId", "Description", "ItemNumber", "LineAmount", "LineAmountIncludesTax",
    "LineIntendedUse", "LineNumber", "MemoLine", "PrepayCustomerTrxId", "PrepayTrxNumber",
    "ProductCategory", "ProductFiscalClassification", "ProductType", "Quantity",
    "RemainingPrepayAmount", "RuleEndDate", "RuleStartDate", "SalesOrder", "SalesOrderDate",
    "TaxClassificationCode", "TaxExemptionCertificateNumber", "TaxExemptionHandling",
    "TaxExemptionReason", "TaxInvoiceDate", "TaxInvoiceNumber", "TransacationBusinessCategory",
    "UnitOfMeasure", "UnitSellingPrice", "UserDefinedFiscalClassification", "Warehouse",
]
LINE_CHILDREN = ["receivablesInvoiceLineTaxLines", "receivablesInvoiceLineDFF",
                 "receivablesInvoiceLineGdf", "receivablesInvoiceLineTransactionDFF", "attachments"]
TAX_WRITABLE = ["TaxRegimeCode", "TaxRateCode", "TaxAmount", "Tax", "TaxRate", "TaxStatusCode",
                "TaxJurisdictionCode", "TaxInclusiveIndicator"]
DIST_WRITABLE = ["AccountClass", "AccountCombination", "AccountedAmount", "Amount", "Comments",
                 "DetailedTaxLineNumber", "DistributionId", "InvoiceLineNumber", "Percent"]
ACCOUNT_CLASSES = {"Revenue", "Receivable", "Tax", "Freight", "UnearnedRevenue", "UnbilledReceivable"}
INSTALLMENT_ATTRS = ["InstallmentId", "InstallmentSequenceNumber", "InstallmentDueDate",
                     "OriginalAmount", "InstallmentBalanceDue", "AccountedBalanceDue", "AmountPaid",
                     "InstallmentAmountAdjusted", "InstallmentAmountCredited", "InstallmentStatus",
                     "DisputeAmount", "DisputeDate", "PaymentDaysLate", "ExcludeFromCollections"]

_NUM_ATTRS = {"CustomerTransactionId", "BillToPartyId", "InitialCustomerTrxId", "EnteredAmount",
              "InvoiceBalanceAmount", "FreightAmount", "ConversionRate"}
_DATE_ATTRS = {"AccountingDate", "BillingDate", "DueDate", "TransactionDate", "ShipDate",
               "PurchaseOrderDate", "ConversionDate", "LastPrintDate", "OriginalPrintDate",
               "CreditCardExpirationDate"}
_ALL_ATTRS = ["CustomerTransactionId"] + [a for a in HEADER_WRITABLE if a != "CustomerTransactionId"] \
    + HEADER_READ_ONLY


def _kind(attr: str) -> str:
    if attr in _NUM_ATTRS:
        return NUM
    if attr in _DATE_ATTRS:
        return DATE
    if attr in ("CreationDate", "LastUpdateDate"):
        return DATETIME
    return STR


SPEC = ResourceSpec(
    name="receivablesInvoices", api="fscmRestApi", key="CustomerTransactionId",
    attributes={a: _kind(a) for a in _ALL_ATTRS},
    queryable={"AllowCompletion", "BillToPartyId", "BillingDate", "CreatedBy", "CreationDate",
               "CustomerTransactionId", "DeliveryMethod", "Email", "InitialCustomerTrxId",
               "InvoiceBalanceAmount", "InvoiceStatus", "LastPrintDate", "LastUpdateDate",
               "LastUpdatedBy", "OriginalPrintDate", "ReceiptMethod", "SalesPersonNumber",
               "ShipToContact", "TransactionNumber"},
    finders={
        "PrimaryKey": {"CustomerTransactionId": "CustomerTransactionId"},
        "invoiceSearch": {v: v for v in [
            "AccountingDate", "AllowCompletion", "BillToCustomerName", "BillToCustomerNumber",
            "BillToSite", "BillingDate", "BusinessUnit", "CrossReference", "DocumentNumber",
            "DueDate", "InvoiceCurrencyCode", "InvoiceStatus", "LegalEntityIdentifier",
            "PaymentTerms", "PurchaseOrder", "ShipToCustomerName", "ShipToSite", "TransactionDate",
            "TransactionNumber", "TransactionSource", "TransactionType"]}
        | {"FirstPartyTaxRegistration": "FirstPartyRegistrationNumber",
           "ThirdPartyTaxRegistration": "ThirdPartyRegistrationNumber"},
    },
    children=CHILDREN,
    updatable={"InvoiceStatus", "PaymentTerms", "TransactionDate"},
)
TAX_LINE_ATTRS = {"CustomerTransactionLineId"} | set(TAX_WRITABLE)
LINE_NESTED = {"receivablesInvoiceLineTaxLines": TAX_LINE_ATTRS}
CHILD_ATTRS = {
    "receivablesInvoiceLines": set(LINE_WRITABLE),
    "receivablesInvoiceDistributions": set(DIST_WRITABLE),
    "receivablesInvoiceInstallments": set(INSTALLMENT_ATTRS),
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LENGTHS = {"TransactionNumber": 20, "TransactionSource": 50, "TransactionType": 20,
            "PaymentTerms": 15, "InvoiceCurrencyCode": 15, "Comments": 1760, "PurchaseOrder": 50,
            "BillToCustomerNumber": 30, "BusinessUnit": 240, "BillToSite": 150}


# --- helpers ---------------------------------------------------------------------------------------
def parse_date(value, attr: str, path: str = "") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise bad_request(f"The value {value!r} of the attribute {attr} isn't a valid date "
                          "(YYYY-MM-DD).", "JBO-27018", f"{path}/{attr}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"The value {value!r} of the attribute {attr} isn't a valid date.",
                          "JBO-27018", f"{path}/{attr}") from None
    return value


def due_date(transaction_date: str, terms: str) -> str:
    days = pod().seed.payment_terms[terms].get("due_days", 0)
    return (date.fromisoformat(transaction_date) + timedelta(days=days)).isoformat()


def require_name(body: dict, attr: str, table: dict, what: str) -> str:
    value = body.get(attr)
    if value in (None, ""):
        raise bad_request(f"The attribute {attr} is required.", "JBO-27014", f"/{attr}")
    if value not in table:
        raise bad_request(f"The value of the attribute {attr} isn't valid: {what} {value!r} "
                          "doesn't exist.", "AR-855001", f"/{attr}")
    return value


def check_number(seed: Seed, store, source_name: str, number: str | None, fault) -> str:
    """Manual sources need a number; numbers are unique per source, invoices and credit memos
    alike. ``fault`` builds the protocol's error (REST ``bad_request``, a SOAP row fault)."""
    source = seed.transaction_sources[source_name]
    if not number:
        if source.get("numbering", "manual") == "manual":
            raise fault(f"The transaction source {source_name} uses manual numbering, so the "
                        "attribute TransactionNumber is required.", "AR-855010", "/TransactionNumber")
        number = store.new_transaction_number()
    if store.transaction_number_taken(source_name, number):
        raise fault(f"The transaction number {number} already exists for the transaction source "
                    f"{source_name}.", "AR-855011", "/TransactionNumber")
    return number


def touch(record: dict) -> None:
    """Every change moves LastUpdateDate forward and changes the changeIndicator."""
    record["header"]["LastUpdateDate"] = pod().store.stamp()
    record["header"]["LastUpdatedBy"] = caller()
    record["version"] += 1


def in_currency(record: dict, amount) -> Decimal:
    """``amount`` at the precision of the invoice's (or debit memo's) currency."""
    return rounded(amount, record["header"]["InvoiceCurrencyCode"])


def refresh_balance(record: dict) -> None:
    installments = record["installments"]
    record["header"]["InvoiceBalanceAmount"] = in_currency(record, sum(i["InstallmentBalanceDue"] for i in installments))
    for inst in installments:
        inst["AccountedBalanceDue"] = inst["InstallmentBalanceDue"]
        inst["InstallmentStatus"] = "Closed" if inst["InstallmentBalanceDue"] == 0 else "Open"


def flat(record: dict) -> dict:
    """The item's attributes (no children, no links), rendered for JSON and for queries."""
    return flat_attributes(record["header"], _ALL_ATTRS)


def children(record: dict) -> dict[str, list[dict]]:
    return {
        "receivablesInvoiceLines": record["lines"],
        "receivablesInvoiceDistributions": record["distributions"],
        "receivablesInvoiceInstallments": record["installments"],
    }


def render(record: dict, shape, fw: int, inline=frozenset()) -> dict:
    kids = children(record)
    if "receivablesInvoiceLines" in shape.expand or "receivablesInvoiceLines" in inline:
        kids["receivablesInvoiceLines"] = [_render_line(record, line, fw) for line in record["lines"]]
    return shape_item(SPEC, flat(record), kids, shape, record["header"]["CustomerTransactionId"],
                      change_indicator(record["version"]), fw, inline)


def _render_line(record: dict, line: dict, fw: int) -> dict:
    href = (f"{resource_url(SPEC, record['header']['CustomerTransactionId'])}/child/"
            f"receivablesInvoiceLines/{line['CustomerTransactionLineId']}")
    return with_nested(line, "receivablesInvoiceLineTaxLines", href, fw)


def get_record(trx_id: str) -> dict:
    return get_or_404(pod().store.invoices, trx_id, f"The receivables invoice {trx_id} doesn't exist.")




# --- create -----------------------------------------------------------------------------------------
def _validate_lines(raw_lines, seed, settings, currency: str) -> tuple[list[dict], Decimal, Decimal]:
    """Validated lines, their total amount and exclusive tax (inclusive tax is inside lines), each
    amount at the currency's precision."""
    if not isinstance(raw_lines, list) or not raw_lines:
        raise bad_request("An invoice requires at least one line.", "AR-855030",
                          "/receivablesInvoiceLines")
    store = pod().store
    lines, numbers = [], set()
    lines_total = Decimal(0)
    exclusive_tax = Decimal(0)
    for idx, raw in enumerate(raw_lines):
        path = f"/receivablesInvoiceLines/{idx}"
        if not isinstance(raw, dict):
            raise bad_request("Each invoice line must be an object.", "", path)
        check_attributes(raw, set(LINE_WRITABLE) | set(LINE_CHILDREN), "receivablesInvoiceLines", path)
        number = raw.get("LineNumber")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise bad_request("The attribute LineNumber is required and must be a positive integer.",
                              "JBO-27014", f"{path}/LineNumber")
        if number in numbers:
            raise bad_request(f"The line number {number} is used more than once.", "AR-855031",
                              f"{path}/LineNumber")
        numbers.add(number)
        memo = raw.get("MemoLine")
        if memo is not None and memo not in seed.memo_lines:
            raise bad_request(f"The value of the attribute MemoLine isn't valid: memo line {memo!r} "
                              "doesn't exist.", "AR-855002", f"{path}/MemoLine")
        description = raw.get("Description") or memo
        if not description:
            raise bad_request("The attribute Description is required when no memo line is given.",
                              "JBO-27014", f"{path}/Description")
        qty = to_decimal(raw.get("Quantity"), "Quantity", path)
        price = to_decimal(raw.get("UnitSellingPrice"), "UnitSellingPrice", path)
        amount = to_decimal(raw.get("LineAmount"), "LineAmount", path)
        if amount is None:
            if qty is None or price is None:
                raise bad_request("Provide Quantity and UnitSellingPrice, or LineAmount.",
                                  "AR-855032", path)
            amount = rounded(qty * price, currency)
        else:
            amount = rounded(amount, currency)
            if qty is not None and price is not None and rounded(qty * price, currency) != amount:
                raise bad_request(f"The line amount {amount} doesn't equal the quantity times the "
                                  "unit selling price.", "AR-855033", f"{path}/LineAmount")
            if qty is None and price is None:
                qty, price = Decimal(1), amount
        includes_tax = raw.get("LineAmountIncludesTax") or "N"
        if includes_tax not in ("Y", "N", "S"):
            raise bad_request("LineAmountIncludesTax must be Y, N or S.", "", f"{path}/LineAmountIncludesTax")
        tax_lines = []
        inclusive_tax = Decimal(0)
        for t_idx, raw_tax in enumerate(raw.get("receivablesInvoiceLineTaxLines") or []):
            t_path = f"{path}/receivablesInvoiceLineTaxLines/{t_idx}"
            if not isinstance(raw_tax, dict):
                raise bad_request("Each tax line must be an object.", "", t_path)
            check_attributes(raw_tax, set(TAX_WRITABLE), "receivablesInvoiceLineTaxLines", t_path)
            regime, rate = raw_tax.get("TaxRegimeCode"), raw_tax.get("TaxRateCode")
            if not regime or not rate:
                raise bad_request("A manual tax line requires TaxRegimeCode and TaxRateCode.",
                                  "ZX-700001", t_path)
            if settings.validate_tax_codes and not seed.tax_rate_known(regime, rate):
                raise bad_request(f"The tax rate code {rate} isn't valid for the tax regime {regime}.",
                                  "ZX-700002", f"{t_path}/TaxRateCode")
            tax_amount = to_decimal(raw_tax.get("TaxAmount"), "TaxAmount", t_path)
            if tax_amount is None:
                raise bad_request("A manual tax line requires TaxAmount.", "JBO-27014",
                                  f"{t_path}/TaxAmount")
            tax_amount = rounded(tax_amount, currency)
            indicator = raw_tax.get("TaxInclusiveIndicator") or ("Y" if includes_tax == "Y" else "N")
            if indicator not in ("Y", "N"):
                raise bad_request("TaxInclusiveIndicator must be Y or N.", "",
                                  f"{t_path}/TaxInclusiveIndicator")
            if indicator == "Y":
                inclusive_tax += tax_amount
            else:
                exclusive_tax += tax_amount
            tax_lines.append({"CustomerTransactionLineId": store.new_id(),
                              "TaxRegimeCode": regime, "TaxRateCode": rate,
                              "TaxAmount": tax_amount, "Tax": raw_tax.get("Tax") or regime,
                              "TaxRate": to_decimal(raw_tax.get("TaxRate"), "TaxRate", t_path),
                              "TaxStatusCode": raw_tax.get("TaxStatusCode") or rate,
                              "TaxJurisdictionCode": raw_tax.get("TaxJurisdictionCode"),
                              "TaxInclusiveIndicator": indicator})
        line = {a: raw.get(a) for a in LINE_WRITABLE}
        line.update({"CustomerTransactionLineId": store.new_id(), "LineNumber": number,
                     "Description": description, "Quantity": qty, "UnitSellingPrice": price,
                     "LineAmount": amount, "LineAmountIncludesTax": includes_tax,
                     "receivablesInvoiceLineTaxLines": tax_lines,
                     "_net": amount - inclusive_tax})
        lines.append(line)
        lines_total += amount
    return lines, lines_total, exclusive_tax


def _distributions(raw_dists, lines, total, freight, seed, settings, currency: str) -> list[dict]:
    """Posted distributions validated, or AutoAccounting-style defaults from the seed."""
    store = pod().store
    by_number = {line["LineNumber"]: line for line in lines}
    out = []
    if raw_dists is not None:
        if not isinstance(raw_dists, list):
            raise bad_request("receivablesInvoiceDistributions must be an array.", "",
                              "/receivablesInvoiceDistributions")
        revenue_by_line: dict[int, Decimal] = {}
        for idx, raw in enumerate(raw_dists):
            path = f"/receivablesInvoiceDistributions/{idx}"
            if not isinstance(raw, dict):
                raise bad_request("Each distribution must be an object.", "", path)
            check_attributes(raw, set(DIST_WRITABLE), "receivablesInvoiceDistributions", path)
            cls = raw.get("AccountClass")
            if cls not in ACCOUNT_CLASSES:
                raise bad_request(f"The value of the attribute AccountClass isn't valid: {cls!r}.",
                                  "AR-855040", f"{path}/AccountClass")
            combo = raw.get("AccountCombination")
            if combo not in seed.gl_accounts:
                raise bad_request(f"The account combination {combo!r} isn't valid.", "GL-000001",
                                  f"{path}/AccountCombination")
            amount = to_decimal(raw.get("Amount"), "Amount", path)
            percent = to_decimal(raw.get("Percent"), "Percent", path)
            line_no = raw.get("InvoiceLineNumber")
            if cls != "Receivable":
                if line_no not in by_number:
                    raise bad_request(f"The invoice line number {line_no!r} doesn't exist on this "
                                      "invoice.", "AR-855041", f"{path}/InvoiceLineNumber")
                base = by_number[line_no]["_net"]
            else:
                base = total
            if amount is None and percent is None:
                raise bad_request("A distribution requires Amount or Percent.", "AR-855042", path)
            amount = rounded(amount if amount is not None else base * percent / 100, currency)
            if cls == "Revenue":
                revenue_by_line[line_no] = revenue_by_line.get(line_no, Decimal(0)) + amount
            out.append({"DistributionId": store.new_id(), "AccountClass": cls,
                        "AccountCombination": combo, "Amount": amount, "AccountedAmount": amount,
                        "Percent": percent if percent is not None
                        else ((amount * 100 / base).quantize(PERCENT, ROUND_HALF_UP) if base else None),
                        "InvoiceLineNumber": line_no if cls != "Receivable" else None,
                        "Comments": raw.get("Comments"),
                        "DetailedTaxLineNumber": raw.get("DetailedTaxLineNumber")})
        if settings.validate_distribution_totals:
            for number, amount in revenue_by_line.items():
                if amount != by_number[number]["_net"]:
                    raise bad_request(f"The revenue distributions of line {number} total {amount}, "
                                      f"not the line amount {by_number[number]['_net']}.",
                                      "AR-855043", "/receivablesInvoiceDistributions")
    classes_for_line = {(d["AccountClass"], d["InvoiceLineNumber"]) for d in out}
    tax_account = None
    for line in lines:
        memo = seed.memo_lines.get(line.get("MemoLine") or "Merchandise") or {}
        revenue_account = memo.get("revenue_account") or next(iter(seed.gl_accounts))
        if ("Revenue", line["LineNumber"]) not in classes_for_line:
            out.append(_auto_dist(store, "Revenue", revenue_account, line["_net"], line["LineNumber"]))
        for tax in line["receivablesInvoiceLineTaxLines"]:
            if ("Tax", line["LineNumber"]) not in classes_for_line:
                tax_account = seed.tax_regimes[tax["TaxRegimeCode"]].get("tax_account") \
                    if tax["TaxRegimeCode"] in seed.tax_regimes else None
                out.append(_auto_dist(store, "Tax", tax_account or _gl(seed, "tax"),
                                      tax["TaxAmount"], line["LineNumber"]))
    if freight and not any(d["AccountClass"] == "Freight" for d in out):
        out.append(_auto_dist(store, "Freight", _gl(seed, "freight"), freight, None))
    if not any(d["AccountClass"] == "Receivable" for d in out):
        out.insert(0, _auto_dist(store, "Receivable", _gl(seed, "receivable"), total, None))
    return out


def _gl(seed, purpose: str) -> str:
    return next((c for c, row in seed.gl_accounts.items() if row.get("purpose") == purpose),
                next(iter(seed.gl_accounts)))


def _auto_dist(store, cls, combo, amount, line_no) -> dict:
    return {"DistributionId": store.new_id(), "AccountClass": cls, "AccountCombination": combo,
            "Amount": amount, "AccountedAmount": amount, "Percent": Decimal(100) if cls == "Receivable" else None,
            "InvoiceLineNumber": line_no, "Comments": None, "DetailedTaxLineNumber": None}


def invoice_classes(settings) -> set[str]:
    """Transaction classes this resource creates. A debit memo (DM) is billed, paid and credited
    like an invoice, so once stored it follows the invoice's balance and credit rules."""
    return {"INV", "DM"} if settings.invoice_post_accepts_debit_memo else {"INV"}


def create_invoice(body: dict) -> dict:
    """Validate and store one invoice; returns the record (caller holds the store lock)."""
    p = pod()
    seed, settings, store = p.seed, p.settings, p.store
    check_attributes(body, set(HEADER_WRITABLE) | set(CHILDREN), "receivablesInvoices",
                     read_only=set(HEADER_READ_ONLY))
    for child in CHILDREN:
        if child in body and child not in SUPPORTED_POST_CHILDREN:
            raise bad_request(f"The sandbox doesn't accept {child} on create.", "", f"/{child}")
    for attr, limit in MAX_LENGTHS.items():
        value = body.get(attr)
        if isinstance(value, str) and len(value) > limit:
            raise bad_request(f"The value of the attribute {attr} exceeds the maximum length of "
                              f"{limit} characters.", "JBO-27022", f"/{attr}")
    bu_name = require_name(body, "BusinessUnit", seed.business_units, "business unit")
    bu = seed.business_units[bu_name]
    source_name = require_name(body, "TransactionSource", seed.transaction_sources,
                                "transaction source")
    type_name = require_name(body, "TransactionType", seed.transaction_types, "transaction type")
    if seed.transaction_types[type_name].get("class") not in invoice_classes(settings):
        raise bad_request(f"The transaction type {type_name} isn't an invoice transaction type.",
                          "AR-855003", "/TransactionType")
    number = check_number(seed, store, source_name, body.get("TransactionNumber"), bad_request)
    status = body.get("InvoiceStatus") or "Complete"
    if status != "Complete":
        raise bad_request("The value of the attribute InvoiceStatus must be Complete when "
                          "creating a receivables invoice.", "AR-855012", "/InvoiceStatus")
    trx_date = parse_date(body.get("TransactionDate"), "TransactionDate") or today().isoformat()
    acct_date = parse_date(body.get("AccountingDate"), "AccountingDate") or trx_date
    for attr in ("BillingDate", "DueDate", "ShipDate", "PurchaseOrderDate", "ConversionDate"):
        parse_date(body.get(attr), attr)
    terms = body.get("PaymentTerms") or next(iter(seed.payment_terms))
    if terms not in seed.payment_terms:
        raise bad_request(f"The value of the attribute PaymentTerms isn't valid: payment terms "
                          f"{terms!r} don't exist.", "AR-855004", "/PaymentTerms")
    currency = body.get("InvoiceCurrencyCode") or bu["currency"]
    if currency != bu["currency"] and not body.get("ConversionRateType"):
        raise bad_request(f"The invoice currency {currency} differs from the ledger currency "
                          f"{bu['currency']}, so ConversionRateType is required.", "AR-855005",
                          "/ConversionRateType")
    if body.get("ConversionRateType") == "User" and body.get("ConversionRate") in (None, ""):
        raise bad_request("The conversion rate type is User, so the attribute ConversionRate is "
                          "required.", "AR-855007", "/ConversionRate")
    refuse_rest(p.calendar, settings, accounting_date=acct_date, date_path="/AccountingDate", currency=currency,
                ledger=bu["currency"], rate_type=body.get("ConversionRateType"),
                conversion_date=parse_date(body.get("ConversionDate"), "ConversionDate") or trx_date,
                rate=body.get("ConversionRate"))
    if body.get("ReceiptMethod") and body["ReceiptMethod"] not in seed.receipt_methods:
        raise bad_request(f"The receipt method {body['ReceiptMethod']!r} doesn't exist.",
                          "AR-855006", "/ReceiptMethod")
    account, site = customers.resolve_bill_to(body, bu, settings)
    lines, lines_total, exclusive_tax = _validate_lines(body.get("receivablesInvoiceLines"),
                                                         seed, settings, currency)
    freight = rounded(to_decimal(body.get("FreightAmount"), "FreightAmount") or 0, currency)
    total = lines_total + exclusive_tax + freight
    distributions = _distributions(body.get("receivablesInvoiceDistributions"), lines, total,
                                   freight, seed, settings, currency)
    trx_id = store.new_id()
    now = store.stamp()
    header = {a: body.get(a) for a in HEADER_WRITABLE}
    header.update({
        "CustomerTransactionId": trx_id, "TransactionNumber": number,
        "TransactionSource": source_name, "TransactionType": type_name, "BusinessUnit": bu_name,
        "TransactionDate": trx_date, "AccountingDate": acct_date,
        "DueDate": body.get("DueDate") or due_date(trx_date, terms),
        "BillToCustomerName": account["AccountName"] or customers.party_name(account),
        "BillToCustomerNumber": account["AccountNumber"], "BillToPartyId": account["PartyId"],
        "BillToSite": site["SiteNumber"], "InvoiceCurrencyCode": currency, "PaymentTerms": terms,
        "InvoiceStatus": status, "FreightAmount": freight if body.get("FreightAmount") is not None else None,
        "EnteredAmount": total, "InvoiceBalanceAmount": total,
        "LegalEntityIdentifier": body.get("LegalEntityIdentifier") or bu.get("legal_entity"),
        "AllowCompletion": body.get("AllowCompletion") or "Y",
        "CreatedBy": caller(), "CreationDate": now, "LastUpdatedBy": caller(), "LastUpdateDate": now,
    })
    installment = {a: None for a in INSTALLMENT_ATTRS}
    installment.update({"InstallmentId": store.new_id(), "InstallmentSequenceNumber": 1,
                        "InstallmentDueDate": header["DueDate"], "OriginalAmount": total,
                        "InstallmentBalanceDue": total, "AccountedBalanceDue": total,
                        "AmountPaid": rounded(0, currency), "InstallmentAmountAdjusted": rounded(0, currency),
                        "InstallmentAmountCredited": rounded(0, currency), "InstallmentStatus": "Open",
                        "DisputeAmount": rounded(0, currency), "PaymentDaysLate": 0,
                        "ExcludeFromCollections": "N"})
    record = {"header": header, "lines": lines, "distributions": distributions,
              "installments": [installment], "version": 1, "account_id": account["CustomerAccountId"],
              "posted": {c for c in SUPPORTED_POST_CHILDREN if c in body},
              # the line / tax / freight buckets a header-level credit memo credits against
              "buckets": {"line": sum((l["_net"] for l in lines), Decimal(0)),
                          "tax": sum((t["TaxAmount"] for l in lines
                                      for t in l["receivablesInvoiceLineTaxLines"]), Decimal(0)),
                          "freight": freight},
              "credited": {"line": Decimal(0), "tax": Decimal(0), "freight": Decimal(0)}}
    refresh_balance(record)
    store.invoices[trx_id] = record
    return record


def public_lines(record: dict) -> list[dict]:
    return [{k: v for k, v in line.items() if not k.startswith("_")} for line in record["lines"]]


# --- views -----------------------------------------------------------------------------------------
def render_public(record, shape, fw, inline=frozenset()) -> dict:
    item = render(record, shape, fw, inline)
    lines = item.get("receivablesInvoiceLines")
    if lines is not None:
        rows = lines["items"] if isinstance(lines, dict) else lines
        for row in rows:
            row.pop("_net", None)
    return item


@bp.get(PREFIX)
def list_invoices(version):
    check_version(version)
    return collection_response(SPEC, CHILD_ATTRS, lambda: pod().store.invoices.values(), flat,
                               render_public)


@bp.get(PREFIX + "/describe")
def describe_invoices(version):
    check_version(version)
    return describe(SPEC, CHILD_ATTRS)


@bp.get(PREFIX + "/<trx_id>")
def get_invoice(version, trx_id):
    check_version(version)
    return item_response(SPEC, CHILD_ATTRS, lambda: get_record(trx_id), render_public)


@bp.get(PREFIX + "/<trx_id>/child/<child>")
def get_invoice_children(version, trx_id, child):
    check_version(version)
    fw = framework_version()
    with pod().store.lock:
        record = get_record(trx_id)
        nested = None
        if child == "receivablesInvoiceLines":
            nested = LINE_NESTED
            rows = [_render_line(record, line, fw) for line in public_lines(record)] \
                if wants_nested("receivablesInvoiceLineTaxLines") else \
                [{k: v for k, v in line.items() if k != "receivablesInvoiceLineTaxLines"}
                 for line in public_lines(record)]
        elif child in ("receivablesInvoiceDistributions", "receivablesInvoiceInstallments"):
            rows = children(record)[child]
        elif child in CHILDREN:
            rows = []
        else:
            raise not_found(f"The child resource {child} doesn't exist.")
        return _child_page(record, child, rows, CHILD_ATTRS.get(child), nested)


@bp.get(PREFIX + "/<trx_id>/child/receivablesInvoiceLines/<line_id>/child/receivablesInvoiceLineTaxLines")
def get_tax_lines(version, trx_id, line_id):
    check_version(version)
    with pod().store.lock:
        record = get_record(trx_id)
        line = next((l for l in record["lines"] if str(l["CustomerTransactionLineId"]) == line_id), None)
        if line is None:
            raise not_found(f"The invoice line {line_id} doesn't exist.")
        return _child_page(record, "receivablesInvoiceLineTaxLines", line["receivablesInvoiceLineTaxLines"],
                           TAX_LINE_ATTRS)


def _child_page(record: dict, child: str, rows: list[dict], attributes, nested=None):
    return child_page(SPEC, record["header"]["CustomerTransactionId"], child, rows, item_links=True,
                      attributes=attributes, nested=nested)
