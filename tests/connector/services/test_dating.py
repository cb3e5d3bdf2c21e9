"""Posting under the date policy: a closed period's refusal moves the accounting date to the next
period (and no further than allowed), a missing rate parks naming what to enter."""
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connector.fusion.credit_memos import InvoiceCredit
from connector.fusion.errors import FusionRejected
from connector.mapping.dates import DatePolicy
from connector.services.dating import DatedFusion, Dating, RateNeed

CLOSED = "The accounting date {} isn't in an open or future enterable accounting period."


class Pod:
    """Fusion as the policy sees it: a set of closed months and the requests it was sent."""

    def __init__(self, *closed: str, rates_missing: bool = False):
        self.closed, self.rates_missing, self.sent = set(closed), rates_missing, []
        self.invoices, self.credit_memos, self.receipts = self, self, self

    def create(self, document):
        day = document.get("AccountingDate") if isinstance(document, dict) else document.gl_date
        self.sent.append(day)
        if (day or datetime.now(timezone.utc).date().isoformat())[:7] in self.closed:  # Fusion's default: today
            raise FusionRejected(CLOSED.format(day))
        if self.rates_missing:
            raise FusionRejected("A conversion rate doesn't exist for the conversion rate type Corporate.")
        return {"posted": day}


def invoice(day="2026-11-14", **more) -> dict:
    return {"TransactionNumber": "ACME-1001", "TransactionType": "Shopify Invoice", "TransactionDate": day,
            "AccountingDate": day, **more}


def test_an_invoice_in_a_closed_month_is_booked_on_the_first_of_the_next_with_its_move_kept():
    # given November is closed
    pod, dating = Pod("2026-11"), Dating(DatePolicy())
    # when the November invoice is posted
    posted = DatedFusion(pod, dating, "USD").invoices.create(invoice())
    # then it is booked on 1 December, and the move says from where, to where and why
    assert posted == {"posted": "2026-12-01"} and pod.sent == ["2026-11-14", "2026-12-01"]
    [move] = dating.moves
    assert (move.document, move.number, move.original_date, move.accounting_date) == \
        ("Shopify Invoice", "ACME-1001", "2026-11-14", "2026-12-01")
    assert "open or future enterable" in move.reason


def test_two_closed_months_move_it_twice_and_the_limit_stops_it():
    pod = Pod("2026-11", "2026-12")
    assert DatedFusion(pod, Dating(DatePolicy()), "USD").invoices.create(invoice()) == {"posted": "2027-01-01"}
    with pytest.raises(FusionRejected, match="moved 1 time"):
        DatedFusion(Pod("2026-11", "2026-12"), Dating(DatePolicy(max_moves=1)), "USD").invoices.create(invoice())


def test_with_park_the_refusal_is_fusions_own_and_nothing_moves():
    pod, dating = Pod("2026-11"), Dating(DatePolicy(closed_period="park"))
    with pytest.raises(FusionRejected, match="^The accounting date 2026-11-14 isn't in an open"):
        DatedFusion(pod, dating, "USD").invoices.create(invoice())
    assert pod.sent == ["2026-11-14"] and dating.moves == []


def test_an_open_period_is_posted_once_as_built():
    pod, dating = Pod(), Dating(DatePolicy())
    DatedFusion(pod, dating, "USD").invoices.create(invoice())
    assert pod.sent == ["2026-11-14"] and dating.moves == []


def test_a_credit_memo_without_a_date_moves_from_today_and_the_next_memo_starts_where_it_landed():
    # given today's month is closed and a refund whose memos carry no GL date (Fusion's default: today)
    today = datetime.now(timezone.utc).date().isoformat()
    pod, dating = Pod(today[:7]), Dating(DatePolicy())
    memos = DatedFusion(pod, dating, "USD").credit_memos
    credit = InvoiceCredit(invoice_id=1, transaction_number="ACME-1001-C1", currency="USD", line=Decimal("1.00"))
    # when two memos are posted
    memos.create(credit)
    memos.create(replace(credit, transaction_number="ACME-1001-C1B"))
    # then the first was refused once and moved; the second went straight to the new date
    assert pod.sent[0] is None and len(pod.sent) == 3 and pod.sent[1] == pod.sent[2] > today
    assert [m.number for m in dating.moves] == ["ACME-1001-C1", "ACME-1001-C1B"]


def test_a_missing_rate_is_refused_naming_the_rate_type_the_pair_and_the_date():
    pod = Pod(rates_missing=True)
    with pytest.raises(FusionRejected) as refused:
        DatedFusion(pod, Dating(DatePolicy()), "USD").invoices.create(invoice(
            InvoiceCurrencyCode="EUR", ConversionRateType="Corporate", ConversionDate="2026-11-14"))
    assert str(refused.value).startswith("Fusion has no Corporate conversion rate from EUR to USD on 2026-11-14")


def test_a_rate_refusal_in_the_ledger_currency_is_left_as_fusion_said_it():
    assert not RateNeed("Corporate", "USD", "USD", "2026-11-14").applies()
