"""Documents dated in a closed period, and foreign-currency documents without their daily rate.

With ``[dates] closed_period = "next_open"`` (the packaged mapping) a document Fusion refuses for
a closed period is booked on the first day of the next period, and the audit trail and the
order's timeline say so; with ``park`` it parks with Fusion's message and a replay after the
period reopens books it on its own date. A missing daily rate parks naming the rate type, the
pair and the date; a replay after the rate is entered books it. Real receiver, workers and
sandboxes; to the cent, nothing duplicated.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import PARKING_SHOP, TestShop, eventually


@pytest.fixture
def calendar(fusion):
    """Fusion's periods and rates; every period open and no rate required again afterwards."""
    yield fusion
    fusion.reset_calendar()


def today() -> date:
    return datetime.now(timezone.utc).date()


def month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def last_month_day() -> date:
    """The 15th of last month: the same date in every time zone at noon UTC."""
    return (today().replace(day=1) - timedelta(days=1)).replace(day=15)


def ordered_on(day: date) -> dict:
    stamp = f"{day.isoformat()}T12:00:00Z"
    return dict(new_order(), processed_at=stamp, created_at=stamp)


def synced(shop, kind: str, shopify_id) -> bool:
    return bool(eventually(lambda: (b := shop.binding(kind, shopify_id)) is not None
                           and b.state == BindingState.synced, timeout=60))


def parked_event(shop, topic: str, resource_id):
    return eventually(lambda: next((e for e in shop.inbox() if e.topic == topic and e.resource_id == str(resource_id)
                                    and e.state == InboxState.parked), None), timeout=60)


def replay(event) -> None:
    from workers.app import app
    app.send_task("mlc.inbox.replay", args=[event.id])


def test_given_last_month_closed_an_order_dated_in_it_is_invoiced_on_the_first_open_day_with_an_audit_row(
        shop, calendar):
    # given last month is closed in Fusion
    placed = last_month_day()
    calendar.set_period(month(placed), "closed")

    # when an order processed in it arrives (a late webhook)
    order = shop.place_order(ordered_on(placed))

    # then its invoice keeps the order's date as transaction date and is booked on the 1st of this month
    assert synced(shop, "order", order["id"])
    [invoice] = shop.fusion_invoices(order)
    moved_to = first_of_next_month(placed)
    assert (invoice["TransactionDate"], invoice["AccountingDate"]) == (placed.isoformat(), moved_to.isoformat())
    assert Decimal(str(invoice["EnteredAmount"])) == Decimal("66.74")
    # and the audit trail says from where, to where and why
    [moved] = shop.audit("invoice.date_moved")
    assert moved.subject_id == str(order["id"])
    assert (moved.detail["number"], moved.detail["original_date"], moved.detail["accounting_date"]) == \
        (invoice["TransactionNumber"], placed.isoformat(), moved_to.isoformat())
    assert "open or future enterable" in moved.detail["reason"]
    # and the order's timeline shows it
    shown = subprocess.run([sys.executable, "-m", "cli.main", "timeline", str(order["id"]), "--shop", shop.domain],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ, COLUMNS="300"))
    assert shown.returncode == 0, shown.stderr
    assert "invoice.date_moved" in shown.stdout and f"{placed.isoformat()} → {moved_to.isoformat()}" in shown.stdout
    # and nothing is duplicated: one invoice, Fusion in step with Shopify to the cent
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)
    assert shop.document_counts(order)["invoices"] == (1, 1)


def test_given_this_month_closed_a_payment_and_a_refund_are_booked_on_the_first_of_next_month(shop, calendar):
    # given an order invoiced today, and then this month closed in Fusion
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    now = today()
    calendar.set_period(month(now), "closed")
    opens = first_of_next_month(now).isoformat()

    # when the customer pays and then returns one tee
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "amount": "66.74"})
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_receipts(order)) == 1, timeout=90), \
        shop.invariants(order)
    tee = order["line_items"][0]
    shop.act(f"orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": tee["id"], "quantity": 1, "restock_type": "return"}]})
    assert eventually(lambda: shop.holds(order) and len(shop.fusion_credit_memos(order)) == 1, timeout=90), \
        shop.invariants(order)

    # then the receipt keeps its receipt date and is accounted on the 1st of next month
    [receipt] = shop.fusion_receipts(order)
    assert receipt["AccountingDate"] == opens and receipt["ReceiptDate"] <= now.isoformat()
    assert Decimal(str(receipt["Amount"])) == Decimal("66.74")
    # and so is the refund's credit memo (SOAP, GL date)
    [memo] = shop.fusion_credit_memos(order)
    assert memo["AccountingDate"] == opens and Decimal(str(memo["EnteredAmount"])) == Decimal("-24.30")
    # and each move is an audit row of its own document
    assert [(a.detail["number"], a.detail["accounting_date"]) for a in shop.audit("receipt.date_moved")] == \
        [(receipt["ReceiptNumber"], opens)]
    assert [(a.detail["number"], a.detail["accounting_date"]) for a in shop.audit("credit_memo.date_moved")] == \
        [(memo["TransactionNumber"], opens)]
    # and nothing is duplicated: one invoice, one receipt, one memo; 66.74 − 24.30 = 42.44, nothing open
    counts = shop.document_counts(order)
    assert counts["invoices"] == (1, 1) and counts["credit_memos"] == ([], [])
    assert counts["receipts"][0] == counts["receipts"][1] and len(counts["receipts"][0]) == 1
    assert shop.invariants(order) == {"documents": (Decimal("42.44"), Decimal("42.44")),
                                      "balance": (Decimal("0.00"), Decimal("0.00"))}


def test_given_the_park_policy_an_order_in_a_closed_period_parks_and_a_replay_books_it_once_reopened(
        stack, calendar):
    # given a shop whose mapping parks closed-period documents, and last month closed
    shop = TestShop.create(stack, prefix=("P" + uuid.uuid4().hex[:7]).upper(), domain=PARKING_SHOP)
    placed = last_month_day()
    calendar.set_period(month(placed), "closed")

    # when an order processed last month arrives
    order = shop.place_order(ordered_on(placed))

    # then it parks with Fusion's message, and Fusion holds no invoice
    event = parked_event(shop, "orders/create", order["id"])
    assert event is not None, shop.last_attempt_errors()
    assert event.last_error.startswith(f"FusionRejected: The accounting date {placed.isoformat()} isn't in an open")
    assert shop.binding("order", order["id"]).state == BindingState.parked
    assert shop.fusion_invoices(order) == [] and shop.audit("invoice.date_moved") == []

    # when the accountant reopens the period and the operator replays the event
    calendar.set_period(month(placed), "open")
    replay(event)

    # then the invoice is booked on the order's own date, once
    assert synced(shop, "order", order["id"])
    [invoice] = shop.fusion_invoices(order)
    assert invoice["AccountingDate"] == placed.isoformat()
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)


def test_given_no_daily_rate_a_euro_order_parks_naming_it_and_replays_once_the_rate_is_entered(stack, calendar):
    # given a EUR shop booked in a USD ledger, and a pod that requires daily rates and has none
    shop = TestShop.create(stack, prefix=("E" + uuid.uuid4().hex[:7]).upper(), currency="EUR")
    calendar.require_rates()

    # when an order arrives
    order = shop.place_order(new_order())

    # then it parks naming the rate type, the currency pair and the date to enter
    event = parked_event(shop, "orders/create", order["id"])
    assert event is not None, shop.last_attempt_errors()
    found = re.search(r"Fusion has no Corporate conversion rate from EUR to USD on (\d{4}-\d{2}-\d{2}): "
                      r"enter that daily rate in Fusion, then replay", event.last_error)
    assert found, event.last_error
    assert abs((date.fromisoformat(found.group(1)) - today()).days) <= 1
    assert shop.fusion_invoices(order) == []

    # when the rate is entered and the event replayed
    calendar.require_rates({"from": "EUR", "to": "USD", "type": "Corporate", "date": found.group(1), "rate": "1.08"})
    replay(event)

    # then the invoice is booked in euros with the Corporate rate type, once, to the cent
    assert synced(shop, "order", order["id"])
    [invoice] = shop.fusion_invoices(order)
    assert (invoice["InvoiceCurrencyCode"], invoice["ConversionRateType"]) == ("EUR", "Corporate")
    assert Decimal(str(invoice["EnteredAmount"])) == Decimal("66.74")
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)


def test_given_every_period_within_reach_closed_the_order_parks_and_replays_into_the_first_one_reopened(
        shop, calendar):
    # given last month, this month and the two after it closed: more than [dates] max_moves (3) can reach
    placed = last_month_day()
    months = [placed]
    for _ in range(3):
        months.append(first_of_next_month(months[-1]))
    for day in months:
        calendar.set_period(month(day), "closed")

    # when an order processed last month arrives
    order = shop.place_order(ordered_on(placed))

    # then it parks, saying how far it was moved, and Fusion holds nothing
    event = parked_event(shop, "orders/create", order["id"])
    assert event is not None, shop.last_attempt_errors()
    assert "moved 3 time(s) from " + placed.isoformat() in event.last_error
    assert shop.fusion_invoices(order) == []

    # when next month is reopened and the event replayed
    calendar.set_period(month(months[2]), "open")
    replay(event)

    # then the invoice is booked on the first day of next month, once, with its move in the audit trail
    assert synced(shop, "order", order["id"])
    [invoice] = shop.fusion_invoices(order)
    assert (invoice["TransactionDate"], invoice["AccountingDate"]) == (placed.isoformat(), months[2].isoformat())
    assert [(a.detail["original_date"], a.detail["accounting_date"]) for a in shop.audit("invoice.date_moved")] == \
        [(placed.isoformat(), months[2].isoformat())]
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)
