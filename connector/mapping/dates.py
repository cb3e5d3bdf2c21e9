"""Accounting dates Fusion refuses: a closed period, and a missing daily conversion rate.

A document's accounting date must fall in an open (or future enterable) Receivables period.
Shopify events arrive late (a webhook retried for days, a reconciliation run, a replay after a
fix), so a document can be dated in a period the accountants have closed meanwhile. The policy
``[dates] closed_period`` says what happens then:

* ``next_open`` (the default): the accounting date (never the transaction, receipt or conversion
  date the customer and the rate see) moves to the first day of the next period, again while that
  one is closed too, at most ``max_moves`` times; each move is kept in the audit trail. A closed
  period is closed so that its figures stop changing; the sale is real and belongs in the ledger,
  so it is booked in the first period that is still open, which is what Receivables' own import
  does with a GL date in a closed period, and what an accountant books a late document as.
* ``park``: the document parks with Fusion's message; a person reopens the period (or decides
  otherwise) and replays it.

Which refusals mean "closed period" or "no daily rate" is read from Fusion's message with the
patterns ``closed_period_pattern`` and ``missing_rate_pattern``: the real texts are not known, so
they are settings. Periods are calendar months (``Nov-26``): on a 4-4-5 calendar the move lands on
the first of the next calendar month, which Fusion may refuse again (then it moves again).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

CLOSED_PERIOD_POLICIES = ("next_open", "park")
#: Matches the sandbox's text and the usual Receivables wordings ("not in an open or future
#: enterable period", "the accounting period is closed").
CLOSED_PERIOD_PATTERN = r"(?i)(open or future[- ]enterable|period\b.{0,40}\b(closed|not open|never opened))"
#: Matches "a conversion rate doesn't exist …", "no exchange rate …", "rate … not found".
MISSING_RATE_PATTERN = (r"(?i)((conversion|exchange) rate (doesn't|does not|isn't|is not) (exist|defined|found)"
                        r"|no (daily )?(conversion|exchange) rate|(conversion|exchange) rate\b.{0,40}\b(missing|not found))")


@dataclass(frozen=True)
class DatePolicy:
    closed_period: str = "next_open"
    max_moves: int = 3
    closed_period_pattern: str = CLOSED_PERIOD_PATTERN
    missing_rate_pattern: str = MISSING_RATE_PATTERN

    @property
    def moves(self) -> bool:
        return self.closed_period == "next_open"

    def closed_period_refusal(self, message: str) -> bool:
        return re.search(self.closed_period_pattern, message) is not None

    def missing_rate_refusal(self, message: str) -> bool:
        return re.search(self.missing_rate_pattern, message) is not None


def next_period_start(day: date) -> date:
    """The first day of the calendar month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a regular expression: {exc}") from None


class DatesSchema(Schema):
    class Meta:
        unknown = RAISE

    closed_period = fields.String(load_default="next_open", validate=validate.OneOf(CLOSED_PERIOD_POLICIES))
    max_moves = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=12))
    closed_period_pattern = fields.String(load_default=CLOSED_PERIOD_PATTERN, validate=_regex)
    missing_rate_pattern = fields.String(load_default=MISSING_RATE_PATTERN, validate=_regex)

    @post_load
    def build(self, data, **_):
        return DatePolicy(**data)
