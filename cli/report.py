"""``ml-connector reconcile``: Shopify's figures against Fusion's, per day and currency.

For every order Shopify processed in the window (its ``processed_at`` date in the shop's own time
zone, the invoice's date: days start at the shop's local midnight),
read over the Admin API as it stands now, and every document of the shop read from Fusion's own
REST API (never from the connector's bindings, which would only check the connector against
itself), side by side:

- orders (Shopify's current total plus its refund discrepancies) against invoices (the invoice,
  plus its debit memos, less its credit memos);
- refunds (the money they gave back) against the credit memos made for them (what they credited:
  a refund that kept a restocking fee back credits more than it pays, by design);
- payments (successful sales and captures) against receipts.

An order's refunds and payments are counted with it, on its day, whenever they were made: the
per-order check is what says whether Fusion holds them.

An order is listed when Fusion does not hold it the way Shopify does (:func:`cli.check.check_order`:
the totals, the open balance, one invoice, one memo per refund, one receipt per payment; a
payment recorded in Shopify for a receipt a person entered in Fusion is that receipt's):
``missing`` (no invoice), ``duplicated`` (more than one), ``different`` (anything else), or
``waiting`` when some of its events are still being processed; so is an invoice Fusion holds for
an order of the shop that Shopify did not process in the window (``unknown``). ``--heal`` enqueues
what the connector can fix by itself: parked or dead events replayed, anything never received (or
received in an older version) reconciled (:mod:`connector.services.reconcile`); the rest needs a
person, and says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.check import (
    Snapshot,
    check_order,
    payments,
    refund_memo_stems,
    unfinished_events,
)
from connector.fusion import credit_memos, invoices
from connector.mapping.invoice import shop_amount
from connector.models import InboxEvent, InboxState, Shop
from connector.services import fusion_receipts, inbox, reconcile
from connector.shopify import order_payload, search
from connector.shopify import orders as shopify_orders

ZERO = Decimal(0)
KINDS = ("orders", "invoices", "refunds", "credit_memos", "payments", "receipts")


@dataclass
class Figure:
    count: int = 0
    total: Decimal = ZERO

    def add(self, count: int, total: Decimal) -> None:
        self.count += count
        self.total += total


@dataclass
class Row:
    """One day and currency of one shop."""

    shop: str
    day: str
    currency: str
    figures: dict[str, Figure] = field(default_factory=lambda: {kind: Figure() for kind in KINDS})
    problems: int = 0

    def as_json(self) -> dict:
        return {"shop": self.shop, "day": self.day, "currency": self.currency, "problems": self.problems,
                **{kind: {"count": f.count, "total": str(f.total)} for kind, f in self.figures.items()}}


@dataclass
class Problem:
    shop: str
    day: str
    order_id: str
    name: str
    verdict: str            # missing, duplicated, different, waiting, unknown
    reasons: list[str]
    healed: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return vars(self).copy()


@dataclass
class Report:
    start: date
    end: date
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.problems and not self.errors

    def as_json(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "matches": self.matches,
                "days": [r.as_json() for r in self.rows], "problems": [p.as_json() for p in self.problems],
                "errors": self.errors}


def build(services, session: Session, start: date, end: date, *, shop_domain: str | None = None,
          heal: bool = False, send=None) -> Report:
    """The report of [start, end] (both days included); ``heal`` enqueues fixes through ``send``."""
    report = Report(start, end)
    query = select(Shop).order_by(Shop.id)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain.strip().lower())
    for shop in session.scalars(query).all():
        try:
            _shop(services, session, shop, report, heal, send)
        except Exception as exc:  # noqa: BLE001 - one shop's failure is reported, the others still run
            session.rollback()
            report.errors.append(f"{shop.domain}: {type(exc).__name__}: {exc}"[:500])
    report.rows.sort(key=lambda r: (r.shop, r.day, r.currency))
    return report


def _shop(services, session: Session, shop: Shop, report: Report, heal: bool, send) -> None:
    client = services.shopify(session, shop)
    fusion = services.fusion(session)
    waiting = unfinished_events(session, shop.domain)
    pushed = fusion_receipts.pushed_payments(session, shop.id)
    session.commit()
    documents = Snapshot(fusion, shop.transaction_prefix, since=report.start)
    rows: dict[tuple[str, str], Row] = {}
    seen: set[str] = set()
    zone = client.timezone()  # a day is the shop's: invoices take the local date of processed_at
    first = datetime.combine(report.start, time(), zone)
    after = datetime.combine(report.end + timedelta(days=1), time(), zone)
    for listed in search.orders_processed_between(client, first, after):
        order = order_payload.read_order(client, listed.gid)
        if order is None:
            continue
        seen.add(order["admin_graphql_api_id"])
        history = shopify_orders.transactions(client, listed.gid)
        check = check_order(documents, shop.transaction_prefix, order, check_transactions(history), pushed)
        check.events = waiting.get(int(order["id"]), [])
        day, currency = str(order.get("processed_at") or "")[:10], order.get("currency") or ""
        row = rows.setdefault((day, currency), Row(shop.domain, day, currency))
        _count(row, check, order, history, documents)
        if not check.ok:
            row.problems += 1
            problem = Problem(shop.domain, day, str(order["id"]), order.get("name") or "", _verdict(check),
                              check.reasons())
            if heal:
                problem.healed = _heal(services, session, shop, client, listed, send)
            report.problems.append(problem)
    for invoice in _invoices_in_window(documents, report):
        if invoice.get("CrossReference") not in seen:
            day = str(invoice.get("TransactionDate") or "")[:10]
            row = rows.setdefault((day, invoice.get("InvoiceCurrencyCode") or ""),
                                  Row(shop.domain, day, invoice.get("InvoiceCurrencyCode") or ""))
            row.figures["invoices"].add(1, Decimal(str(invoice.get("EnteredAmount") or 0)))
            row.problems += 1
            report.problems.append(Problem(shop.domain, day, str(invoice.get("CrossReference") or ""),
                                           str(invoice.get("TransactionNumber")), "unknown",
                                           ["Fusion holds this invoice but Shopify processed no such order that day"]))
    report.rows += rows.values()


def _count(row: Row, check, order: dict, history, documents: Snapshot) -> None:
    f = row.figures
    f["orders"].add(1, check.charged)
    f["invoices"].add(check.invoices, check.documents or ZERO)
    refunds = order.get("refunds") or []
    refunded = sum((t.amount for t in history if t.kind == "refund" and t.status == "success"), ZERO)
    f["refunds"].add(len(refunds), refunded)
    memos = [number for numbers in check.refund_memos.values() for number in numbers]
    credited = ZERO
    if check.invoice_number:
        by_number = {str(m["TransactionNumber"]): m for m in documents.numbered(
            credit_memos.PATH, f"{check.invoice_number}-")}
        credited = -sum((Decimal(str(by_number[n].get("EnteredAmount") or 0)) for n in memos if n in by_number), ZERO)
    f["credit_memos"].add(sum(len(refund_memo_stems(numbers)) for numbers in check.refund_memos.values()), credited)
    paid = payments(check_transactions(history))
    f["payments"].add(len(paid), sum((shop_amount(t, "amount") for t in paid), ZERO))
    f["receipts"].add(len(check.receipt_numbers), check.receipts)


def check_transactions(history) -> list[dict]:
    """The Admin API's transactions as :func:`cli.check.payments` reads them (shop money)."""
    return [{"id": t.id, "kind": t.kind, "status": t.status, "amount": str(t.amount)} for t in history]


def _verdict(check) -> str:
    if check.invoices == 0:
        return "waiting" if check.events else "missing"
    if check.invoices > 1:
        return "duplicated"
    return "waiting" if check.events and all(e.verdict == "still waiting" for e in check.events) else "different"


def _invoices_in_window(documents: Snapshot, report: Report) -> list[dict]:
    """The shop's invoices (not its debit memos) dated in the window."""
    _, rows = documents.sorted[invoices.PATH]
    first, last = report.start.isoformat(), report.end.isoformat()
    return [r for r in rows if str(r.get("CrossReference") or "").startswith("gid://shopify/Order/")
            and first <= str(r.get("TransactionDate") or "")[:10] <= last]


def _heal(services, session: Session, shop: Shop, client, listed, send) -> list[str]:
    """Replay the order's parked and dead events (its refunds' too), then reconcile it: whatever
    of it was never received, or only in an older version, is enqueued."""
    order = order_payload.read_order(client, listed.gid) or {"refunds": []}
    refunds = tuple(search.Listed(str(r["id"]), r["admin_graphql_api_id"], r.get("created_at") or "")
                    for r in order["refunds"])
    done = []
    stuck = session.scalars(select(InboxEvent).where(
        InboxEvent.shop_id == shop.id, InboxEvent.state.in_([InboxState.parked, InboxState.dead]),
        InboxEvent.resource_id.in_([listed.id, *(r.id for r in refunds)]))).all()
    for event in stuck:
        if inbox.reopen(session, event.id, services.tally) is not None:
            send(session, event.id, event.topic)
            done.append(f"replayed inbox event {event.id} ({event.topic})")
    session.commit()
    result = reconcile.reconcile_order(services, session, send, shop, client,
                                       search.ListedOrder(listed.id, listed.gid, listed.updated_at, refunds))
    done += [f"enqueued {f.kind} {f.shopify_id} ({f.reason}) as inbox event {f.inbox_id}"
             for f in result.found if f.inbox_id is not None]
    return done or ["nothing the connector can do by itself: a person must look"]
