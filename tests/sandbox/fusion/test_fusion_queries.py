"""Collection GETs on receivablesInvoices: q, finders, orderBy, paging, fields, onlyData."""
from decimal import Decimal
from urllib.parse import quote

import pytest

from fusion_helpers import FSCM

INVOICES = f"{FSCM}/receivablesInvoices"


@pytest.fixture
def three_invoices(fusion, customer):
    """SHOP-A (39.00), SHOP-B (19.50), SHOP-C (58.50), created in that order."""
    made = []
    for number, qty in (("SHOP-A", 2), ("SHOP-B", 1), ("SHOP-C", 3)):
        body = fusion.invoice_body(customer, TransactionNumber=number,
                                   CrossReference=f"gid://shopify/Order/{number}")
        body["receivablesInvoiceLines"][0]["Quantity"] = qty
        made.append(fusion.create_invoice(customer, **{k: v for k, v in body.items()
                                                        if k != "BillToCustomerNumber"}))
    return made


def _get(fusion, query: str, fw=4):
    return fusion.rest("GET", f"{INVOICES}?{query}", fw=fw)


def _numbers(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["TransactionNumber"] for i in resp.json()["items"]]


def test_collection_envelope_has_exactly_the_adf_keys(fusion, three_invoices):
    body = _get(fusion, "").json()
    assert set(body) == {"items", "count", "hasMore", "limit", "offset", "links"}
    assert body["count"] == 3 and body["hasMore"] is False and body["limit"] == 25 and body["offset"] == 0
    assert body["links"][0]["rel"] == "self"


def test_q_expression_with_and_or_parentheses(fusion, three_invoices):
    q = "(TransactionNumber = 'SHOP-A' or TransactionNumber = 'SHOP-C') and InvoiceBalanceAmount > 40"
    assert _numbers(_get(fusion, "q=" + quote(q))) == ["SHOP-C"]


@pytest.mark.parametrize("q,expected", [
    ("TransactionNumber != 'SHOP-A'", ["SHOP-B", "SHOP-C"]),
    ("InvoiceBalanceAmount <= 39", ["SHOP-A", "SHOP-B"]),
    ("InvoiceBalanceAmount >= 39.00", ["SHOP-A", "SHOP-C"]),
    ("InvoiceBalanceAmount < 20", ["SHOP-B"]),
    ("TransactionNumber LIKE 'SHOP-%'", ["SHOP-A", "SHOP-B", "SHOP-C"]),
    ("TransactionNumber IN ('SHOP-A', 'SHOP-B')", ["SHOP-A", "SHOP-B"]),
    ("ReceiptMethod IS NULL", ["SHOP-A", "SHOP-B", "SHOP-C"]),
    ("ReceiptMethod IS NOT NULL", []),
    ("InvoiceStatus = 'Complete' and TransactionNumber = 'SHOP-B'", ["SHOP-B"]),
])
def test_q_operators(fusion, three_invoices, q, expected):
    assert _numbers(_get(fusion, "q=" + quote(q) + "&orderBy=TransactionNumber")) == expected


def test_q_on_last_update_date_polls_changes_since_a_watermark(fusion, three_invoices):
    watermark = three_invoices[0]["LastUpdateDate"]
    q = f"LastUpdateDate > '{watermark}'"
    assert _numbers(_get(fusion, "q=" + quote(q) + "&orderBy=LastUpdateDate:asc")) == ["SHOP-B", "SHOP-C"]


@pytest.mark.parametrize("attr", ["CrossReference", "BillToCustomerNumber", "TransactionSource",
                                  "TransactionDate", "BusinessUnit"])
def test_q_on_attributes_outside_the_queryable_list_is_400(fusion, three_invoices, attr):
    resp = _get(fusion, "q=" + quote(f"{attr} = 'x'"))
    assert resp.status_code == 400 and attr in resp.text


def test_q_syntax_errors_are_400(fusion, three_invoices):
    assert _get(fusion, "q=" + quote("TransactionNumber = SHOP-A")).status_code == 400
    assert _get(fusion, "q=" + quote("(TransactionNumber = 'SHOP-A'")).status_code == 400


def test_q_framework_v1_is_query_by_example(fusion, three_invoices):
    # without the header the default framework (1) reads `A=v;B>v`
    assert _numbers(_get(fusion, "q=TransactionNumber=SHOP-B", fw=None)) == ["SHOP-B"]
    assert _numbers(_get(fusion, "q=" + quote("InvoiceBalanceAmount>20;TransactionNumber=SHOP-C"),
                         fw=None)) == ["SHOP-C"]


def test_finder_invoice_search_by_cross_reference(fusion, three_invoices):
    finder = "invoiceSearch;BusinessUnit=US1 Business Unit,CrossReference=gid://shopify/Order/SHOP-B"
    assert _numbers(_get(fusion, "finder=" + quote(finder))) == ["SHOP-B"]


def test_finder_invoice_search_by_source_and_number(fusion, three_invoices):
    finder = "invoiceSearch;TransactionSource=SHOPIFY,TransactionNumber=SHOP-C"
    assert _numbers(_get(fusion, "finder=" + quote(finder))) == ["SHOP-C"]


def test_finder_primary_key(fusion, three_invoices):
    trx = three_invoices[1]["CustomerTransactionId"]
    assert _numbers(_get(fusion, f"finder=PrimaryKey;CustomerTransactionId={trx}")) == ["SHOP-B"]


def test_unknown_finder_or_variable_is_400(fusion, three_invoices):
    assert _get(fusion, "finder=byNumber;TransactionNumber=SHOP-B").status_code == 400
    assert _get(fusion, "finder=invoiceSearch;Number=SHOP-B").status_code == 400


def test_order_by_desc_and_unknown_attribute(fusion, three_invoices):
    assert _numbers(_get(fusion, "orderBy=InvoiceBalanceAmount:desc")) == ["SHOP-C", "SHOP-A", "SHOP-B"]
    assert _get(fusion, "orderBy=Nope:asc").status_code == 400


def test_paging_with_limit_offset_has_more_and_total_results(fusion, three_invoices):
    first = _get(fusion, "orderBy=TransactionNumber&limit=2&offset=0&totalResults=true").json()
    assert [i["TransactionNumber"] for i in first["items"]] == ["SHOP-A", "SHOP-B"]
    assert first["count"] == 2 and first["hasMore"] is True and first["totalResults"] == 3
    second = _get(fusion, "orderBy=TransactionNumber&limit=2&offset=2").json()
    assert [i["TransactionNumber"] for i in second["items"]] == ["SHOP-C"]
    assert second["hasMore"] is False and "totalResults" not in second


def test_default_page_size_is_25(fusion, customer):
    for i in range(27):
        fusion.create_invoice(customer, TransactionNumber=f"P-{i:02d}")
    body = _get(fusion, "").json()
    assert body["count"] == 25 and body["hasMore"] is True and body["limit"] == 25


def test_fields_and_only_data_trim_items(fusion, three_invoices):
    body = fusion.json(_get(fusion, "fields=TransactionNumber,InvoiceBalanceAmount&onlyData=true"
                                    "&orderBy=TransactionNumber"))
    assert body["items"][0] == {"TransactionNumber": "SHOP-A", "InvoiceBalanceAmount": Decimal("39.00")}
    assert _get(fusion, "fields=NotAField").status_code == 400


def test_expand_lines_in_collection(fusion, three_invoices):
    body = _get(fusion, "expand=receivablesInvoiceLines&limit=1&orderBy=TransactionNumber").json()
    assert body["items"][0]["receivablesInvoiceLines"]["items"][0]["LineNumber"] == 1
