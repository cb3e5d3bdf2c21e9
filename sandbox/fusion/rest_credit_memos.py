"""``receivablesCreditMemos``: on-account credit memos (REST cannot credit an invoice).

Amounts are negative, as in every Oracle sample. Memos created by SOAP ``createCreditMemo``
against an invoice are stored here too and are readable through this resource.
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint

from . import customers
from .errors import bad_request, not_found
from .money import rounded, to_decimal
from .query import DATE, DATETIME, NUM, STR
from .rest_common import (
    ResourceSpec, caller, change_indicator, check_attributes, check_version, child_page,
    collection_response, created_response, describe, flat_attributes, framework_version,
    get_or_404, item_response, json_body, parse_shape, pod, refuse_upsert, resource_url, shape_item,
    wants_nested, with_nested,
)
from .periods import refuse_rest
from .rest_invoices import MAX_LENGTHS, check_number, parse_date, require_name
from .store import today

bp = Blueprint("fusion_credit_memos", __name__)
PREFIX = "/fscmRestApi/resources/<version>/receivablesCreditMemos"

HEADER_WRITABLE = [
    "BusinessUnit", "TransactionSource", "TransactionType", "TransactionDate", "AccountingDate",
    "CreditMemoCurrency", "BillToCustomerName", "BillToCustomerNumber", "BillToSite",
    "BillToContact", "ShipToCustomerName", "ShipToCustomerNumber", "ShipToCustomerSite",
    "ShipToContact", "CreditMemoComments", "CreditReason", "CrossReference", "CustomerReference",
    "CustomerReferenceDate", "TransactionNumber", "ConversionRate", "ConversionRateDate",
    "ConversionRateType", "FreightCreditAmount", "FreightFOB", "FreightShipDate",
    "FreightShippingReference", "GenerateBill", "Intercompany", "InternalNotes",
    "LegalEntityIdentifier", "PayingCustomerName", "PayingCustomerAccount", "PayingCustomerSite",
    "PrimarySalesperson", "PurchaseOrder", "PurchaseOrderDate", "PurchaseOrderRevision",
    "RecipientEmail", "SoldToPartyNumber", "SpecialInstructions", "StructuredPaymentReference",
    "DefaultTaxationCountry", "DocumentFiscalClassifcation", "DeliveryMethod", "CreditMemoStatus",
    "AllowCompletion", "ControlCompletionReason",
]
READ_ONLY = ["CustomerTransactionId", "DocumentNumber", "EnteredAmount", "TransactionBalanceDue",
             "PrintDate", "PrintStatus", "CreatedBy", "CreationDate", "LastUpdatedBy", "LastUpdateDate"]
ATTRS = ["CustomerTransactionId"] + HEADER_WRITABLE + [a for a in READ_ONLY if a != "CustomerTransactionId"]
LINE_WRITABLE = [
    "LineNumber", "LineDescription", "LineQuantityCredit", "UnitSellingPrice", "LineAmountCredit",
    "LineCreditReason", "MemoLine", "ItemNumber", "UnitOfMeasure", "TaxClassificationCode",
    "LineFreightCreditAmount", "LineAmountIncludesTax", "LineIntendedUse", "LineProductCategory",
    "LineProductType", "TransactionBusinessCategory", "UserDefinedFiscalClassification",
    "SalesOrderNumber", "SalesOrderLine", "SalesOrderDate", "SalesOrderRevision",
    "SalesOrderChannel", "Warehouse", "TaxExemptionHandling", "TaxExemptionReason",
    "TaxExemptionCertificateNumber", "receivablesCreditMemoLineTaxLines",
]
TAX_WRITABLE = ["TaxRegimeCode", "TaxRateCode", "TaxAmount", "Tax", "TaxRate", "TaxStatusCode",
                "TaxJurisdictionCode", "TaxInclusiveIndicator"]
DIST_WRITABLE = ["CreditMemoLineNumber", "AccountClass", "AccountCombination", "Amount",
                 "AccountedAmount", "Percent", "Comments", "DetailedTaxLineNumber"]
CHILDREN = ["receivablesCreditMemoLines", "receivablesCreditMemoDistributions", "attachments",
            "notes", "receivablesCreditMemoDFF", "receivablesCreditMemoGdf",
            "receivablesCreditMemoTransactionDFF"]
_BIND = {"BindAccountingDate": "AccountingDate", "BindAllowCompletion": "AllowCompletion",
         "BindBillToCustomer": "BillToCustomerName", "BindBillToCustomerNumber": "BillToCustomerNumber",
         "BindBillToSite": "BillToSite", "BindBusinessUnit": "BusinessUnit",
         "BindCreditMemoCurrency": "CreditMemoCurrency", "BindCreditMemoStatus": "CreditMemoStatus",
         "BindCrossReference": "CrossReference", "BindDeliveryMethod": "DeliveryMethod",
         "BindDocumentNumber": "DocumentNumber", "BindIntercompany": "Intercompany",
         "BindPrimarySalesperson": "PrimarySalesperson", "BindPrintStatus": "PrintStatus",
         "BindPurchaseOrder": "PurchaseOrder", "BindShipToCustomerName": "ShipToCustomerName",
         "BindShipToSite": "ShipToCustomerSite", "BindTransactionDate": "TransactionDate",
         "BindTransactionNumber": "TransactionNumber", "BindTransactionSource": "TransactionSource",
         "BindTransactionType": "TransactionType"}
_KINDS = {"CustomerTransactionId": NUM, "EnteredAmount": NUM, "TransactionBalanceDue": NUM,
          "FreightCreditAmount": NUM, "ConversionRate": NUM, "TransactionDate": DATE,
          "AccountingDate": DATE, "PurchaseOrderDate": DATE, "CustomerReferenceDate": DATE,
          "ConversionRateDate": DATE, "FreightShipDate": DATE, "PrintDate": DATE,
          "CreationDate": DATETIME, "LastUpdateDate": DATETIME}
SPEC = ResourceSpec(
    name="receivablesCreditMemos", api="fscmRestApi", key="CustomerTransactionId",
    attributes={a: _KINDS.get(a, STR) for a in ATTRS},
    queryable={"AllowCompletion", "BillToCustomerNumber", "BillToSite", "BusinessUnit",
               "CreditMemoCurrency", "CrossReference", "CustomerTransactionId", "DocumentNumber",
               "PrimarySalesperson", "PurchaseOrder", "PurchaseOrderDate", "TransactionDate",
               "TransactionNumber", "TransactionSource", "TransactionType"},
    finders={"PrimaryKey": {"CustomerTransactionId": "CustomerTransactionId"},
             "creditMemosFinder": _BIND},
    children=CHILDREN,
    updatable={"AllowCompletion", "ControlCompletionReason", "CreditMemoStatus", "RecipientEmail",
               "TransactionType"},
)
TAX_LINE = "receivablesCreditMemoLineTaxLines"
LINE_ATTRS = (set(LINE_WRITABLE) - {TAX_LINE}) | {"CustomerTransactionLineId"}
TAX_LINE_ATTRS = {"CustomerTransactionLineId"} | set(TAX_WRITABLE)
CHILD_ATTRS = {"receivablesCreditMemoLines": LINE_ATTRS,
               "receivablesCreditMemoDistributions": set(DIST_WRITABLE) | {"DistributionId"}}


def _lines(raw_lines, seed, settings, currency: str) -> tuple[list[dict], Decimal]:
    if not isinstance(raw_lines, list) or not raw_lines:
        raise bad_request("A credit memo requires at least one line.", "AR-855030",
                          "/receivablesCreditMemoLines")
    store = pod().store
    lines, numbers, total = [], set(), Decimal(0)
    for idx, raw in enumerate(raw_lines):
        path = f"/receivablesCreditMemoLines/{idx}"
        if not isinstance(raw, dict):
            raise bad_request("Each credit memo line must be an object.", "", path)
        check_attributes(raw, set(LINE_WRITABLE), "receivablesCreditMemoLines", path)
        number = raw.get("LineNumber")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1 or number in numbers:
            raise bad_request("The attribute LineNumber is required, positive and unique.",
                              "JBO-27014", f"{path}/LineNumber")
        numbers.add(number)
        memo = raw.get("MemoLine")
        if memo is not None and memo not in seed.memo_lines:
            raise bad_request(f"The value of the attribute MemoLine isn't valid: {memo!r}.",
                              "AR-855002", f"{path}/MemoLine")
        qty = to_decimal(raw.get("LineQuantityCredit"), "LineQuantityCredit", path)
        price = to_decimal(raw.get("UnitSellingPrice"), "UnitSellingPrice", path)
        amount = to_decimal(raw.get("LineAmountCredit"), "LineAmountCredit", path)
        if amount is None:
            if price is None:
                raise bad_request("Provide UnitSellingPrice (and LineQuantityCredit) or LineAmountCredit.",
                                  "AR-855032", path)
            amount = (qty if qty is not None else 1) * price
        amount = rounded(amount, currency)
        if amount >= 0:
            raise bad_request(f"The credit amount of line {number} must be negative.", "AR-855070",
                              f"{path}/LineAmountCredit")
        includes_tax = raw.get("LineAmountIncludesTax") or "N"
        taxes = []
        for t_idx, raw_tax in enumerate(raw.get("receivablesCreditMemoLineTaxLines") or []):
            t_path = f"{path}/receivablesCreditMemoLineTaxLines/{t_idx}"
            check_attributes(raw_tax, set(TAX_WRITABLE), "receivablesCreditMemoLineTaxLines", t_path)
            regime, rate = raw_tax.get("TaxRegimeCode"), raw_tax.get("TaxRateCode")
            if settings.validate_tax_codes and not seed.tax_rate_known(regime, rate):
                raise bad_request(f"The tax rate code {rate} isn't valid for the tax regime {regime}.",
                                  "ZX-700002", f"{t_path}/TaxRateCode")
            tax_amount = rounded(to_decimal(raw_tax.get("TaxAmount"), "TaxAmount", t_path) or 0, currency)
            if tax_amount > 0:
                raise bad_request("Credit memo tax amounts must be negative.", "AR-855071",
                                  f"{t_path}/TaxAmount")
            inclusive = (raw_tax.get("TaxInclusiveIndicator") or ("Y" if includes_tax == "Y" else "N")) == "Y"
            if not inclusive:
                total += tax_amount
            taxes.append({"CustomerTransactionLineId": store.new_id(), "TaxRegimeCode": regime,
                          "TaxRateCode": rate, "TaxAmount": tax_amount,
                          "TaxInclusiveIndicator": "Y" if inclusive else "N"})
        line = {a: raw.get(a) for a in LINE_WRITABLE}
        line.update({"CustomerTransactionLineId": store.new_id(), "LineNumber": number,
                     "LineDescription": raw.get("LineDescription") or memo,
                     "LineQuantityCredit": qty, "UnitSellingPrice": price,
                     "LineAmountCredit": amount, "LineAmountIncludesTax": includes_tax,
                     "receivablesCreditMemoLineTaxLines": taxes})
        lines.append(line)
        total += amount
    return lines, total


def create_on_account(body: dict) -> dict:
    p = pod()
    seed, store, settings = p.seed, p.store, p.settings
    check_attributes(body, set(HEADER_WRITABLE) | {"receivablesCreditMemoLines",
                                                   "receivablesCreditMemoDistributions"},
                     "receivablesCreditMemos", read_only=set(READ_ONLY))
    for attr, limit in MAX_LENGTHS.items():
        if isinstance(body.get(attr), str) and len(body[attr]) > limit:
            raise bad_request(f"The value of the attribute {attr} exceeds the maximum length of "
                              f"{limit} characters.", "JBO-27022", f"/{attr}")
    bu_name = require_name(body, "BusinessUnit", seed.business_units, "business unit")
    bu = seed.business_units[bu_name]
    source_name = require_name(body, "TransactionSource", seed.transaction_sources, "transaction source")
    type_name = require_name(body, "TransactionType", seed.transaction_types, "transaction type")
    if seed.transaction_types[type_name].get("class") != "CM":
        raise bad_request(f"The transaction type {type_name} isn't a credit memo transaction type.",
                          "AR-855003", "/TransactionType")
    number = check_number(seed, store, source_name, body.get("TransactionNumber"), bad_request)
    status = body.get("CreditMemoStatus") or "Complete"
    if status not in ("Complete", "Incomplete"):
        raise bad_request(f"The value of the attribute CreditMemoStatus isn't valid: {status!r}.",
                          "AR-855012", "/CreditMemoStatus")
    trx_date = parse_date(body.get("TransactionDate"), "TransactionDate") or today().isoformat()
    acct_date = parse_date(body.get("AccountingDate"), "AccountingDate") or trx_date
    currency = body.get("CreditMemoCurrency") or bu["currency"]
    if currency != bu["currency"] and not body.get("ConversionRateType"):
        raise bad_request("ConversionRateType is required for a foreign-currency credit memo.",
                          "AR-855005", "/ConversionRateType")
    refuse_rest(p.calendar, settings, accounting_date=acct_date, date_path="/AccountingDate", currency=currency,
                ledger=bu["currency"], rate_type=body.get("ConversionRateType"),
                conversion_date=parse_date(body.get("ConversionRateDate"), "ConversionRateDate") or trx_date,
                rate=body.get("ConversionRate"))
    account, site = customers.resolve_bill_to(body, bu, settings)
    lines, total = _lines(body.get("receivablesCreditMemoLines"), seed, settings, currency)
    freight = to_decimal(body.get("FreightCreditAmount"), "FreightCreditAmount")
    if freight is not None:
        if freight > 0:
            raise bad_request("FreightCreditAmount must be negative.", "AR-855071", "/FreightCreditAmount")
        total += rounded(freight, currency)
    dists = []
    for idx, raw in enumerate(body.get("receivablesCreditMemoDistributions") or []):
        path = f"/receivablesCreditMemoDistributions/{idx}"
        check_attributes(raw, set(DIST_WRITABLE), "receivablesCreditMemoDistributions", path)
        if raw.get("AccountCombination") not in seed.gl_accounts:
            raise bad_request(f"The account combination {raw.get('AccountCombination')!r} isn't valid.",
                              "GL-000001", f"{path}/AccountCombination")
        dists.append({**{a: raw.get(a) for a in DIST_WRITABLE}, "DistributionId": store.new_id(),
                      "Amount": rounded(to_decimal(raw.get("Amount"), "Amount", path) or 0, currency)})
    now = store.stamp()
    header = {a: body.get(a) for a in ATTRS}
    header.update({
        "CustomerTransactionId": store.new_id(), "TransactionNumber": number,
        "BusinessUnit": bu_name, "TransactionSource": source_name, "TransactionType": type_name,
        "TransactionDate": trx_date, "AccountingDate": acct_date, "CreditMemoCurrency": currency,
        "BillToCustomerName": account["AccountName"], "BillToCustomerNumber": account["AccountNumber"],
        "BillToSite": site["SiteNumber"], "CreditMemoStatus": status,
        "EnteredAmount": total, "TransactionBalanceDue": total, "PrintStatus": "NOT PRINTED",
        "CreatedBy": caller(), "CreationDate": now, "LastUpdatedBy": caller(), "LastUpdateDate": now,
    })
    record = {"header": header, "lines": lines, "distributions": dists, "version": 1,
              "account_id": account["CustomerAccountId"], "previous_trx_id": None}
    store.credit_memos[header["CustomerTransactionId"]] = record
    return record


def flat(record: dict) -> dict:
    return flat_attributes(record["header"], ATTRS)


def _render_line(record: dict, line: dict, fw: int) -> dict:
    """A line with its tax lines as the framework version shows children (v3+: collection)."""
    href = (f"{resource_url(SPEC, record['header']['CustomerTransactionId'])}/child/"
            f"receivablesCreditMemoLines/{line['CustomerTransactionLineId']}")
    return with_nested(line, TAX_LINE, href, fw)


def render(record: dict, shape, fw: int, inline=frozenset()) -> dict:
    kids = {"receivablesCreditMemoLines": [_render_line(record, line, fw) for line in record["lines"]],
            "receivablesCreditMemoDistributions": record["distributions"]}
    return shape_item(SPEC, flat(record), kids, shape, record["header"]["CustomerTransactionId"],
                      change_indicator(record["version"]), fw, inline)


def _get(trx_id: str) -> dict:
    return get_or_404(pod().store.credit_memos, trx_id, f"The credit memo {trx_id} doesn't exist.")


@bp.post(PREFIX)
def post_credit_memo(version):
    check_version(version)
    fw = framework_version()
    body = json_body()
    refuse_upsert("receivablesCreditMemos")
    with pod().store.lock:
        record = create_on_account(body)
        inline = {c for c in ("receivablesCreditMemoLines", "receivablesCreditMemoDistributions") if c in body}
        item = render(record, parse_shape(SPEC, CHILD_ATTRS), fw, inline)
    return created_response(SPEC, record["header"]["CustomerTransactionId"], item)


@bp.get(PREFIX)
def list_credit_memos(version):
    check_version(version)
    return collection_response(SPEC, CHILD_ATTRS, lambda: pod().store.credit_memos.values(), flat, render)


@bp.get(PREFIX + "/describe")
def describe_credit_memos(version):
    check_version(version)
    return describe(SPEC, CHILD_ATTRS)


@bp.get(PREFIX + "/<trx_id>")
def get_credit_memo(version, trx_id):
    check_version(version)
    return item_response(SPEC, CHILD_ATTRS, lambda: _get(trx_id), render)


@bp.get(PREFIX + "/<trx_id>/child/<child>")
def get_credit_memo_children(version, trx_id, child):
    check_version(version)
    fw = framework_version()
    with pod().store.lock:
        record = _get(trx_id)
        nested = None
        if child == "receivablesCreditMemoLines":
            nested = {TAX_LINE: TAX_LINE_ATTRS}
            rows = [_render_line(record, line, fw) if wants_nested(TAX_LINE)
                    else {k: v for k, v in line.items() if k != TAX_LINE} for line in record["lines"]]
        elif child == "receivablesCreditMemoDistributions":
            rows = record["distributions"]
        elif child in CHILDREN:
            rows = []
        else:
            raise not_found(f"The child resource {child} doesn't exist.")
        return child_page(SPEC, trx_id, child, rows, attributes=CHILD_ATTRS.get(child), nested=nested)
