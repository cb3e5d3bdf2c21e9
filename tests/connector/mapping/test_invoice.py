"""The invoice an accountant sees for a Shopify order: same total, traceable lines, right accounts."""
import copy
from decimal import Decimal

import pytest

from connector import jsonutil
from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import load_mapping
from connector.mapping.invoice import MappingError, build_invoice, invoice_total, transaction_number

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)

# reference/shopify/README.md §2.5: 2 tees and a mug, SAVE10, shipping 6.00, 8 % tax → 66.74
ORDER = jsonutil.loads('''{
 "id": 5500000000001, "admin_graphql_api_id": "gid://shopify/Order/5500000000001",
 "name": "#1001", "order_number": 1001, "processed_at": "2026-01-15T10:00:00-05:00",
 "currency": "USD", "taxes_included": false, "total_price": "66.74",
 "total_price_set": {"shop_money": {"amount": "66.74", "currency_code": "USD"},
                     "presentment_money": {"amount": "61.20", "currency_code": "EUR"}},
 "discount_applications": [{"type": "discount_code", "code": "SAVE10", "value": "10.0",
   "value_type": "percentage", "allocation_method": "across"}],
 "line_items": [
  {"name": "Tee - Black / M", "quantity": 2, "price": "25.00",
   "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
   "tax_lines": [{"title": "State Tax", "rate": 0.08, "price": "3.60"}]},
  {"name": "Mug", "quantity": 1, "price": "12.00",
   "discount_allocations": [{"amount": "1.20", "discount_application_index": 0}],
   "tax_lines": [{"title": "State Tax", "rate": 0.08, "price": "0.86"}]}],
 "shipping_lines": [{"title": "Standard", "price": "6.00", "discount_allocations": [],
   "tax_lines": [{"title": "State Tax", "rate": 0.08, "price": "0.48"}]}],
 "billing_address": {"first_name": "Ana", "last_name": "Silva", "address1": "1 Main St",
   "city": "Austin", "province_code": "TX", "country_code": "US", "zip": "78701"}}''')


def build(order=ORDER):
    return build_invoice(order, mapping=MAPPING, prefix="ACME", bill_to_account="10042")


def test_given_reference_order_then_invoice_total_is_shopify_total_to_the_cent():
    invoice = build()
    assert invoice_total(invoice["receivablesInvoiceLines"], inclusive=False) == Decimal("66.74")
    assert invoice["InvoiceCurrencyCode"] == "USD"  # booked in shop money, not presentment


def test_given_order_then_header_identifies_order_customer_and_setup():
    invoice = build()
    assert invoice["TransactionNumber"] == "ACME-1001"
    assert invoice["CrossReference"] == "gid://shopify/Order/5500000000001"
    assert invoice["BillToCustomerNumber"] == "10042"
    assert invoice["TransactionDate"] == "2026-01-15"
    assert (invoice["BusinessUnit"], invoice["TransactionSource"], invoice["TransactionType"]) == (
        "US1 Business Unit", "SHOPIFY", "Shopify Invoice")
    assert "1 Main St, Austin, TX, 78701, US" in invoice["Comments"]


def test_given_discounts_then_each_becomes_a_negative_line_on_the_discount_account():
    lines = build()["receivablesInvoiceLines"]
    discounts = [line for line in lines if line["MemoLine"] == "Discount"]
    assert [line["UnitSellingPrice"] for line in discounts] == [Decimal("-5.00"), Decimal("-1.20")]
    assert all("SAVE10" in line["Description"] for line in discounts)
    distributions = {d["InvoiceLineNumber"]: d for d in build()["receivablesInvoiceDistributions"]}
    assert {distributions[line["LineNumber"]]["AccountCombination"] for line in discounts} == {
        "101-10-41900-000-000"}


def test_given_shipping_then_freight_line_with_its_tax_on_the_freight_account():
    invoice = build()
    freight = [line for line in invoice["receivablesInvoiceLines"] if line["MemoLine"] == "Freight"]
    assert len(freight) == 1 and freight[0]["UnitSellingPrice"] == Decimal("6.00")
    assert freight[0]["receivablesInvoiceLineTaxLines"][0]["TaxAmount"] == Decimal("0.48")


def test_given_money_then_it_is_sent_as_exact_json_numbers():
    text = jsonutil.dumps(build())
    assert '"UnitSellingPrice":25.00' in text and '"TaxAmount":0.86' in text


def test_given_vat_inclusive_order_then_lines_include_tax_and_still_add_up():
    order = copy.deepcopy(ORDER)
    order["taxes_included"] = True
    order["total_price"] = "61.80"  # 50 + 12 - 6.20 + 6, tax inside
    order["total_price_set"]["shop_money"]["amount"] = "61.80"
    invoice = build(order)
    assert invoice_total(invoice["receivablesInvoiceLines"], inclusive=True) == Decimal("61.80")
    assert all(line["LineAmountIncludesTax"] == "Y" for line in invoice["receivablesInvoiceLines"])


def test_given_lines_that_do_not_add_up_to_shopify_total_then_refused():
    order = copy.deepcopy(ORDER)
    order["total_price_set"]["shop_money"]["amount"] = "66.75"
    with pytest.raises(MappingError, match="66.74.*66.75"):
        build(order)


def test_given_long_prefix_and_order_number_then_transaction_number_refused():
    with pytest.raises(MappingError, match="20 characters"):
        transaction_number("ABCDEFGH", {"order_number": 12345678901234})


def test_given_shop_override_then_that_shop_posts_to_its_own_business_unit_and_tax_regime():
    from connector.mapping.config import parse_mapping
    import tomllib
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["shops"] = {"eu.myshopify.com": {"fusion": {"business_unit": "EU1 Business Unit",
                                                         "ledger_currency": "EUR"},
                                              "tax": {"regime_code": "VAT", "rates": []}}}
    mapping = parse_mapping(document)

    eu = build_invoice(ORDER, mapping=mapping.for_shop("eu.myshopify.com"), prefix="EU", bill_to_account="1")
    us = build_invoice(ORDER, mapping=mapping.for_shop("us.myshopify.com"), prefix="US", bill_to_account="1")

    assert (eu["BusinessUnit"], us["BusinessUnit"]) == ("EU1 Business Unit", "US1 Business Unit")
    assert eu["receivablesInvoiceLines"][0]["receivablesInvoiceLineTaxLines"][0]["TaxRegimeCode"] == "VAT"
    assert eu["receivablesInvoiceDistributions"] == us["receivablesInvoiceDistributions"]  # GL inherited
    # a USD order booked in a EUR ledger needs a conversion rate type; in a USD ledger it does not
    assert eu["ConversionRateType"] == "Corporate" and "ConversionRateType" not in us


def _with_gift_card_and_tip():
    order = copy.deepcopy(ORDER)
    order["line_items"].append({"name": "Gift card 50", "quantity": 1, "price": "50.00", "gift_card": True,
                                "tax_lines": []})
    order["total_tip_received"] = "5.00"
    order["total_price"] = "121.74"
    order["total_price_set"]["shop_money"]["amount"] = "121.74"
    return order


def _distribution(invoice, memo_line):
    [line] = [line for line in invoice["receivablesInvoiceLines"] if line["MemoLine"] == memo_line]
    [where] = [d for d in invoice["receivablesInvoiceDistributions"] if d["InvoiceLineNumber"] == line["LineNumber"]]
    return line, where["AccountCombination"]


def test_given_a_gift_card_sold_then_it_is_a_liability_with_no_tax_not_revenue():
    invoice = build(_with_gift_card_and_tip())

    line, account = _distribution(invoice, MAPPING.memo_lines.gift_card)
    assert account == MAPPING.gl.gift_cards != MAPPING.gl.revenue
    assert line["UnitSellingPrice"] == Decimal("50.00") and "receivablesInvoiceLineTaxLines" not in line
    assert invoice_total(invoice["receivablesInvoiceLines"], False) == Decimal("121.74")


def test_given_a_tip_then_it_goes_to_the_tips_account():
    line, account = _distribution(build(_with_gift_card_and_tip()), MAPPING.memo_lines.tip)
    assert account == MAPPING.gl.tips and line["UnitSellingPrice"] == Decimal("5.00")


@pytest.mark.parametrize("key", ["gift_cards", "tips"])
def test_given_a_mapping_without_the_account_then_the_order_parks_naming_the_key(key):
    from dataclasses import replace
    mapping = replace(MAPPING, gl=replace(MAPPING.gl, **{key: ""}))
    with pytest.raises(MappingError, match=rf"\[gl\] {key}"):
        build_invoice(_with_gift_card_and_tip(), mapping=mapping, prefix="ACME", bill_to_account="10042")


def test_given_a_gift_card_with_tax_then_refused():
    order = _with_gift_card_and_tip()
    order["line_items"][-1]["tax_lines"] = [{"title": "State Tax", "rate": 0.08, "price": "4.00"}]
    with pytest.raises(MappingError, match="gift card"):
        build(order)


def _a_cent_short():
    order = copy.deepcopy(ORDER)
    order["total_price"] = "66.75"  # Shopify rounded the total apart from its lines
    order["total_price_set"]["shop_money"]["amount"] = "66.75"
    return order


def _tolerating(amount):
    from dataclasses import replace
    return replace(MAPPING, rounding=replace(MAPPING.rounding, tolerance=Decimal(amount)))


def test_given_a_difference_within_the_tolerance_then_a_rounding_line_makes_up_shopify_total():
    invoice = build_invoice(_a_cent_short(), mapping=_tolerating("0.01"), prefix="ACME", bill_to_account="10042")

    line, account = _distribution(invoice, MAPPING.rounding.memo_line)
    assert line["UnitSellingPrice"] == Decimal("0.01") and account == MAPPING.rounding.account
    assert "66.75" in line["Description"] and "66.74" in line["Description"]
    assert invoice_total(invoice["receivablesInvoiceLines"], False) == Decimal("66.75")


@pytest.mark.parametrize("tolerance", ["0", "0.005"])
def test_given_a_difference_beyond_the_tolerance_then_refused(tolerance):
    with pytest.raises(MappingError, match="66.74 but Shopify's total is 66.75"):
        build_invoice(_a_cent_short(), mapping=_tolerating(tolerance), prefix="ACME", bill_to_account="10042")


def test_given_a_mapping_with_a_negative_tolerance_then_it_does_not_load():
    import tomllib

    from connector.config import ConfigError
    from connector.mapping.config import parse_mapping
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["rounding"]["tolerance"] = "-0.01"
    with pytest.raises(ConfigError, match="rounding.tolerance"):
        parse_mapping(document)


def test_given_a_bill_to_site_then_the_invoice_names_it_and_without_one_fusion_picks_the_primary():
    named = build_invoice(ORDER, mapping=MAPPING, prefix="SHOP", bill_to_account="10042", bill_to_site="30155")
    unnamed = build_invoice(ORDER, mapping=MAPPING, prefix="SHOP", bill_to_account="10042")
    assert named["BillToSite"] == "30155" and "BillToSite" not in unnamed


def _whole_converted_orders(count=200, seed=11):
    """Orders as a shop that converts presentment totals as a whole completes them (the Shopify
    sandbox's ``total_conversion = "whole"``): some totals are a cent or two off their parts."""
    from itertools import count as numbers
    from types import SimpleNamespace

    from sandbox.shopify.generator import generate_orders
    from sandbox.shopify.orders import complete_order, rest_view
    shop = SimpleNamespace(currency="USD", taxes_included=False, total_conversion="whole", domain="whole.myshopify.com")
    ids = numbers(1)
    return [rest_view(complete_order(o, shop=shop, new_id=lambda kind: next(ids), order_number=1001 + n,
                                     now="2026-01-05T09:00:00Z"))
            for n, o in enumerate(generate_orders(count, seed, convert_total="whole"))]


def test_given_totals_converted_whole_then_a_tolerance_books_every_order_at_shopify_total():
    # given 200 orders of a shop converting foreign totals as a whole
    orders = _whole_converted_orders()
    # when each is mapped with a five-cent tolerance
    invoices = [build_invoice(o, mapping=_tolerating("0.05"), prefix="ACME", bill_to_account="10042") for o in orders]
    # then every invoice comes to Shopify's total to the cent, and the ones a cent or two off say so on a rounding line
    for order, invoice in zip(orders, invoices):
        assert invoice_total(invoice["receivablesInvoiceLines"], False) == Decimal(order["total_price"])
    rounded = [i for i in invoices if any(line.get("MemoLine") == MAPPING.rounding.memo_line
                                          for line in i["receivablesInvoiceLines"])]
    assert 10 <= len(rounded) < len(orders)


def test_given_totals_converted_whole_and_no_tolerance_then_only_the_orders_off_their_parts_are_refused():
    orders = _whole_converted_orders()
    refused = []
    for order in orders:
        try:
            build(order)
        except MappingError as error:
            refused.append(str(error))
    assert refused and all("but Shopify's total is" in message for message in refused)
    assert len(refused) < len(orders) // 4
