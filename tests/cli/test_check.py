"""``ml-connector check``: which refunds must have their credit memo in Fusion."""
from __future__ import annotations

from cli.check import needs_memo


def money(amount: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": "USD"}}


def returned_line(subtotal: str, tax: str) -> dict:
    return {"quantity": 1, "subtotal_set": money(subtotal), "total_tax_set": money(tax)}


def test_given_a_return_of_a_line_discounted_to_nothing_then_no_credit_memo_is_expected():
    # (the chaos run's order #2952: 0.01 in all, its water bottle returned for 0.00)
    assert not needs_memo({"refund_line_items": [returned_line("0.00", "0.00")], "transactions": []}, False)


def test_given_a_return_of_goods_worth_something_then_a_credit_memo_is_expected():
    assert needs_memo({"refund_line_items": [returned_line("14.50", "0.00")], "transactions": []}, False)
    assert needs_memo({"refund_line_items": [returned_line("0.00", "1.02")], "transactions": []}, False)


def test_given_a_returned_line_without_its_amounts_then_it_is_not_assumed_worthless():
    assert needs_memo({"refund_line_items": [{"quantity": 1}], "transactions": []}, False)
