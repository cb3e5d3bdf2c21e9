"""Properties of a refund's credit memo amounts and of a payment's receipt, for generated amounts.

The refunds are built the way Shopify (and its sandbox) builds them: a line's ``subtotal`` is in
the order's price basis (it holds its tax in a tax-inclusive shop), a refund shipping line's
subtotal is net with its tax beside it, and the money given back is the refund's gross, or all
that had been paid when less was paid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import load_mapping
from connector.mapping.credit_memo import ShippingRefund, credit_amounts
from connector.mapping.invoice import MappingError
from connector.mapping.receipt import (
    MAX_RECEIPT_NUMBER,
    PAID_KINDS,
    build_receipt,
    is_payment,
)
from connector.shopify.orders import Transaction

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)
CENT = Decimal("0.01")
ZERO = Decimal(0)

amounts = st.integers(0, 500_000).map(lambda cents: cents * CENT)  # up to 5,000.00, to the cent
positive = st.integers(1, 500_000).map(lambda cents: cents * CENT)


def money(amount: Decimal) -> dict:
    return {"shop_money": {"amount": str(amount), "currency_code": "USD"},
            "presentment_money": {"amount": str(amount), "currency_code": "USD"}}


def refund(lines: list[tuple[Decimal, Decimal]], cash: Decimal) -> dict:
    """A REST refund: ``lines`` as (subtotal, total_tax), ``cash`` one successful refund transaction."""
    return {"admin_graphql_api_id": "gid://shopify/Refund/1",
            "refund_line_items": [{"subtotal": str(s), "subtotal_set": money(s), "total_tax": str(t),
                                   "total_tax_set": money(t)} for s, t in lines],
            "transactions": [{"kind": "refund", "status": "success", "amount": str(cash), "amount_set": money(cash)}]
            if cash else [],
            "order_adjustments": []}


@dataclass(frozen=True)
class Drawn:
    parts: list[tuple[Decimal, Decimal]]         # every refunded line and shipping line as (net, tax)
    reported: list[tuple[Decimal, Decimal]]      # refund line items as Shopify reports them: (subtotal, total_tax)
    shipping: list[ShippingRefund]               # as the Admin API reports them: net, with their tax
    gross: Decimal                               # what the refund gives back when enough was paid

    @property
    def tax(self) -> Decimal:
        return sum((tax for _, tax in self.parts), ZERO)


def draw_refund(data, taxes_included: bool) -> Drawn:
    """A refund of up to four lines and two shipping lines, something refunded."""
    lines = data.draw(st.lists(st.tuples(amounts, amounts), max_size=4))
    shipping = data.draw(st.lists(st.tuples(amounts, amounts), max_size=2))
    assume(lines or shipping)
    return Drawn(lines + shipping, [(net + tax if taxes_included else net, tax) for net, tax in lines],
                 [ShippingRefund(net, tax) for net, tax in shipping],
                 sum((net + tax for net, tax in lines + shipping), ZERO))


def in_both_tax_modes(test):
    """A property of generated refunds, checked for tax-exclusive and tax-inclusive shops."""
    return pytest.mark.parametrize("taxes_included", [False, True], ids=["tax-exclusive", "tax-inclusive"])(
        settings(max_examples=150)(given(data=st.data())(test)))


@in_both_tax_modes
def test_when_fully_paid_the_memo_gives_back_the_money_and_splits_net_and_tax(taxes_included, data):
    drawn = draw_refund(data, taxes_included)
    paid_before = drawn.gross + data.draw(amounts)

    memo = credit_amounts(refund(drawn.reported, drawn.gross), taxes_included=taxes_included,
                          shipping=drawn.shipping, paid_before=paid_before)

    assert memo.gross == memo.cash == drawn.gross
    assert memo.line + memo.tax == memo.gross
    assert memo.tax == drawn.tax
    assert memo.line == sum((net for net, _ in drawn.parts), ZERO)
    if taxes_included:  # net of a line is its subtotal less its tax
        assert memo.line == sum((s - t for s, t in drawn.reported), ZERO) + sum((s.subtotal for s in drawn.shipping),
                                                                                 ZERO)


@in_both_tax_modes
def test_when_less_was_paid_the_memo_still_credits_the_goods_and_the_money_back_is_what_was_paid(
        taxes_included, data):
    drawn = draw_refund(data, taxes_included)
    assume(drawn.gross > 0)
    paid_before = data.draw(st.integers(0, int(drawn.gross / CENT) - 1).map(lambda cents: cents * CENT))

    memo = credit_amounts(refund(drawn.reported, paid_before), taxes_included=taxes_included,
                          shipping=drawn.shipping, paid_before=paid_before)

    assert (memo.gross, memo.cash, memo.tax) == (drawn.gross, paid_before, drawn.tax)


@settings(max_examples=150)
@given(data=st.data())
def test_a_tax_inclusive_shipping_subtotal_reported_gross_gives_the_same_memo_when_the_money_settles_it(data):
    drawn = draw_refund(data, True)
    gross_shipping = [ShippingRefund(s.subtotal + s.tax, s.tax) for s in drawn.shipping]
    # More paid than given back, so the money is the refund's whole gross. (When exactly all that
    # was paid comes back, both readings add up and shipping is read as net: documented.)
    paid_before = drawn.gross + data.draw(positive)

    read_net = credit_amounts(refund(drawn.reported, drawn.gross), taxes_included=True, shipping=drawn.shipping,
                              paid_before=paid_before)
    read_gross = credit_amounts(refund(drawn.reported, drawn.gross), taxes_included=True, shipping=gross_shipping,
                                paid_before=paid_before)

    assert (read_gross.line, read_gross.tax) == (read_net.line, read_net.tax)


@in_both_tax_modes
def test_money_that_does_not_match_the_memo_is_refused_not_plugged(taxes_included, data):
    drawn = draw_refund(data, taxes_included)
    paid_before = data.draw(amounts)
    cash = min(drawn.gross, paid_before) + data.draw(
        st.integers(-500_000, 500_000).filter(bool).map(lambda cents: cents * CENT))
    assume(cash >= 0)
    shipping_tax = sum((s.tax for s in drawn.shipping), ZERO)
    # By design, a tax-inclusive refund whose money is short by exactly its shipping tax reads as
    # shipping reported gross (see connector.mapping.credit_memo._shipping): not a mismatch.
    assume(not (taxes_included and cash < paid_before and shipping_tax and cash == drawn.gross - shipping_tax))

    with pytest.raises(MappingError, match="gave back .* but") as refused:
        credit_amounts(refund(drawn.reported, cash), taxes_included=taxes_included, shipping=drawn.shipping,
                       paid_before=paid_before)
    # the money as it was (no refund transaction at all when nothing was given back: "0")
    assert Decimal(re.search(r"gave back (\S+) but", str(refused.value))[1]) == cash


transactions = st.builds(
    Transaction,
    id=st.integers(1, 10**20).map(str), gid=st.just("gid://shopify/OrderTransaction/1"),
    kind=st.sampled_from(["sale", "capture", "authorization", "void", "refund", "change"]),
    status=st.sampled_from(["success", "failure", "pending", "error"]),
    gateway=st.sampled_from(sorted(MAPPING.receipt_methods)), amount=amounts,
    currency=st.sampled_from(["USD", "EUR", "GBP", "CAD"]),
    processed_at=st.dates().map(lambda d: f"{d.isoformat()}T12:00:00Z"), parent_id=st.none())


@settings(max_examples=150)
@given(transaction=transactions, prefix=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8))
def test_a_receipt_is_the_payment_to_the_cent_in_shop_money(transaction, prefix):
    assert is_payment(transaction) == (transaction.kind in PAID_KINDS and transaction.status == "success"
                                       and transaction.amount > 0)
    number = f"{prefix}-T{transaction.id}"
    if len(number) > MAX_RECEIPT_NUMBER:
        with pytest.raises(MappingError, match="longer than Fusion's"):
            build_receipt(transaction, mapping=MAPPING, prefix=prefix, account_number="1", order_name="#1")
        return

    receipt = build_receipt(transaction, mapping=MAPPING, prefix=prefix, account_number="1", order_name="#1")

    assert (receipt.receipt_number, receipt.amount, receipt.currency, receipt.receipt_date) == \
        (number, transaction.amount, transaction.currency, transaction.processed_at[:10])
    assert receipt.payload()["Amount"] == transaction.amount
    foreign = transaction.currency != MAPPING.fusion.ledger_currency
    assert receipt.conversion_rate_type == (MAPPING.fusion.conversion_rate_type if foreign else None)
