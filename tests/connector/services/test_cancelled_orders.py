"""Which cancelled orders get no invoice: only those where Shopify shows nothing either way."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from connector.services.orders import gets_no_invoice

CANCELLED = {"cancelled_at": "2026-01-02T10:00:00Z", "current_total_price": "0.00", "total_outstanding": "0.00",
             "refunds": []}
SETTINGS = SimpleNamespace(invoice_cancelled_orders=False)


def test_given_a_cancelled_order_with_nothing_either_way_then_no_invoice():
    assert gets_no_invoice(SETTINGS, CANCELLED)


@pytest.mark.parametrize("changes", [
    {"cancelled_at": None},                                  # not cancelled
    {"total_outstanding": "-97.20"},                         # paid, edited down: the customer is owed money
    {"refunds": [{"order_adjustments": [{"kind": "refund_discrepancy", "reason": "restock", "amount": "2.00",
                                         "tax_amount": "0.00"}]}]},   # a fee kept back
])
def test_given_money_either_way_then_invoiced(changes):
    assert not gets_no_invoice(SETTINGS, dict(CANCELLED, **changes))


def test_given_the_setting_then_every_cancelled_order_is_invoiced():
    assert not gets_no_invoice(SimpleNamespace(invoice_cancelled_orders=True), CANCELLED)
