"""Duties and additional fees: on the invoice each on its own memo line and account, as components
of edits, and credited when a refund gives them back."""
from dataclasses import replace
from decimal import Decimal as D
from itertools import count
from types import SimpleNamespace

import pytest

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.adjustment import Components, build_debit_memo, components
from connector.mapping.config import load_mapping
from connector.mapping.credit_memo import ChargeRefund, credit_amounts
from connector.mapping.invoice import MappingError, build_invoice, invoice_total
from sandbox.shopify.orders import complete_order

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)
IDS = count(1)


def order(taxes_included=False, duty="5.00", fee="2.00", rate="0.08") -> dict:
    """A 50.00 tee taxed at ``rate`` with a duty (taxed too) and an untaxed additional fee, as the
    Shopify sandbox completes it."""
    posted = {"line_items": [{"title": "Tee", "quantity": 2, "price": "25.00",
                              "tax_lines": [{"title": "Tax", "rate": rate}],
                              "duties": [{"price": duty, "harmonized_system_code": "610910",
                                          "tax_lines": [{"title": "Tax", "rate": rate}]}]}],
              "additional_fees": [{"name": "Import handling", "price": fee}] if fee else [],
              "taxes_included": taxes_included}
    shop = SimpleNamespace(currency="USD", taxes_included=taxes_included, domain="s.myshopify.com")
    return complete_order(posted, shop=shop, new_id=lambda kind: next(IDS), order_number=1001,
                          now="2026-01-05T10:00:00+00:00")


def test_given_duties_and_fees_then_each_is_a_line_on_its_memo_line_and_account_with_its_tax():
    placed = order()
    invoice = build_invoice(placed, mapping=MAPPING, prefix="SH", bill_to_account="A1")

    lines = {line["Description"]: line for line in invoice["receivablesInvoiceLines"]}
    duty = lines["Duty: Tee (HS 610910)"]
    assert (duty["MemoLine"], duty["UnitSellingPrice"]) == ("Duties", D("5.00"))
    assert [t["TaxAmount"] for t in duty["receivablesInvoiceLineTaxLines"]] == [D("0.40")]
    fee = lines["Additional fee: Import handling"]
    assert (fee["MemoLine"], fee["UnitSellingPrice"]) == ("Additional Fees", D("2.00"))
    accounts = {d["InvoiceLineNumber"]: d["AccountCombination"] for d in invoice["receivablesInvoiceDistributions"]}
    assert accounts[duty["LineNumber"]] == MAPPING.gl.duties and accounts[fee["LineNumber"]] == MAPPING.gl.additional_fees
    assert invoice_total(invoice["receivablesInvoiceLines"], False) == D(placed["total_price"]) == D("61.40")


def test_given_a_tax_inclusive_shop_then_the_duty_line_includes_its_tax_and_the_invoice_its_total():
    placed = order(taxes_included=True, duty="12.10", rate="0.21")
    invoice = build_invoice(placed, mapping=MAPPING, prefix="SH", bill_to_account="A1")
    assert invoice_total(invoice["receivablesInvoiceLines"], True) == D(placed["total_price"]) == D("64.10")
    found = components(placed)
    assert (found.duties, found.duties_tax, found.additional_fees) == (D("12.10"), D("2.10"), D("2.00"))
    assert found.total(True) == D("64.10")


def test_given_a_mapping_without_duties_then_the_order_parks_naming_the_keys():
    bare = replace(MAPPING, memo_lines=replace(MAPPING.memo_lines, duties=""), gl=replace(MAPPING.gl, duties=""))
    with pytest.raises(MappingError, match=r"\[memo_lines\] duties and \[gl\] duties"):
        build_invoice(order(), mapping=bare, prefix="SH", bill_to_account="A1")


def test_given_duties_then_they_are_components_and_a_rise_is_a_debit_line_on_the_duties_memo_line():
    found = components(order())
    assert found == Components(merchandise=D("50.00"), merchandise_tax=D("4.00"), tip=D("0.00"),
                               duties=D("5.00"), duties_tax=D("0.40"), additional_fees=D("2.00"))
    rise = components(order(duty="8.00", fee="3.00")) - found
    assert (rise.duties, rise.duties_tax, rise.additional_fees, rise.tax) == (D("3.00"), D("0.24"), D("1.00"), D("0.24"))
    debit = build_debit_memo(order(), rise, mapping=MAPPING, number="SH-1001-D1", bill_to_account="A1",
                             invoice_number="SH-1001")
    assert [(line["MemoLine"], line["UnitSellingPrice"]) for line in debit["receivablesInvoiceLines"]] == [
        ("Duties", D("3.00")), ("Additional Fees", D("1.00"))]


def test_components_of_an_invoice_bound_before_duties_still_load():
    assert Components.from_refs({"merchandise": "1", "merchandise_tax": "0", "shipping": "0",
                                 "shipping_tax": "0", "tip": "0"}).duties == D("0")


def money(amount: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": "USD"}}


def duty_refund(cash: str, duties="5.00", fees="0.00") -> dict:
    return {"admin_graphql_api_id": "gid://shopify/Refund/1", "refund_line_items": [],
            "total_duties_set": money(duties), "total_additional_fees_set": money(fees),
            "transactions": [{"kind": "refund", "status": "success", "amount": cash, "amount_set": money(cash)}]}


def test_given_a_refund_of_duties_then_their_amount_is_credited_in_the_line_part_and_their_tax_in_the_tax_part():
    amounts = credit_amounts(duty_refund("7.40", fees="2.00"), taxes_included=False, shipping=[],
                             paid_before=D("61.40"), charges=[ChargeRefund(D("5.00"), D("0.40")),
                                                              ChargeRefund(D("2.00"), D("0"))])
    assert (amounts.line, amounts.tax, amounts.cash) == (D("7.00"), D("0.40"), D("7.40"))


def test_given_a_tax_inclusive_refund_of_duties_then_the_line_part_is_net_of_their_tax():
    amounts = credit_amounts(duty_refund("12.10", duties="12.10"), taxes_included=True, shipping=[],
                             paid_before=D("64.10"), charges=[ChargeRefund(D("12.10"), D("2.10"))])
    assert (amounts.line, amounts.tax) == (D("10.00"), D("2.10"))


def test_given_duties_the_admin_api_does_not_report_then_the_refund_parks():
    with pytest.raises(MappingError, match="refunds 5.00 of duties and additional fees but the Admin API reports 0"):
        credit_amounts(duty_refund("5.40"), taxes_included=False, shipping=[], paid_before=D("61.40"))


def test_given_money_without_the_duties_then_the_cent_check_parks_the_refund():
    with pytest.raises(MappingError, match="gave back 0.00"):
        credit_amounts(duty_refund("0.00"), taxes_included=False, shipping=[], paid_before=D("61.40"),
                       charges=[ChargeRefund(D("5.00"), D("0.40"))])
