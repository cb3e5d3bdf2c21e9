"""How a credit is split over an order's documents (the invoice first, then its debit memos):
Fusion refuses a credit beyond a document's own line or tax part (AR-855075)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from connector.mapping.invoice import MappingError
from connector.services.adjustments import Room, allocate, allocate_gross, fit, per_document

INVOICE, DEBIT = Room("inv", D("30.00"), D("2.40")), Room("dm1", D("90.00"), D("7.20"))


def test_given_a_credit_the_invoice_holds_then_it_goes_on_the_invoice_alone():
    assert allocate(D("20.00"), D("1.60"), [INVOICE, DEBIT]) == [Room("inv", D("20.00"), D("1.60"))]


def test_given_a_credit_beyond_the_invoice_then_the_debit_memo_takes_the_rest():
    # a line raised from 1 to 4 (the debit memo) and lowered to 1 again: 90.00 + 7.20 off
    parts = allocate(D("90.00"), D("7.20"), [INVOICE, DEBIT])

    assert parts == [Room("inv", D("30.00"), D("2.40")), Room("dm1", D("60.00"), D("4.80"))]
    assert per_document(parts + [Room("inv", D("0.00"), D("0.10"))]) == {
        "inv": ["30.00", "2.50"], "dm1": ["60.00", "4.80"]}


def test_given_more_than_every_document_holds_then_what_is_left_over_is_named():
    parts, line, tax = fit(D("130.00"), D("9.60"), [INVOICE, DEBIT])

    assert (line, tax) == (D("10.00"), D("0.00")) and len(parts) == 2
    with pytest.raises(MappingError, match="10.00 net and 0.00 tax more than the order's documents hold"):
        allocate(D("130.00"), D("9.60"), [INVOICE, DEBIT])


def test_given_a_document_credited_below_zero_then_it_offers_no_room():
    assert allocate(D("5.00"), D("0"), [Room("inv", D("-1.00"), D("0")), DEBIT]) == [Room("dm1", D("5.00"), D("0"))]


def test_given_money_given_beyond_the_lines_when_the_net_room_is_used_up_then_it_takes_the_tax_room():
    # earlier goodwill amounts took the invoice's net part: 0.47 more fits only its tax part
    rooms = [Room("inv", D("0.00"), D("1.19"))]

    assert allocate_gross(D("0.47"), D("0"), rooms) == [Room("inv", D("0.00"), D("0.47"))]
    with pytest.raises(MappingError):  # a return's goods keep their split (absorb decides that)
        allocate(D("0.47"), D("0"), rooms)


def test_given_money_given_beyond_the_lines_then_every_documents_net_room_goes_first_one_part_each():
    rooms = [Room("inv", D("1.00"), D("0.50")), Room("dm1", D("0.00"), D("3.00"))]

    assert allocate_gross(D("2.00"), D("0"), rooms) == [Room("inv", D("1.00"), D("0.50")),
                                                        Room("dm1", D("0.00"), D("0.50"))]
    # the debit memo's net room before the invoice's tax room
    rooms = [Room("inv", D("0.00"), D("0.50")), Room("dm1", D("3.00"), D("0.00"))]
    assert allocate_gross(D("2.00"), D("0"), rooms) == [Room("dm1", D("2.00"), D("0"))]
    assert allocate_gross(D("3.20"), D("0"), rooms) == [Room("dm1", D("3.00"), D("0")),
                                                        Room("inv", D("0.00"), D("0.20"))]


def test_given_money_given_beyond_everything_the_documents_hold_then_it_is_refused_with_the_rest():
    with pytest.raises(MappingError, match="0.01 net and 0 tax more"):
        allocate_gross(D("1.70"), D("0"), [Room("inv", D("1.00"), D("0.69"))])
