"""Processing one inbox event, and what happens when it fails.

Outcomes, by what the failure means for the accountant:
- Fusion refused it, or it cannot be mapped faithfully → ``parked`` with the reason; fixed data or
  set-up and a replay settle it. It never blocks other records.
- Fusion or Redis was unavailable, or the outcome of a write is unknown → try again with
  exponential backoff, up to ``max_attempts``, then ``dead`` (replayable).
- Another worker holds the object → try again once its lock can have expired; this is not the
  event's fault and does not use up an attempt.

Every state change is conditional on the event still waiting (``received``), so two deliveries of
the same task can never overwrite each other's outcome.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connector import audit, jsonutil
from connector.fusion.errors import FusionError, FusionRejected
from connector.http import Exchange, recording
from connector.locks import Busy
from connector.mapping.addresses import AddressError
from connector.mapping.invoice import MappingError
from connector.models import InboxEvent, InboxState, utcnow
from connector.redact import redact_text
from connector.services import bindings, customers, orders
from connector.services.context import NotConfigured, Services

log = logging.getLogger(__name__)

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid"}
CUSTOMER_TOPICS = {"customers/create", "customers/update"}
# Stored and kept for replay once the flow ships: nothing is lost meanwhile.
NOT_YET = {"orders/paid": "payment application (receipts) is not in this release",
           "orders/cancelled": "cancellations (credit memos) are not in this release",
           "refunds/create": "refunds (credit memos) are not in this release"}

PERMANENT = (FusionRejected, MappingError, AddressError, NotConfigured)
TRANSIENT = (FusionError, RedisError, OperationalError)


@dataclass(frozen=True)
class RetryLater:
    countdown: float


def process(services: Services, session: Session, inbox_id: int) -> RetryLater | None:
    settings = services.settings
    claim = _claim(session, inbox_id, settings.task_time_limit_seconds)
    if claim is None:
        return None  # done, parked, dead or deferred already: a duplicate task message
    event = session.get(InboxEvent, inbox_id)
    event.shop  # loaded now, inside this short transaction, not lazily later
    session.commit()
    if event.attempts > settings.max_attempts:
        if claim.previous_lease_live:  # a duplicate message while the last attempt still runs
            return _later(session, event, claim.previous_lease_left, counts=False)
        _finish(session, event, InboxState.dead, f"gave up after {settings.max_attempts} attempts: "
                f"{event.last_error}")
        return None

    exchanges: list[Exchange] = []
    try:
        try:
            with recording(exchanges.append):
                note = _dispatch(services, session, event)
        finally:
            # What was sent to Fusion and what came back is recorded whatever happened next.
            session.rollback()  # what a failed unit of work left half done
            _audit_exchanges(session, event, exchanges)
            session.commit()
    except Busy as exc:
        return _later(session, event, exc.retry_after + random.uniform(0, 2), counts=False,
                      error=f"waiting: {exc}")
    except PERMANENT as exc:
        bindings.park(session, event.shop_id, _kind(event), event.resource_id, _message(exc))
        _finish(session, event, InboxState.parked, _message(exc))
        return None
    except Exception as exc:  # transient, or a defect: retried, and visible with its reason
        if not isinstance(exc, TRANSIENT):
            log.exception("inbox event %s failed unexpectedly", event.id)
        message = _message(exc)
        if event.attempts >= settings.max_attempts:
            _finish(session, event, InboxState.dead, f"gave up after {event.attempts} attempts: {message}")
            return None
        return _later(session, event, _backoff(event.attempts, settings.retry_backoff_max_seconds,
                                               getattr(exc, "retry_after", None)), error=message)
    _finish(session, event, InboxState.deferred if note else InboxState.done, note)
    return None


@dataclass(frozen=True)
class _Claim:
    previous_lease_left: float   # seconds the previous attempt's lease still runs (0: none)

    @property
    def previous_lease_live(self) -> bool:
        return self.previous_lease_left > 0


def _claim(session: Session, inbox_id: int, lease_seconds: int) -> _Claim | None:
    """Count the attempt and lease the event for its duration, only if the event is still waiting.

    The lease (``enqueued_at`` in the future) keeps the sweeper from sending a second copy while
    this attempt runs; after a crash the broker redelivers at once, or the sweeper after the lease.
    """
    previous = session.scalar(select(InboxEvent.enqueued_at).where(InboxEvent.id == inbox_id))
    claimed = session.execute(
        update(InboxEvent).where(InboxEvent.id == inbox_id, InboxEvent.state == InboxState.received)
        .values(attempts=InboxEvent.attempts + 1,
                enqueued_at=utcnow() + timedelta(seconds=lease_seconds))).rowcount
    session.commit()
    if claimed != 1:
        return None
    left = (previous - utcnow()).total_seconds() if previous is not None else 0.0
    return _Claim(max(0.0, left))


def _dispatch(services: Services, session: Session, event: InboxEvent) -> str:
    payload = jsonutil.loads(event.body)
    if event.topic in ORDER_TOPICS:
        result = orders.sync(services, session, event.shop, payload)
        return result.note or NOT_YET.get(event.topic, "")
    if event.topic in CUSTOMER_TOPICS:
        return customers.sync(services, session, event.shop, payload,
                              is_update=event.topic == "customers/update")
    return NOT_YET.get(event.topic, f"topic {event.topic} is not handled")


def _later(session: Session, event: InboxEvent, countdown: float, *, error: str = "",
           counts: bool = True) -> RetryLater:
    values = {"enqueued_at": utcnow() + timedelta(seconds=countdown)}  # the sweeper leaves it alone meanwhile
    if error:
        values["last_error"] = error
    if not counts:
        values["attempts"] = InboxEvent.attempts - 1
    session.execute(update(InboxEvent).where(InboxEvent.id == event.id, InboxEvent.state == InboxState.received)
                    .values(**values))
    session.commit()
    return RetryLater(countdown)


def _finish(session: Session, event: InboxEvent, state: InboxState, message: str) -> None:
    finished = session.execute(
        update(InboxEvent).where(InboxEvent.id == event.id, InboxEvent.state == InboxState.received)
        .values(state=state, last_error=message, processed_at=utcnow())).rowcount
    if finished:
        audit.record(session, f"inbox.{state.value}", shop_id=event.shop_id, subject_kind=_kind(event),
                     subject_id=event.resource_id, inbox_id=event.id, attempts=event.attempts, message=message)
    session.commit()


def _kind(event: InboxEvent) -> str:
    return "order" if event.topic in ORDER_TOPICS else "customer" if event.topic in CUSTOMER_TOPICS \
        else event.topic.split("/")[0].rstrip("s")


def _audit_exchanges(session: Session, event: InboxEvent, exchanges: list[Exchange]) -> None:
    for x in exchanges:
        audit.record(session, f"{x.system}.call", shop_id=event.shop_id, subject_kind=_kind(event),
                     subject_id=event.resource_id, inbox_id=event.id, method=x.method, url=x.url,
                     request=x.request_body, status=x.status, response=x.response_body, error=x.error,
                     elapsed_ms=x.elapsed_ms)
    exchanges.clear()


def _message(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:4000]



def _backoff(attempt: int, cap: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    delay = random.uniform(0, min(cap, 2 ** attempt))
    return max(delay, min(retry_after or 0, cap))
