"""Revenue account overrides: which revenue account (and memo line) a merchandise line is booked
on, by product type, vendor or SKU prefix (``[[gl.revenue_rules]]``), on invoices and edit debit memos."""
from __future__ import annotations

import copy
import tomllib
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.config import DEFAULT_MAPPING_FILE, ConfigError
from connector.mapping.adjustment import Components, build_debit_memo, pro_rata
from connector.mapping.config import parse_mapping
from connector.mapping.invoice import MappingError, build_invoice

DOCUMENT = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
BOOKS = {"vendor": "Penguin", "account": "101-4110-000", "memo_line": "Book Sales"}
APPAREL = {"product_type": "T-Shirts", "account": "101-4120-000"}
SAMPLE = {"sku_prefix": "SMP-", "account": "101-4190-000"}


def mapping_with(*rules, shops=None):
    document = copy.deepcopy(DOCUMENT)
    document["gl"]["revenue_rules"] = [dict(rule) for rule in rules]
    if shops:
        document["shops"] = shops
    return parse_mapping(document)


def line(name, price, *, vendor="", sku="", product_type=None, quantity=1) -> dict:
    item = {"name": name, "quantity": quantity, "price": price, "vendor": vendor, "sku": sku, "tax_lines": []}
    if product_type is not None:
        item["product_type"] = product_type
    return item


def order(*items) -> dict:
    total = sum((D(i["price"]) * i["quantity"] for i in items), D("0.00"))
    return {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1", "name": "#1001", "order_number": 1001,
            "processed_at": "2026-01-15T10:00:00Z", "currency": "USD", "total_price": str(total),
            "subtotal_price": str(total), "total_tax": "0.00", "line_items": list(items)}


def booked(invoice) -> dict[str, tuple[str, str]]:
    """Each line's description → (memo line, revenue account)."""
    accounts = {d["InvoiceLineNumber"]: d["AccountCombination"] for d in invoice["receivablesInvoiceDistributions"]}
    return {ln["Description"]: (ln["MemoLine"], accounts[ln["LineNumber"]]) for ln in invoice["receivablesInvoiceLines"]}


def build(o, mapping):
    return build_invoice(o, mapping=mapping, prefix="ACME", bill_to_account="10042")


def test_given_rules_then_each_line_is_booked_on_the_first_matching_rules_account_and_memo_line():
    mapping = mapping_with(BOOKS, APPAREL, SAMPLE)
    invoice = build(order(line("Novel", "20.00", vendor="PENGUIN", sku="SMP-1"),
                          line("Tee", "15.00", vendor="Acme", product_type="t-shirts"),
                          line("Sample mug", "1.00", vendor="Acme", sku="SMP-9", product_type="Mugs"),
                          line("Mug", "9.00", vendor="Acme", sku="MUG-1", product_type="Mugs")), mapping)

    merchandise, revenue = mapping.memo_lines.merchandise, mapping.gl.revenue
    assert booked(invoice) == {"Novel": ("Book Sales", "101-4110-000"),      # vendor ignoring case, first wins
                               "Tee": (merchandise, "101-4120-000"),         # product type ignoring case
                               "Sample mug": (merchandise, "101-4190-000"),  # SKU prefix
                               "Mug": (merchandise, revenue)}                # no rule: gl.revenue


def test_given_a_rule_with_several_keys_then_every_key_must_match():
    mapping = mapping_with({"vendor": "Penguin", "sku_prefix": "HB-", "account": "101-4111-000"})
    invoice = build(order(line("Hardback", "30.00", vendor="Penguin", sku="HB-1"),
                          line("Paperback", "10.00", vendor="Penguin", sku="PB-1"),
                          line("Other hardback", "25.00", vendor="Acme", sku="HB-2")), mapping)

    assert {name: account for name, (_, account) in booked(invoice).items()} == {
        "Hardback": "101-4111-000", "Paperback": mapping.gl.revenue, "Other hardback": mapping.gl.revenue}


def test_given_a_sku_prefix_then_it_matches_the_start_of_the_sku_only():
    mapping = mapping_with(SAMPLE)
    invoice = build(order(line("Not a sample", "5.00", sku="X-SMP-1")), mapping)
    assert booked(invoice)["Not a sample"][1] == mapping.gl.revenue


def test_given_a_product_type_rule_and_a_webhook_order_without_product_types_then_it_parks_naming_the_remedy():
    mapping = mapping_with(APPAREL)
    with pytest.raises(MappingError, match=r"no product type.*reread_from_admin"):
        build(order(line("Tee", "15.00", vendor="Acme")), mapping)


def test_given_a_vendor_rule_before_a_product_type_rule_then_a_webhook_line_it_matches_is_booked_without_parking():
    mapping = mapping_with(BOOKS, APPAREL)
    invoice = build(order(line("Novel", "20.00", vendor="Penguin")), mapping)
    assert booked(invoice)["Novel"] == ("Book Sales", "101-4110-000")


def test_given_a_shops_own_rules_then_they_replace_the_base_rules_for_that_shop_only():
    mapping = mapping_with(BOOKS, shops={"eu.myshopify.com": {"gl": {"revenue_rules": [
        {"vendor": "Penguin", "account": "201-4110-000"}]}}})
    novel = order(line("Novel", "20.00", vendor="Penguin"))

    assert booked(build(novel, mapping.for_shop("eu.myshopify.com")))["Novel"] == (
        mapping.memo_lines.merchandise, "201-4110-000")
    assert booked(build(novel, mapping.for_shop("us.myshopify.com")))["Novel"] == ("Book Sales", "101-4110-000")


def test_given_the_default_mapping_then_it_has_no_active_rule():
    assert parse_mapping(DOCUMENT).gl.revenue_rules == ()


@pytest.mark.parametrize("rule, problem", [
    ({"vendor": "Penguin"}, r"gl\.revenue_rules\.0\.account: Missing data"),
    ({"vendor": "Penguin", "account": "not an account!"}, "not a GL account combination"),
    ({"account": "101-4110-000"}, "product_type, vendor or sku_prefix"),
    ({"vendor": "Penguin", "account": "101-4110-000", "brand": "x"}, "brand: Unknown field"),
])
def test_given_an_invalid_rule_then_the_mapping_fails_to_load_naming_it(rule, problem):
    with pytest.raises(ConfigError, match=problem):
        mapping_with(rule)


def test_given_an_edit_that_adds_merchandise_of_one_rule_then_the_debit_memo_line_is_on_that_rules_account():
    mapping = mapping_with(BOOKS)
    before, after = order(line("Novel", "20.00", vendor="Penguin")), order(line("Novel", "20.00", vendor="Penguin",
                                                                                 quantity=2))
    debit = build_debit_memo(after, Components(merchandise=D("20.00")), mapping=mapping, number="ACME-1001-D1",
                             bill_to_account="10042", invoice_number="ACME-1001")

    assert before and booked(debit) == {"Order edit: merchandise": ("Book Sales", "101-4110-000")}


def test_given_an_edit_of_an_order_with_lines_on_two_accounts_then_the_rise_is_spread_over_them_to_the_cent():
    mapping = mapping_with(BOOKS)
    edited = order(line("Novel", "20.00", vendor="Penguin"), line("Mug", "10.00", vendor="Acme"))
    debit = build_debit_memo(edited, Components(merchandise=D("10.00"), merchandise_tax=D("0.80")), mapping=mapping,
                             number="ACME-1001-D1", bill_to_account="10042", invoice_number="ACME-1001")

    lines = debit["receivablesInvoiceLines"]
    accounts = [d["AccountCombination"] for d in debit["receivablesInvoiceDistributions"]]
    assert accounts == ["101-4110-000", mapping.gl.revenue]
    assert [ln["UnitSellingPrice"] for ln in lines] == [D("6.67"), D("3.33")]
    assert [ln["receivablesInvoiceLineTaxLines"][0]["TaxAmount"] for ln in lines] == [D("0.53"), D("0.27")]


@given(st.decimals(min_value=0, max_value=100000, places=2),
       st.lists(st.decimals(min_value=D("0.01"), max_value=10000, places=2), min_size=1, max_size=6))
def test_pro_rata_parts_add_up_to_the_amount_and_stay_within_a_cent_of_their_share(amount, weights):
    parts = pro_rata(amount, weights)
    assert sum(parts) == amount
    total = sum(weights)
    assert all(abs(part - amount * w / total) < D("0.01") for part, w in zip(parts, weights))
