"""A refund's credit memo amounts, to the cent, in tax-exclusive and tax-inclusive shops."""
from dataclasses import replace
from decimal import Decimal as D

import pytest

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.adjustment import DebitHeader
from connector.mapping.config import load_mapping
from connector.mapping.credit_memo import (
    CreditAmounts,
    Discrepancy,
    ShippingRefund,
    absorb,
    credit_amounts,
    on_account_memo,
)
from connector.mapping.invoice import MappingError


def money(amount: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": "EUR"},
            "presentment_money": {"amount": amount, "currency_code": "EUR"}}


def refund(lines=(), cash=None, adjustments=()) -> dict:
    """A REST refund: ``lines`` are (subtotal, total_tax); ``cash`` the successful refund transaction."""
    return {"admin_graphql_api_id": "gid://shopify/Refund/9",
            "refund_line_items": [{"subtotal": s, "subtotal_set": money(s), "total_tax": t, "total_tax_set": money(t)}
                                  for s, t in lines],
            "transactions": [] if cash is None else [{"kind": "refund", "status": "success", "amount": cash,
                                                      "amount_set": money(cash)}],
            "order_adjustments": list(adjustments)}


def test_given_tax_exclusive_shop_then_tax_comes_on_top_of_the_line_subtotal():
    # reference example: lines 10.80 + 0.86 tax, shipping 6.00 + 0.48 tax → 18.14 given back
    amounts = credit_amounts(refund([("10.80", "0.86")], cash="18.14"), taxes_included=False,
                             shipping=[ShippingRefund(D("6.00"), D("0.48"))], paid_before=D("100.00"))

    assert (amounts.line, amounts.tax, amounts.gross, amounts.cash) == (D("16.80"), D("1.34"), D("18.14"), D("18.14"))


def test_given_vat_inclusive_shop_then_the_line_subtotal_already_holds_its_tax():
    # 119.00 gross item with 19.00 VAT and 5.95 shipping (5.00 net + 0.95 VAT): 124.95 given back
    amounts = credit_amounts(refund([("119.00", "19.00")], cash="124.95"), taxes_included=True,
                             shipping=[ShippingRefund(D("5.00"), D("0.95"))], paid_before=D("124.95"))

    assert (amounts.line, amounts.tax, amounts.gross) == (D("105.00"), D("19.95"), D("124.95"))


def test_given_vat_shipping_reported_gross_then_the_reading_that_adds_up_to_the_money_is_taken():
    amounts = credit_amounts(refund([("119.00", "19.00")], cash="124.95"), taxes_included=True,
                             shipping=[ShippingRefund(D("5.95"), D("0.95"))], paid_before=D("200.00"))

    assert (amounts.line, amounts.tax) == (D("105.00"), D("19.95"))


def test_given_shipping_in_both_the_shipping_lines_and_the_old_adjustment_then_counted_once():
    shipping_adjustment = {"kind": "shipping_refund", "amount": "-5.00", "amount_set": money("-5.00"),
                           "tax_amount": "0.00", "tax_amount_set": money("0.00")}
    amounts = credit_amounts(refund(cash="5.00", adjustments=[shipping_adjustment]), taxes_included=False,
                             shipping=[ShippingRefund(D("5.00"), D("0.00"))], paid_before=D("50.00"))

    assert amounts.gross == D("5.00")


def test_given_an_old_api_refund_without_shipping_lines_then_the_shipping_adjustment_is_used():
    shipping_adjustment = {"kind": "shipping_refund", "amount": "-6.00", "amount_set": money("-6.00"),
                           "tax_amount": "-0.48", "tax_amount_set": money("-0.48")}
    amounts = credit_amounts(refund(cash="6.48", adjustments=[shipping_adjustment]), taxes_included=False,
                             shipping=[], paid_before=D("50.00"))

    assert (amounts.line, amounts.tax) == (D("6.00"), D("0.48"))


def test_given_an_unpaid_order_then_the_memo_credits_the_goods_and_no_money_moved():
    amounts = credit_amounts(refund([("20.00", "1.60")]), taxes_included=False, shipping=[], paid_before=D("0"))

    assert (amounts.gross, amounts.cash) == (D("21.60"), D("0"))


def test_given_less_paid_than_refunded_then_the_money_back_is_what_was_paid():
    amounts = credit_amounts(refund([("50.00", "0")], cash="30.00"), taxes_included=False, shipping=[],
                             paid_before=D("30.00"))

    assert (amounts.gross, amounts.cash) == (D("50.00"), D("30.00"))


def test_given_money_that_does_not_match_the_lines_then_refused_with_both_amounts():
    with pytest.raises(MappingError, match="gave back 20.00 but its lines and shipping come to 21.60"):
        credit_amounts(refund([("20.00", "1.60")], cash="20.00"), taxes_included=False, shipping=[],
                       paid_before=D("100.00"))


def test_given_a_cancellation_that_gave_the_tip_back_then_the_tip_is_credited_with_the_goods():
    # 20.00 + 1.60 tax of goods and a 5.00 tip: 26.60 back, and the REST refund has no line for the tip
    amounts = credit_amounts(refund([("20.00", "1.60")], cash="26.60"), taxes_included=False, shipping=[],
                             paid_before=D("100.00"), tip_left=D("5.00"))

    assert (amounts.line, amounts.tax, amounts.tip, amounts.gross) == (D("25.00"), D("1.60"), D("5.00"), D("26.60"))


def test_given_money_beyond_the_lines_that_is_not_the_tip_then_still_refused():
    with pytest.raises(MappingError, match="gave back 25.60"):
        credit_amounts(refund([("20.00", "1.60")], cash="25.60"), taxes_included=False, shipping=[],
                       paid_before=D("100.00"), tip_left=D("5.00"))


def adjustment(amount: str, reason: str = "refund_discrepancy", tax: str = "0.00") -> dict:
    return {"kind": "refund_discrepancy", "reason": reason, "amount": amount, "amount_set": money(amount),
            "tax_amount": tax, "tax_amount_set": money(tax)}


def test_given_a_restocking_fee_then_the_goods_are_credited_and_the_fee_is_kept_apart():
    # a 20.00 item returned, 2.00 kept as a restocking fee: 18.00 given back
    amounts = credit_amounts(refund([("20.00", "0")], cash="18.00", adjustments=[adjustment("2.00", "restock")]),
                             taxes_included=False, shipping=[], paid_before=D("100.00"))

    assert (amounts.gross, amounts.kept_gross, amounts.given_gross) == (D("20.00"), D("2.00"), D("0"))
    assert [(k.reason, k.net, k.tax) for k in amounts.kept] == [("restock", D("2.00"), D("0.00"))]


def test_given_an_amount_only_refund_then_the_money_is_credited_beyond_the_lines():
    # no line returned, 15.00 given back: Shopify records a discrepancy of −15.00
    amounts = credit_amounts(refund([], cash="15.00", adjustments=[adjustment("-15.00", "Refund discrepancy")]),
                             taxes_included=True, shipping=[], paid_before=D("50.00"))

    assert (amounts.gross, amounts.kept, amounts.given_line, amounts.given_tax) == (D("0"), (), D("15.00"), D("0.00"))


def test_given_reasons_spelled_differently_then_they_are_one_key():
    amounts = credit_amounts(refund([("30.00", "0")], cash="26.00",
                                    adjustments=[adjustment("1.50", "Restock"), adjustment("2.50", "RESTOCK")]),
                             taxes_included=False, shipping=[], paid_before=D("100.00"))

    assert [(k.reason, k.gross) for k in amounts.kept] == [("restock", D("4.00"))]


def test_given_a_discrepancy_that_does_not_explain_the_money_then_refused_not_plugged():
    with pytest.raises(MappingError, match="gave back 17.00 .* 2.00 kept by order adjustments"):
        credit_amounts(refund([("20.00", "0")], cash="17.00", adjustments=[adjustment("2.00")]),
                       taxes_included=False, shipping=[], paid_before=D("100.00"))


def test_given_goods_beyond_the_documents_then_what_the_refund_kept_pays_for_them():
    # 5.00 given back earlier (credited already); the return of a 20.00 item keeps 5.00 back
    amounts = CreditAmounts(D("20.00"), D("0"), D("15.00"), kept=(Discrepancy("refund_discrepancy", D("5.00"), D("0")),))

    fitted = absorb(amounts, D("5.00"), D("0"))

    assert (fitted.line, fitted.tax, fitted.kept) == (D("15.00"), D("0"), ())


def test_given_the_net_part_overflows_then_the_tax_part_takes_what_it_has_spare():
    amounts = CreditAmounts(D("80.00"), D("15.20"), D("91.00"), kept=(Discrepancy("refund_discrepancy", D("3.00"), D("0")),))

    fitted = absorb(amounts, D("4.00"), D("0"), spare_tax=D("1.50"))

    assert (fitted.line, fitted.tax, fitted.gross, fitted.kept) == (D("76.00"), D("16.20"), D("92.20"), ())


def test_given_more_beyond_the_documents_than_anything_explains_then_refused():
    amounts = CreditAmounts(D("20.00"), D("0"), D("20.00"))

    with pytest.raises(MappingError, match="more than the order's documents hold"):
        absorb(amounts, D("2.00"), D("0"))


def test_given_a_multi_currency_refund_then_its_money_is_the_shop_money_the_admin_api_reports():
    from connector.mapping.credit_memo import refund_cash
    from connector.shopify.orders import Transaction
    # the webhook gives the presentment amount (CAD); the Admin API the shop's (USD)
    webhook = {"transactions": [{"id": 77, "kind": "refund", "status": "success", "amount": "13.50", "currency": "CAD"}]}
    history = [Transaction(id="77", gid="gid://shopify/OrderTransaction/77", kind="refund", status="success",
                           gateway="shopify_payments", amount=D("10.00"), currency="USD",
                           processed_at="2026-12-01T10:00:00Z", parent_id="76")]

    assert refund_cash(webhook, history) == D("10.00")


def test_given_a_refund_transaction_the_admin_api_does_not_list_then_refused():
    from connector.mapping.credit_memo import refund_cash
    webhook = {"admin_graphql_api_id": "gid://shopify/Refund/5",
               "transactions": [{"id": 78, "kind": "refund", "status": "success", "amount": "5.00"}]}

    with pytest.raises(MappingError, match="transaction 78 is not among"):
        refund_cash(webhook, [])


def test_given_a_refund_beyond_every_charge_then_the_on_account_memo_credits_it_with_its_tax():
    mapping = load_mapping(DEFAULT_MAPPING_FILE)
    header = DebitHeader("ACME-1001-C3B", "ACC-1", "USD", "2026-03-01", "ACME-1001", "why")
    gid = "gid://shopify/Refund/7"

    exclusive = on_account_memo(header, gid, D("4.38"), D("0.35"), mapping, taxes_included=False)
    inclusive = on_account_memo(header, gid, D("4.38"), D("0.35"), mapping, taxes_included=True)

    [line] = exclusive["receivablesCreditMemoLines"]
    assert line["UnitSellingPrice"] == D("-4.38") and "LineAmountIncludesTax" not in line
    assert line["receivablesCreditMemoLineTaxLines"][0]["TaxAmount"] == D("-0.35")
    assert inclusive["receivablesCreditMemoLines"][0]["UnitSellingPrice"] == D("-4.73")  # gross, tax inside
    assert exclusive["CustomerReference"] == exclusive["CrossReference"] == gid
    where = mapping.kept_line("refund_discrepancy")
    assert exclusive["receivablesCreditMemoDistributions"][0]["AccountCombination"] == where.account
    with pytest.raises(MappingError, match="refund_adjustments"):
        on_account_memo(header, gid, D("4.38"), D("0"), replace(mapping, refund_adjustments={}), taxes_included=False)
