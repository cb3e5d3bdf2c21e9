"""Webhook bodies are kept while they can still be needed, then erased.

A body is what a replay processes again, so it stays as long as its event may still be
processed: waiting (``received``), ``parked`` or ``dead``. Once the event is ``done`` (its effect
is in Fusion) or ``deferred`` (nothing to do), the body is kept ``MLC_INBOX_BODY_RETENTION_DAYS``
after it was processed, for an operator to look into, and then erased. The receipt (shop, topic,
ids, times) stays; a replay of an event without its body ends ``deferred`` and says why.

Each batch is its own short transaction, and each row is checked again as it is erased: an event
a replay has just reopened keeps its body.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from connector import audit
from connector.models import InboxEvent, InboxState, utcnow

PROCESSED = (InboxState.done, InboxState.deferred)
BATCH = 1000


def purge_bodies(session: Session, retention: timedelta, now: datetime | None = None, batch: int = BATCH) -> int:
    """Erase the bodies of events processed more than ``retention`` ago; returns how many. Commits."""
    cutoff = (now or utcnow()) - retention
    due = and_(InboxEvent.state.in_(PROCESSED), InboxEvent.body_erased_at.is_(None),
               or_(InboxEvent.processed_at < cutoff,  # processed (deferred by the receiver: when it arrived)
                   and_(InboxEvent.processed_at.is_(None), InboxEvent.received_at < cutoff)))
    total = 0
    while True:
        ids = session.scalars(select(InboxEvent.id).where(due).order_by(InboxEvent.id).limit(batch)).all()
        if not ids:
            break
        total += session.execute(update(InboxEvent).where(InboxEvent.id.in_(ids), due)
                                 .values(body="", body_erased_at=utcnow())
                                 .execution_options(synchronize_session=False)).rowcount
        session.commit()
        if len(ids) < batch:
            break
    if total:
        audit.record(session, "inbox.bodies_erased", events=total, processed_before=cutoff.isoformat())
    session.commit()
    return total
