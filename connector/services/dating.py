"""Posting a document when Fusion refuses its accounting date or has no rate for it.

Every document the connector creates (REST invoices and debit memos, SOAP credit memos, REST
on-account memos, receipts) goes through :class:`DatedFusion`, the pod's client with its
creates wrapped, so the policy of ``[dates]`` (``connector.mapping.dates``) holds for every
document kind without each flow knowing about it:

* Fusion refuses the accounting date as in a closed period, and the policy is ``next_open``:
  the same document is posted again with its accounting date on the first day of the next period,
  at most ``max_moves`` times. Only the accounting (GL) date moves; the transaction, receipt and
  conversion dates stay what Shopify says. The move is kept (:class:`Move`) for the audit row
  ``<document>.date_moved`` the create-once protocol writes when it binds the document.
* With ``park``, or once the moves are used up, Fusion's refusal parks the record as any other:
  reopen the period (or change the policy) and replay it.
* Fusion has no daily rate for a foreign-currency document: it parks with a message naming the
  rate type, the currency pair and the date, so the person knows which rate to enter before
  the replay.

Reading the periods first (``accountingPeriodStatusLOV``) would save the refused request, but
that resource's attributes are not confirmed; reacting to the refusal needs nothing but the
refusal, and costs one request per move.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Callable

from connector.fusion.credit_memos import InvoiceCredit
from connector.fusion.errors import FusionRejected
from connector.fusion.receipts import NewReceipt
from connector.mapping.dates import DatePolicy, next_period_start


@dataclass(frozen=True)
class Move:
    """One document whose accounting date Fusion refused and that was booked on a later one."""

    document: str
    number: str
    original_date: str
    accounting_date: str
    reason: str             # Fusion's refusal of the original date

    def as_detail(self) -> dict:
        return {"document": self.document, "number": self.number, "original_date": self.original_date,
                "accounting_date": self.accounting_date, "reason": self.reason}


@dataclass(frozen=True)
class RateNeed:
    """The daily rate a foreign-currency document converts with."""

    rate_type: str | None
    source: str | None
    target: str
    day: str | None

    def applies(self) -> bool:
        return bool(self.rate_type and self.source and self.target and self.source != self.target)

    def message(self, refusal: str) -> str:
        return (f"Fusion has no {self.rate_type} conversion rate from {self.source} to {self.target} on "
                f"{self.day or 'the document date'}: enter that daily rate in Fusion, then replay "
                f"(Fusion said: {refusal})")


def _today() -> date:
    return datetime.now(timezone.utc).date()


class Dating:
    """The date policy of one shop, and the moves made while one Shopify object was booked."""

    def __init__(self, policy: DatePolicy):
        self.policy = policy
        self.moves: list[Move] = []
        self._moved: dict[str, str] = {}   # an original date → the date Fusion took instead

    def post(self, document: str, number: str, day: str | None, send: Callable[[str | None], dict],
             rate: RateNeed | None = None) -> dict:
        """``send(None)`` posts the document as built; ``send(d)`` with the accounting date ``d``.

        A date that was moved once for this object starts at its new date: the second memo of a
        refund is not refused again for the period the first one was refused for."""
        original = day or _today().isoformat()
        current = self._moved.get(original)
        refusal, moved = "", 0
        while True:
            try:
                posted = send(current)
            except FusionRejected as refused:
                message = str(refused)
                if rate is not None and rate.applies() and self.policy.missing_rate_refusal(message):
                    raise FusionRejected(rate.message(message), refused.status, refused.code) from None
                if not (self.policy.moves and self.policy.closed_period_refusal(message)):
                    raise
                if moved >= self.policy.max_moves:
                    raise FusionRejected(f"{message} (the accounting date was moved {moved} time(s) from "
                                         f"{original}, the most [dates] max_moves allows)",
                                         refused.status, refused.code) from None
                refusal = refusal or message
                current = next_period_start(date.fromisoformat(current or original)).isoformat()
                moved += 1
                continue
            if current is not None:
                self._moved[original] = current
                self.moves.append(Move(document, number, original, current, refusal[:500]))
            return posted


class _Wrapped:
    def __init__(self, inner, dating: Dating, ledger: str):
        self._inner, self._dating, self._ledger = inner, dating, ledger

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _rest(self, create: Callable[[dict], dict], payload: dict, document: str, currency: str,
              conversion_date: str) -> dict:
        """A REST document: ``AccountingDate`` moves, ``TransactionDate`` stays."""
        return self._dating.post(
            document, str(payload.get("TransactionNumber") or ""),
            payload.get("AccountingDate") or payload.get("TransactionDate"),
            lambda day: create(payload if day is None else {**payload, "AccountingDate": day}),
            RateNeed(payload.get("ConversionRateType"), payload.get(currency), self._ledger,
                     payload.get(conversion_date) or payload.get("TransactionDate")))


class _Invoices(_Wrapped):
    def create(self, payload: dict) -> dict:  # invoices and debit memos
        return self._rest(self._inner.create, payload, str(payload.get("TransactionType") or "transaction"),
                          "InvoiceCurrencyCode", "ConversionDate")


class _CreditMemos(_Wrapped):
    def create(self, credit: InvoiceCredit) -> dict:
        # it converts at its invoice's rate: only its GL date can be refused
        return self._dating.post(
            "credit memo", credit.transaction_number, credit.gl_date or credit.transaction_date,
            lambda day: self._inner.create(credit if day is None else replace(credit, gl_date=day)))

    def create_on_account(self, payload: dict) -> dict:
        return self._rest(self._inner.create_on_account, payload, "on-account credit memo",
                          "CreditMemoCurrency", "ConversionRateDate")


class _Receipts(_Wrapped):
    def create(self, receipt: NewReceipt) -> dict:
        return self._dating.post(
            "receipt", receipt.receipt_number, receipt.accounting_date or receipt.receipt_date,
            lambda day: self._inner.create(receipt if day is None else replace(receipt, accounting_date=day)),
            RateNeed(receipt.conversion_rate_type, receipt.currency, self._ledger, receipt.receipt_date))


class DatedFusion:
    """The pod's client (``FusionClient``) with every document create under the date policy;
    everything else is the client's own."""

    def __init__(self, client, dating: Dating, ledger_currency: str):
        self._client = client
        self.invoices = _Invoices(client.invoices, dating, ledger_currency)
        self.credit_memos = _CreditMemos(client.credit_memos, dating, ledger_currency)
        self.receipts = _Receipts(client.receipts, dating, ledger_currency)

    def __getattr__(self, name):
        return getattr(self._client, name)
