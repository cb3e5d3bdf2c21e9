"""Receivables accounting periods and General Ledger daily conversion rates of one pod.

What real Fusion does, as far as it is known:

* Every accounting date (a transaction's ``AccountingDate``, a SOAP credit memo's ``GlDate``, a
  receipt's ``AccountingDate``) must fall in a Receivables period whose status lets documents in:
  Open or Future Enterable; Closed, Permanently Closed and Never Opened refuse them
  (``GL_PERIOD_STATUSES.CLOSING_STATUS`` O/F/C/P/N, Oracle's table reference). The calendar here
  is one period per calendar month, named ``Mon-YY`` (``Nov-26``), as the common seeded calendars
  are; a 4-4-5 calendar is not simulated.
* A foreign-currency document whose conversion rate type is not ``User`` needs a daily rate
  (from, to, type, date) in General Ledger. The date is the document's ``ConversionDate``
  (``ConversionRateDate`` on credit memos), else its transaction or receipt date **[L]**.

Not confirmed, hence settings (:class:`~sandbox.fusion.settings.FusionSandboxSettings`): the
exact error texts and codes (the reference has none; the defaults paraphrase the Receivables
wording "not in an open or future enterable period"), whether a Future period takes documents,
and whether a pod refuses a missing rate at all (``daily_rates_required``, off by default so
that a pod with no rates entered behaves as before).

Every period not named is Open, so a fresh pod accepts any date. Tests and the demo close and
reopen periods and enter rates through ``/_sandbox/periods`` and ``/_sandbox/rates``.
"""
from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal, InvalidOperation

STATUSES = ("open", "closed", "future", "never_opened", "permanently_closed")
#: What accountingPeriodStatusLOV's ClosingStatus shows for each status (GL_PERIOD_STATUSES codes).
CLOSING_CODES = {"open": "O", "closed": "C", "future": "F", "never_opened": "N", "permanently_closed": "P"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class CalendarError(ValueError):
    """A control request the calendar cannot take (an unknown status, a malformed period)."""


def period_of(day: date) -> str:
    """The period a date falls in, by its key ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def period_name(key: str) -> str:
    """``2026-11`` as Fusion names the period: ``Nov-26``."""
    year, month = _key(key)
    return f"{MONTHS[month - 1]}-{year % 100:02d}"


def period_bounds(key: str) -> tuple[date, date]:
    year, month = _key(key)
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def _key(key: str) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in str(key).split("-"))
        date(year, month, 1)
    except (TypeError, ValueError):
        raise CalendarError(f"a period is YYYY-MM, not {key!r}") from None
    return year, month


class Calendar:
    """Period statuses and daily rates, changed at run time by the sandbox controls."""

    def __init__(self, settings):
        self._settings = settings
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._statuses = {}
            self._rates: dict[tuple[str, str, str, str], Decimal] = {}
            self.rates_required = bool(self._settings.daily_rates_required)
        for key, status in (self._settings.period_statuses or {}).items():
            self.set_status(key, status)
        for row in self._settings.daily_rates or ():
            self.set_rate(row)

    # --- periods ------------------------------------------------------------------------------
    def set_status(self, key: str, status: str) -> None:
        _key(key)
        if status not in STATUSES:
            raise CalendarError(f"unknown period status {status!r}; use one of {list(STATUSES)}")
        with self._lock:
            self._statuses[key] = status

    def status(self, day: date) -> str:
        with self._lock:
            return self._statuses.get(period_of(day), "open")

    def accepts(self, day: date) -> bool:
        status = self.status(day)
        return status == "open" or (status == "future" and self._settings.future_period_accepts_documents)

    def closed_message(self, day_text: str | None) -> str | None:
        """Fusion's refusal of a document dated ``day_text`` (ISO), or None when its period takes it."""
        if not day_text:
            return None
        day = date.fromisoformat(day_text)
        if self.accepts(day):
            return None
        return self._settings.closed_period_message.format(date=day_text, period=period_name(period_of(day)))

    def describe(self) -> dict:
        with self._lock:
            return {"periods": {key: {"name": period_name(key), "status": status}
                                for key, status in sorted(self._statuses.items())},
                    "default": "open"}

    def lov_rows(self, around: date) -> list[dict]:
        """``accountingPeriodStatusLOV`` rows: the 24 months around ``around`` plus every period named."""
        with self._lock:
            named = set(self._statuses)
        keys = {period_of(date(around.year + (around.month - 1 + n) // 12, (around.month - 1 + n) % 12 + 1, 1))
                for n in range(-12, 12)} | named
        rows = []
        for n, key in enumerate(sorted(keys), 1):
            start, end = period_bounds(key)
            status = self.status(start)
            year, month = _key(key)
            rows.append({"PeriodNameId": period_name(key), "ApplicationId": 222, "LedgerId": 300000001000100,
                         "PeriodYear": year, "PeriodNumber": month, "StartDate": start.isoformat(),
                         "EndDate": end.isoformat(), "ClosingStatus": CLOSING_CODES[status],
                         "AdjustmentPeriodFlag": "N"})
        return rows

    # --- daily rates --------------------------------------------------------------------------
    def set_rate(self, row: dict) -> dict:
        try:
            key = (str(row["from"]).upper(), str(row["to"]).upper(), str(row["type"]),
                   date.fromisoformat(str(row["date"])).isoformat())
            rate = Decimal(str(row["rate"]))
        except (KeyError, ValueError, InvalidOperation):
            raise CalendarError("a rate is {from, to, type, date (YYYY-MM-DD), rate}") from None
        if rate <= 0:
            raise CalendarError("a rate must be greater than zero")
        with self._lock:
            self._rates[key] = rate
        return {"from": key[0], "to": key[1], "type": key[2], "date": key[3], "rate": str(rate)}

    def rates(self) -> list[dict]:
        with self._lock:
            return [{"from": f, "to": t, "type": k, "date": d, "rate": str(r)}
                    for (f, t, k, d), r in sorted(self._rates.items())]

    def missing_rate_message(self, currency: str, ledger: str, rate_type: str | None, day_text: str | None,
                             rate: object = None) -> str | None:
        """Fusion's refusal of a foreign-currency document without a daily rate, or None."""
        if not self.rates_required or currency == ledger or not rate_type or rate_type == "User" \
                or rate not in (None, "") or not day_text:
            return None
        with self._lock:
            known = (currency.upper(), ledger.upper(), rate_type, day_text) in self._rates
        if known:
            return None
        return self._settings.missing_rate_message.format(type=rate_type, source=currency, target=ledger,
                                                          date=day_text)


def refuse_rest(calendar: Calendar, settings, *, accounting_date: str | None, date_path: str,
                currency: str, ledger: str, rate_type: str | None, conversion_date: str | None,
                rate: object = None) -> None:
    """Raise the REST 400 a pod answers a document with a closed accounting date or no daily rate."""
    from .errors import bad_request
    closed = calendar.closed_message(accounting_date)
    if closed:
        raise bad_request(closed, settings.closed_period_code, date_path)
    missing = calendar.missing_rate_message(currency, ledger, rate_type, conversion_date, rate)
    if missing:
        raise bad_request(missing, settings.missing_rate_code, "/ConversionRateType")
