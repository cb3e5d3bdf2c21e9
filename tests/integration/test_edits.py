"""Edits after invoicing become debit and credit memos, never a second invoice."""
from __future__ import annotations

from decimal import Decimal

import requests

from connector.config import load_settings
from connector.db import session_scope
from connector.models import Binding, InboxState
from tests.factories import new_order
from tests.support import eventually


def edit(shop, order, **changes) -> dict:
    response = requests.put(f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/orders/{order['id']}",
                            json=changes, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def tees(order, quantity: int) -> list[dict]:
    """The order's lines with the first (the tees) at ``quantity``."""
    return [{"id": li["id"], "quantity": quantity if i == 0 else li["quantity"]}
            for i, li in enumerate(order["line_items"])]


def test_given_an_invoiced_order_when_a_quantity_rises_then_a_debit_memo_for_the_difference(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)

    edited = edit(shop, order, line_items=tees(order, 3))

    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90), \
        shop.money_invariants(order)
    [debit] = shop.fusion_debit_memos(order)
    assert debit["TransactionNumber"] == f"{shop.prefix}-{order['order_number']}-D1"
    assert Decimal(str(debit["EnteredAmount"])) == Decimal(edited["total_price"]) - Decimal("66.74")
    assert len(shop.fusion_invoices(order)) == 1  # never a second invoice
    assert all(e.state == InboxState.done for e in shop.inbox() if e.topic == "orders/updated")


def test_given_an_invoiced_order_when_a_quantity_falls_then_a_credit_memo_for_the_difference(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)

    edited = edit(shop, order, line_items=tees(order, 1))

    assert eventually(lambda: shop.holds(order) and shop.fusion_credit_memos(order), timeout=90), \
        shop.money_invariants(order)
    [credit] = shop.fusion_credit_memos(order)
    assert credit["TransactionNumber"] == f"{shop.prefix}-{order['order_number']}-E1"
    assert Decimal(str(credit["EnteredAmount"])) == Decimal(edited["total_price"]) - Decimal("66.74")


def test_given_an_edit_that_changes_no_money_then_nothing_is_booked(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)

    edit(shop, order, note="gift wrap please")

    assert eventually(lambda: shop.holds(order) and any(e.topic == "orders/updated" for e in shop.inbox()),
                      timeout=60)
    assert shop.fusion_debit_memos(order) == [] and shop.fusion_credit_memos(order) == []


def test_given_a_paid_order_when_a_quantity_rises_then_the_debit_memo_is_what_is_still_owed(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)

    edit(shop, order, line_items=tees(order, 3))

    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90), \
        shop.money_invariants(order)
    [debit] = shop.fusion_debit_memos(order)
    assert Decimal(str(debit["InvoiceBalanceAmount"])) == Decimal(shop.order(order["id"])["total_outstanding"]) > 0


def test_given_a_paid_order_when_a_quantity_falls_then_the_credit_goes_against_the_invoice_and_the_excess_stays_on_the_receipt(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)

    edited = edit(shop, order, line_items=tees(order, 1))

    assert eventually(lambda: quiet_and_credited(shop, order), timeout=90), shop.money_invariants(order)
    fusion_documents, current = shop.money_invariants(order)["documents"]
    assert fusion_documents == current == Decimal(edited["current_total_price"])
    [receipt] = shop.fusion_receipts(order)
    overpaid = Decimal("66.74") - Decimal(edited["total_price"])
    # Shopify owes the customer the difference (a negative outstanding); Fusion shows it as cash on account
    assert Decimal(str(receipt["UnappliedAmount"])) == overpaid == -Decimal(shop.order(order["id"])["total_outstanding"])
    assert shop.fusion_balance(order) == Decimal("0")


def quiet_and_credited(shop, order) -> bool:
    return shop.events_handled() and bool(shop.fusion_credit_memos(order))


def test_given_an_edit_raised_the_order_when_everything_is_refunded_then_the_debit_memo_is_credited_too(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    edited = edit(shop, order, line_items=tees(order, 3))
    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90)
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": edited["total_outstanding"]})
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_receipts(order)) == 2, timeout=90)

    shop.act(f"orders/{order['id']}/refunds", {
        "refund_line_items": [{"line_item_id": li["id"], "quantity": li["quantity"], "restock_type": "return"}
                              for li in edited["line_items"]], "shipping": {"full_refund": True}})

    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 2, timeout=120), \
        shop.money_invariants(order)
    numbers = sorted(m["TransactionNumber"] for m in shop.fusion_credit_memos(order))
    stem = f"{shop.prefix}-{order['order_number']}-C1"
    assert numbers == [stem, f"{stem}B"]  # one refund: a memo against the invoice, one against the debit memo
    assert shop.money_invariants(order)["documents"] == (Decimal("0.00"), Decimal("0.00"))


def test_given_an_edit_down_left_cash_on_the_receipt_when_an_edit_up_follows_then_the_cash_pays_the_debit_memo(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order) and shop.fusion_receipts(order), timeout=60)
    edit(shop, order, line_items=tees(order, 1))
    assert eventually(lambda: quiet_and_credited(shop, order), timeout=90)

    edit(shop, order, line_items=tees(order, 3))

    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90), \
        shop.money_invariants(order)
    [receipt] = shop.fusion_receipts(order)
    assert Decimal(str(receipt["UnappliedAmount"])) == Decimal("0")  # the overpayment went onto the debit memo


def test_given_an_edit_raised_a_line_when_an_edit_lowers_it_below_the_invoice_then_the_credit_is_split(shop):
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    shop.wait_invoiced(order)
    edit(shop, order, line_items=tees(order, 4))
    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90)
    [debit] = shop.fusion_debit_memos(order)

    edited = edit(shop, order, line_items=tees(order, 1))

    assert eventually(lambda: quiet_and_credited(shop, order), timeout=120), shop.money_invariants(order)
    memos = {m["TransactionNumber"]: m for m in shop.fusion_credit_memos(order)}
    stem = f"{shop.prefix}-{order['order_number']}-E2"
    assert sorted(memos) == [stem, f"{stem}B"]  # the invoice could not take it all: the debit memo takes the rest
    credited = sum((-Decimal(str(m["EnteredAmount"])) for m in memos.values()), Decimal(0))
    assert credited == Decimal(str(debit["EnteredAmount"])) + Decimal(order["total_price"]) - Decimal(edited["total_price"])
    assert shop.money_invariants(order)["documents"] == (Decimal(edited["current_total_price"]),) * 2
    [receipt] = shop.fusion_receipts(order)  # the customer paid more than the order now costs: cash on account
    assert Decimal(str(receipt["UnappliedAmount"])) == -Decimal(shop.order(order["id"])["total_outstanding"]) > 0
    assert shop.fusion_balance(order) == Decimal("0")


def test_given_an_invoice_bound_before_edits_were_booked_when_it_is_edited_then_the_edit_is_booked(shop):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order), timeout=60)
    # an invoice an earlier release bound: no baseline for edits, no tax mode for refunds (its
    # edits were kept deferred, amendment pending; replaying them takes this same path)
    with session_scope(load_settings().database_url) as session:
        binding = session.get(Binding, shop.binding("order", order["id"]).id)
        binding.fusion_refs = {k: v for k, v in binding.fusion_refs.items() if k not in ("components", "taxes_included")}

    edited = edit(shop, order, line_items=tees(order, 3))

    # then the baseline comes back from the stored orders/create and the edit is a debit memo
    assert eventually(lambda: shop.holds(order) and shop.fusion_debit_memos(order), timeout=90), \
        shop.money_invariants(order)
    [debit] = shop.fusion_debit_memos(order)
    assert Decimal(str(debit["EnteredAmount"])) == Decimal(edited["total_price"]) - Decimal("66.74")
    assert [a.subject_id for a in shop.audit("invoice.baseline_restored")] == [str(order["id"])]
    assert shop.binding("order", order["id"]).fusion_refs["taxes_included"] is False
