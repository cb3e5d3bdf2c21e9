"""Which Fusion tax codes each Shopify tax line gets, what a channel collects, and a discount's tax."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import TaxRow, load_mapping
from connector.mapping.invoice import MappingError, build_invoice, invoice_total

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)
TEXAS = {"country_code": "US", "province_code": "TX", "city": "Austin", "address1": "1 Main St"}


def order(*, taxes_included=False, channel_liable=False) -> dict:
    """A tee at 100.00 less 10.00 off, taxed by the state and the county (Texas)."""
    state, county = ("5.24", "0.84") if taxes_included else ("5.63", "0.90")
    return {
        "id": 1, "admin_graphql_api_id": "gid://shopify/Order/1", "name": "#1", "order_number": 1,
        "processed_at": "2026-01-15T10:00:00Z", "currency": "USD", "taxes_included": taxes_included,
        "total_price": "90.00" if taxes_included else "96.53", "shipping_address": TEXAS,
        "line_items": [{"name": "Tee", "quantity": 1, "price": "100.00",
                        "discount_allocations": [{"amount": "10.00", "discount_application_index": 0}],
                        "tax_lines": [{"title": "Texas State Tax", "rate": 0.0625, "price": state},
                                      {"title": "Travis County Tax", "rate": 0.01, "price": county,
                                       "channel_liable": channel_liable}]}],
        "discount_applications": [{"type": "discount_code", "code": "TEN"}]}


def build(o, mapping=MAPPING):
    return build_invoice(o, mapping=mapping, prefix="ACME", bill_to_account="10042")


def with_tax(**changes):
    return replace(MAPPING, tax=replace(MAPPING.tax, **changes))


ROWS = (TaxRow(title="Texas State Tax", regime_code="US_SALES_TAX", rate_code="STATE", country="US", province="TX"),
        TaxRow(title="travis county tax", rate=Decimal("0.01"), regime_code="US_SALES_TAX", rate_code="COUNTY"))


def codes(invoice):
    [tee] = [line for line in invoice["receivablesInvoiceLines"] if line["Description"] == "Tee"]
    return [(t["TaxRateCode"], t["TaxAmount"]) for t in tee["receivablesInvoiceLineTaxLines"]]


def test_given_a_tax_table_then_each_jurisdiction_keeps_its_own_rate_code():
    assert codes(build(order(), with_tax(rates=ROWS))) == [("STATE", Decimal("5.63")), ("COUNTY", Decimal("0.90"))]


def test_given_the_packaged_mapping_then_us_state_county_and_city_taxes_keep_their_own_rates():
    # given an order taxed as Shopify titles US sales tax: one line per jurisdiction level
    o = order()
    o["line_items"][0]["tax_lines"] = [{"title": "State Tax", "rate": 0.06, "price": "5.40"},
                                       {"title": "County Tax", "rate": 0.01, "price": "0.90"},
                                       {"title": "City Tax", "rate": 0.0125, "price": "1.13"}]
    o["total_price"] = "97.43"
    # when the packaged mapping builds its invoice, then each level posts on its own Fusion rate
    assert codes(build(o)) == [("STATE", Decimal("5.40")), ("COUNTY", Decimal("0.90")), ("CITY", Decimal("1.13"))]
    assert {(r.regime_code, r.rate_code) for r in MAPPING.tax.rates} == {
        ("US_SALES_TAX", "STATE"), ("US_SALES_TAX", "COUNTY"), ("US_SALES_TAX", "CITY")}


def test_given_no_row_and_the_default_policy_then_the_default_codes():
    assert {code for code, _ in codes(build(order()))} == {MAPPING.tax.rate_code}


def test_given_no_row_and_the_park_policy_then_parked_naming_the_line_and_place():
    with pytest.raises(MappingError, match=r"'Travis County Tax' at rate 0.01 in US/TX"):
        build(order(), with_tax(rates=ROWS[:1], unmatched="park"))


def test_given_a_row_for_another_province_then_it_does_not_match():
    elsewhere = (replace(ROWS[0], province="CA"),)
    with pytest.raises(MappingError, match="Texas State Tax"):
        build(order(), with_tax(rates=elsewhere, unmatched="park"))


def test_given_a_tax_the_channel_collects_then_it_is_booked_apart_and_not_as_the_merchants_tax():
    invoice = build(order(channel_liable=True))

    assert codes(invoice) == [(MAPPING.tax.rate_code, Decimal("5.63"))]
    [apart] = [line for line in invoice["receivablesInvoiceLines"] if "sales channel" in line["Description"]]
    assert apart["UnitSellingPrice"] == Decimal("0.90") and "receivablesInvoiceLineTaxLines" not in apart
    [where] = [d for d in invoice["receivablesInvoiceDistributions"] if d["InvoiceLineNumber"] == apart["LineNumber"]]
    assert where["AccountCombination"] == MAPPING.tax.channel_liable_account
    assert invoice_total(invoice["receivablesInvoiceLines"], False) == Decimal("96.53")


def test_given_the_merchant_policy_then_a_channel_tax_is_the_merchants():
    invoice = build(order(channel_liable=True), with_tax(channel_liable="merchant"))
    assert [amount for _, amount in codes(invoice)] == [Decimal("5.63"), Decimal("0.90")]


def test_given_a_channel_tax_and_no_account_then_parked_naming_the_key():
    with pytest.raises(MappingError, match="channel_liable_account"):
        build(order(channel_liable=True), with_tax(channel_liable_account=""))


def test_given_a_tax_inclusive_discount_then_the_discount_line_carries_its_share_of_the_tax():
    invoice = build(order(taxes_included=True))

    lines = {line["Description"].split(":")[0]: line for line in invoice["receivablesInvoiceLines"]}
    full = [t["TaxAmount"] for t in lines["Tee"]["receivablesInvoiceLineTaxLines"]]
    share = [t["TaxAmount"] for t in lines["Discount TEN"]["receivablesInvoiceLineTaxLines"]]
    assert full == [Decimal("5.83"), Decimal("0.93")]       # 100.00 × 6.25 % (resp. 1 %) / 1.0725
    assert share == [Decimal("-0.59"), Decimal("-0.09")]    # what the discount took off
    assert [f + s for f, s in zip(full, share)] == [Decimal("5.24"), Decimal("0.84")]  # Shopify's tax
    assert invoice_total(invoice["receivablesInvoiceLines"], True) == Decimal("90.00")


def test_given_a_tax_exclusive_discount_then_shopifys_tax_stays_on_the_item_line():
    invoice = build(order())
    [discount] = [line for line in invoice["receivablesInvoiceLines"] if line["Description"].startswith("Discount")]
    assert "receivablesInvoiceLineTaxLines" not in discount


def test_given_a_negative_rate_in_the_table_then_the_mapping_does_not_load():
    import tomllib

    from connector.config import ConfigError
    from connector.mapping.config import parse_mapping
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["tax"]["rates"] = [{"title": "State Tax", "rate": "-0.1", "regime_code": "X", "rate_code": "Y"}]
    with pytest.raises(ConfigError, match="tax.rates"):
        parse_mapping(document)
