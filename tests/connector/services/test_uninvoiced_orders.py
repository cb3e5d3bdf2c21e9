"""Which orders get no invoice at all: test orders, and cancelled ones where Shopify shows nothing
either way."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from connector.services.orders import why_no_invoice

CANCELLED = {"cancelled_at": "2026-01-02T10:00:00Z", "current_total_price": "0.00", "total_outstanding": "0.00",
             "refunds": [], "test": False}
PAID = {"cancelled_at": None, "current_total_price": "97.20", "total_outstanding": "0.00", "refunds": [],
        "test": False}
SETTINGS = SimpleNamespace(invoice_cancelled_orders=False, invoice_test_orders=False)


def test_given_a_cancelled_order_with_nothing_either_way_then_no_invoice():
    assert "cancelled before it was invoiced" in why_no_invoice(SETTINGS, CANCELLED)


@pytest.mark.parametrize("changes", [
    {"cancelled_at": None},                                  # not cancelled
    {"total_outstanding": "-97.20"},                         # paid, edited down: the customer is owed money
    {"refunds": [{"order_adjustments": [{"kind": "refund_discrepancy", "reason": "restock", "amount": "2.00",
                                         "tax_amount": "0.00"}]}]},   # a fee kept back
])
def test_given_money_either_way_then_invoiced(changes):
    assert why_no_invoice(SETTINGS, dict(CANCELLED, **changes)) == ""


def test_given_the_setting_then_every_cancelled_order_is_invoiced():
    assert why_no_invoice(SimpleNamespace(invoice_cancelled_orders=True, invoice_test_orders=False), CANCELLED) == ""


def test_given_a_test_order_then_no_invoice_and_the_reason_names_the_setting():
    reason = why_no_invoice(SETTINGS, dict(PAID, test=True))
    assert "test order" in reason and "MLC_INVOICE_TEST_ORDERS" in reason


def test_given_a_real_order_then_invoiced():
    assert why_no_invoice(SETTINGS, PAID) == ""


def test_given_the_setting_then_test_orders_are_invoiced():
    assert why_no_invoice(SimpleNamespace(invoice_cancelled_orders=False, invoice_test_orders=True),
                          dict(PAID, test=True)) == ""
