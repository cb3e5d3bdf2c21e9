"""Polling Fusion: what people (and the connector) changed there, brought into the bindings and the audit trail.

Fusion has no webhooks. Beat runs one poll per resource (invoices, credit memos, receipts,
customer accounts); each reads the documents whose ``LastUpdateDate`` is after the resource's
watermark less the overlap window (:mod:`connector.fusion.changes`), and for each one a binding
knows (by ``fusion_id``: CustomerTransactionId, StandardReceiptId, CustomerAccountId) writes its
status, balance and LastUpdateDate on the binding and, when the status or balance moved, an
audit row ``<document>.changed_in_fusion`` with both (``<document>.seen_in_fusion`` the first
time a poll reads it). Documents no binding knows are counted and left alone, except receipts a
person entered for a Shopify order of a shop that pushes them (:mod:`connector.services.fusion_receipts`).
A row the overlap
reads again carries a LastUpdateDate the binding has already: it is skipped, so nothing is
recorded twice, also when two polls race (the write is conditional on the stamp it replaces).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import audit
from connector.fusion.changes import (
    RESOURCES,
    Change,
    ChangeReader,
    earlier,
    instant,
    stamp_of,
)
from connector.fusion.errors import FusionError
from connector.models import Binding, BindingKind, PollWatermark, utcnow
from connector.services import fusion_receipts

#: The binding kinds whose ``fusion_id`` may name a document of each resource.
KINDS = {"invoices": (BindingKind.order, BindingKind.adjustment),  # adjustments: debit memos
         "credit_memos": (BindingKind.refund, BindingKind.adjustment),
         "receipts": (BindingKind.payment,),
         "customer_accounts": (BindingKind.customer, BindingKind.company_location)}  # B2B: a location's account
DOCUMENT = {"invoices": "invoice", "credit_memos": "credit_memo", "receipts": "receipt",
            "customer_accounts": "customer_account"}
#: Where a resource's first poll starts: earlier history is the business of reconciliation.
FIRST_LOOKBACK = timedelta(days=1)
_CHUNK = 500


@dataclass(frozen=True)
class PollResult:
    resource: str
    requests: int
    read: int
    changed: int
    ignored: int
    watermark: str
    noticed: int = 0    # receipts entered in Fusion opened for a push to Shopify


def poll(services, session: Session, resource: str, pod: str = "default") -> PollResult | None:
    """One poll of ``resource``; None when another poll of it is running."""
    lock_key, token = f"mlc:fusion_poll:{pod}:{resource}", uuid.uuid4().hex
    if not services.redis.set(lock_key, token, nx=True, ex=services.settings.task_time_limit_seconds):
        return None
    try:
        return _poll(services, session, RESOURCES[resource].name, pod)
    finally:
        if services.redis.get(lock_key) == token.encode():
            services.redis.delete(lock_key)


def _poll(services, session: Session, resource: str, pod: str) -> PollResult:
    settings = services.settings
    mark = watermark(session, pod, resource)
    bound = (earlier(mark.watermark, settings.fusion_poll_overlap_seconds) if mark.watermark
             else stamp_of(utcnow() - FIRST_LOOKBACK))
    reader = ChangeReader(services.fusion(session, pod).transport, settings.fusion_poll_page_size)
    session.commit()  # no transaction stays open across the calls to Fusion
    try:
        changes = reader.since(RESOURCES[resource], bound)
    except FusionError as exc:
        _finish(session, mark.id, requests=reader.requests, last_error=str(exc)[:2000])
        raise
    changed, ignored = record(session, resource, changes)
    noticed = 0
    if resource == "receipts":  # receipts people entered, for the shops that push them to Shopify
        try:
            noticed = fusion_receipts.notice(services, session, pod, changes)
        except FusionError as exc:
            _finish(session, mark.id, requests=reader.requests, last_error=str(exc)[:2000])
            raise
    newest = max([c.stamp for c in changes] + ([mark.watermark] if mark.watermark else []),
                 key=instant, default="")
    _finish(session, mark.id, watermark=newest, requests=reader.requests, read=len(changes), changed=changed,
            ignored=ignored, last_error="")
    return PollResult(resource, reader.requests, len(changes), changed, ignored, newest, noticed)


def watermark(session: Session, pod: str, resource: str) -> PollWatermark:
    """The (pod, resource) row, created if missing (safe when two polls start together)."""
    query = select(PollWatermark).where(PollWatermark.pod == pod, PollWatermark.resource == resource)
    row = session.scalar(query)
    if row is None:
        try:
            with session.begin_nested():
                row = PollWatermark(pod=pod, resource=resource, watermark="", requests=0, read=0, changed=0,
                                    ignored=0, last_error="")
                session.add(row)
        except IntegrityError:
            row = session.scalar(query)
    session.commit()
    return row


def _finish(session: Session, mark_id: int, **values) -> None:
    session.execute(update(PollWatermark).where(PollWatermark.id == mark_id).values(polled_at=utcnow(), **values))
    session.commit()


def record(session: Session, resource: str, changes: list[Change]) -> tuple[int, int]:
    """Bring ``changes`` into the bindings that know them; (changes recorded, documents ignored)."""
    changed = ignored = 0
    for start in range(0, len(changes), _CHUNK):
        chunk = changes[start:start + _CHUNK]
        known: dict[str, list[Binding]] = {}
        for binding in session.scalars(select(Binding).where(Binding.kind.in_(KINDS[resource]),
                                                             Binding.fusion_id.in_(sorted({c.id for c in chunk})))):
            known.setdefault(binding.fusion_id, []).append(binding)
        for change in chunk:
            if change.id not in known:
                ignored += 1
            for binding in known.get(change.id, []):
                changed += _take(session, resource, binding, change)
        session.commit()
    return changed, ignored


def _take(session: Session, resource: str, binding: Binding, change: Change) -> int:
    """1 when this change of the binding's document was recorded now, 0 when it was known."""
    seen = binding.fusion_updated_at
    if seen and instant(seen) >= instant(change.stamp):
        return 0  # the overlap read it again (or an older row of a page that raced a newer poll)
    written = session.execute(
        update(Binding).where(Binding.id == binding.id, Binding.fusion_updated_at == seen)
        .values(fusion_status=change.status, fusion_balance=change.balance, fusion_updated_at=change.stamp)
        .execution_options(synchronize_session=False))
    if written.rowcount != 1:
        return 0  # another poll took this row first
    before = {"status": binding.fusion_status, "balance": binding.fusion_balance}
    after = {"status": change.status, "balance": change.balance}
    if seen and before == after:
        return 0  # something else of the document changed
    document = DOCUMENT[resource]
    audit.record(session, f"{document}.{'changed' if seen else 'seen'}_in_fusion", shop_id=binding.shop_id,
                 subject_kind=binding.kind.value, subject_id=binding.shopify_id, document=document,
                 fusion_id=change.id, number=change.number or binding.fusion_number,
                 order_id=order_of(binding), before=before if seen else None, after=after,
                 last_update_date=change.stamp, last_updated_by=change.by)
    return 1


def order_of(binding: Binding) -> str:
    """The Shopify order a document belongs to ('' for a customer)."""
    if binding.kind == BindingKind.order:
        return binding.shopify_id
    if binding.kind == BindingKind.adjustment:
        return binding.shopify_id.split(":", 1)[0]
    return str((binding.fusion_refs or {}).get("order_id") or "")
