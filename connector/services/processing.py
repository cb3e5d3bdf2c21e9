"""Processing one inbox event, and what happens when it fails.

Outcomes, by what the failure means for the accountant:
- Fusion refused it, or it cannot be mapped faithfully → ``parked`` with the reason; fixed data or
  set-up and a replay settle it. It never blocks other records.
- Fusion or Redis was unavailable, the outcome of a write is unknown, or another worker holds the
  object → try again with exponential backoff, up to ``max_attempts``, then ``dead`` (replayable).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connector import audit, jsonutil
from connector.fusion.errors import FusionError, FusionRejected
from connector.http import Exchange, recording
from connector.locks import Busy
from connector.mapping.addresses import AddressError
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingState, InboxEvent, InboxState
from connector.redact import redact_text
from connector.services import customers, orders
from connector.services.context import NotConfigured, Services

log = logging.getLogger(__name__)

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid"}
CUSTOMER_TOPICS = {"customers/create", "customers/update"}
# Stored and kept for replay once the flow ships: nothing is lost meanwhile.
NOT_YET = {"orders/paid": "payment application (receipts) is not in this release",
           "orders/cancelled": "cancellations (credit memos) are not in this release",
           "refunds/create": "refunds (credit memos) are not in this release"}

PERMANENT = (FusionRejected, MappingError, AddressError, NotConfigured)
TRANSIENT = (FusionError, Busy, RedisError, OperationalError)


@dataclass(frozen=True)
class RetryLater:
    countdown: float
    reason: str


def process(services: Services, session: Session, inbox_id: int) -> RetryLater | None:
    event = session.get(InboxEvent, inbox_id)
    if event is None:
        log.warning("inbox event %s does not exist", inbox_id)
        return None
    if event.state != InboxState.received:
        return None  # done, parked, dead or deferred: a duplicate task message
    settings = services.settings
    event.attempts += 1
    event.shop  # loaded now, inside this short transaction, not lazily later
    session.commit()
    if event.attempts > settings.max_attempts:
        return _finish(session, event, InboxState.dead, f"gave up after {settings.max_attempts} attempts: "
                       f"{event.last_error}")

    exchanges: list[Exchange] = []
    try:
        with recording(exchanges.append):
            note = _dispatch(services, session, event)
    except PERMANENT as exc:
        session.rollback()
        _audit_exchanges(session, event, exchanges)
        _park_binding(session, event, str(exc))
        return _finish(session, event, InboxState.parked, _message(exc))
    except TRANSIENT as exc:
        session.rollback()
        _audit_exchanges(session, event, exchanges)
        event.last_error = _message(exc)
        if event.attempts >= settings.max_attempts:
            return _finish(session, event, InboxState.dead,
                           f"gave up after {event.attempts} attempts: {event.last_error}")
        countdown = _backoff(event.attempts, settings.retry_backoff_max_seconds,
                             getattr(exc, "retry_after", None))
        # The retry is already scheduled: keep the sweeper from sending a second copy meanwhile.
        event.enqueued_at = datetime.now(timezone.utc) + timedelta(seconds=countdown)
        session.commit()
        return RetryLater(countdown, event.last_error)
    _audit_exchanges(session, event, exchanges)
    if note:
        return _finish(session, event, InboxState.deferred, note)
    return _finish(session, event, InboxState.done, "")


def _dispatch(services: Services, session: Session, event: InboxEvent) -> str:
    payload = jsonutil.loads(event.body)
    if event.topic in ORDER_TOPICS:
        result = orders.sync(services, session, event.shop, payload)
        return result.note or NOT_YET.get(event.topic, "")
    if event.topic in CUSTOMER_TOPICS:
        customers.ensure(services, session, event.shop, customers.from_customer(payload))
        return ""
    return NOT_YET.get(event.topic, f"topic {event.topic} is not handled")


def _finish(session: Session, event: InboxEvent, state: InboxState, message: str) -> None:
    event.state = state
    event.last_error = message
    event.processed_at = datetime.now(timezone.utc)
    audit.record(session, f"inbox.{state.value}", shop_id=event.shop_id, subject_kind=event.topic.split("/")[0],
                 subject_id=event.resource_id, inbox_id=event.id, attempts=event.attempts, message=message)
    session.commit()
    return None


def _park_binding(session: Session, event: InboxEvent, message: str) -> None:
    kind = "order" if event.topic in ORDER_TOPICS else "customer" if event.topic in CUSTOMER_TOPICS else ""
    if not kind:
        return
    binding = session.scalar(select(Binding).where(Binding.shop_id == event.shop_id, Binding.kind == kind,
                                                   Binding.shopify_id == event.resource_id))
    if binding is not None and binding.state != BindingState.synced:
        # ``creating`` stays ``creating``: the next try must still look the key up first.
        if binding.state != BindingState.creating:
            binding.state = BindingState.parked
        binding.last_error = redact_text(message)


def _audit_exchanges(session: Session, event: InboxEvent, exchanges: list[Exchange]) -> None:
    for x in exchanges:
        audit.record(session, f"{x.system}.call", shop_id=event.shop_id, subject_kind=event.topic.split("/")[0],
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
