"""Processing one inbox event, and what happens when it fails.

Outcomes, by what the failure means for the accountant:
- Fusion refused it, or it cannot be mapped faithfully → ``parked`` with the reason; fixed data or
  set-up and a replay settle it. It never blocks other records.
- Fusion or Redis was unavailable, or the outcome of a write is unknown → try again with
  exponential backoff, up to ``max_attempts``, then ``dead`` (replayable).
- Another worker holds the object, or a document it depends on is not booked yet, or the shop is
  over its share of the Fusion budget while another shop waits (``connector.fair_share``) → try
  again a little later; this is not the event's fault and does not use up an attempt.

Every state change is conditional on the event still waiting (``received``), so two deliveries of
the same task can never overwrite each other's outcome.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, joinedload

from connector import audit, flows, jsonutil, logs
from connector.fair_share import FusionYielded, acting_for
from connector.fusion.errors import FusionError, FusionRejected
from connector.http import Exchange, InsecureURL, recording
from connector.locks import Busy
from connector.mapping.addresses import AddressError
from connector.mapping.invoice import MappingError
from connector.models import (
    AttemptOutcome,
    InboxEvent,
    InboxState,
    ProcessingAttempt,
    utcnow,
)
from connector.redact import redact_text
from connector.services import bindings, reread, shop_auth, subjects
from connector.services.context import NotConfigured, Services
from connector.shopify.client import (
    QueryTooCostly,
    ReauthorizationRequired,
    ShopifyError,
)
from connector.subject_keys import Keyring, SubjectKey

log = logging.getLogger(__name__)

#: An event whose body was erased before it was processed: it is kept ``deferred`` with this note.
BODY_ERASED = "its body was erased (retention or a privacy request): there is nothing left to process"
PERMANENT = (FusionRejected, MappingError, AddressError, NotConfigured, InsecureURL, QueryTooCostly)
#: A busy connection pool (every connection taken by the process's other threads) is one of them.
#: The longest a yielded event waits before it asks for its share again.
YIELD_WAIT_MAX = 5.0
TRANSIENT = (FusionError, ShopifyError, RedisError, OperationalError, PoolTimeout)


# Read by every claim: built once (building and keying a statement cost more CPU than running it).
_LEASED_UNTIL = select(InboxEvent.enqueued_at).where(InboxEvent.id == bindparam("id"))
_ATTEMPTS = select(func.count()).select_from(ProcessingAttempt).where(ProcessingAttempt.inbox_id == bindparam("id"))


@dataclass(frozen=True)
class RetryLater:
    countdown: float


@dataclass(frozen=True)
class Runner:
    """Who runs an attempt, for its row in ``processing_attempts``."""

    task_id: str = ""
    worker: str = ""


def process(services: Services, session: Session, inbox_id: int, runner: Runner = Runner()) -> RetryLater | None:
    claim = _claim(session, inbox_id, services.settings.task_time_limit_seconds, runner, services.keyring)
    if claim is None:
        return None  # done, parked, dead or deferred already: a duplicate task message
    event = claim.event  # named on the task's lines even when its message carried nothing (a sweep)
    logs.annotate(inbox_id=event.id, shop=event.shop.domain, topic=event.topic, event_id=event.event_id,
                  gid=flows.gid(event.topic, event.resource_id))
    with audit.sealing(claim.key):  # the personal fields of its audit rows, under its subject's key
        return _attempt(services, session, claim)


def _attempt(services: Services, session: Session, claim: _Claim) -> RetryLater | None:
    settings = services.settings
    event, attempt = claim.event, claim.attempt
    if event.attempts > settings.max_attempts:
        if claim.previous_lease_live:  # a duplicate message while the last attempt still runs
            return _later(session, event, attempt, claim.previous_lease_left, counts=False,
                          note="another attempt of this event is still running")
        _finish(services, session, event, attempt, InboxState.dead,
                f"gave up after {settings.max_attempts} attempts: {event.last_error}")
        return None

    flow = flows.for_topic(event.topic)
    if flow is not None and not flow.while_revoked and shop_auth.needs_reauthorization(event.shop):
        _finish(services, session, event, attempt, InboxState.parked, shop_auth.parked_message(event.shop))
        return None
    exchanges: list[Exchange] = []
    try:
        try:
            with recording(exchanges.append), acting_for(event.shop_id):
                note = _run(services, session, event, flow)
        finally:
            # What was sent to Fusion and what came back is recorded whatever happened next.
            session.rollback()  # what a failed unit of work left half done
            attempt.fusion_calls = _audit_exchanges(session, event, exchanges)
            session.commit()
    except ReauthorizationRequired:
        # the shop was revoked while the event ran: it parks with its shop's reason, unretried
        session.refresh(event.shop)
        _finish(services, session, event, attempt, InboxState.parked, shop_auth.parked_message(event.shop))
        return None
    except Busy as exc:
        return _later(session, event, attempt, exc.retry_after + random.uniform(0, 2), counts=False,
                      error=f"waiting: {exc}")
    except FusionYielded as exc:  # its share is spent and another shop waits: back soon, in its turn
        return _later(session, event, attempt, min(exc.retry_after, YIELD_WAIT_MAX) + random.uniform(0, 1),
                      counts=False, note=f"yielded: {exc}")
    except PERMANENT as exc:
        if flow is not None:
            bindings.park(session, event.shop_id, flow.kind, event.resource_id, _message(exc))
        _finish(services, session, event, attempt, InboxState.parked, _message(exc))
        return None
    except Exception as exc:  # transient, or a defect: retried, and visible with its reason
        if not isinstance(exc, TRANSIENT):
            log.exception("inbox event %s failed unexpectedly", event.id)
        message = _message(exc)
        if event.attempts >= settings.max_attempts:
            _finish(services, session, event, attempt, InboxState.dead,
                    f"gave up after {event.attempts} attempts: {message}")
            return None
        return _later(session, event, attempt, _backoff(event.attempts, settings.retry_backoff_max_seconds,
                                                        getattr(exc, "retry_after", None)), error=message)
    _finish(services, session, event, attempt, InboxState.deferred if note else InboxState.done, note)
    return None


def _run(services: Services, session: Session, event: InboxEvent, flow: flows.Flow | None) -> str:
    if flow is None:
        return f"topic {event.topic} is not handled by this release"
    if event.body_erased_at is not None:
        return BODY_ERASED
    body = jsonutil.loads(event.body)
    if flow.handler and reread.rereads(event.shop, event.topic, event.source):
        body = reread.admin_copy(services, session, event.shop, event.topic, body)
    note = flow.handler(services, session, event.shop, body) if flow.handler else ""
    return note or flow.deferred


@dataclass(frozen=True)
class _Claim:
    event: InboxEvent
    attempt: ProcessingAttempt
    previous_lease_left: float   # seconds the previous attempt's lease still runs (0: none)
    key: SubjectKey              # the data subject's key, for the attempt's audit rows

    @property
    def previous_lease_live(self) -> bool:
        return self.previous_lease_left > 0


def _claim(session: Session, inbox_id: int, lease_seconds: int, runner: Runner, keyring: Keyring) -> _Claim | None:
    """Count the attempt and lease the event for its duration, only if the event is still waiting.

    The lease (``enqueued_at`` in the future) keeps the sweeper from sending a second copy while
    this attempt runs; after a crash the broker redelivers at once, or the sweeper after the lease.
    The attempt's row, and the data subject's key when it is the subject's first event, are
    written in the same transaction as the claim.
    """
    previous = session.scalar(_LEASED_UNTIL, {"id": inbox_id})
    claimed = session.execute(
        update(InboxEvent).where(InboxEvent.id == inbox_id, InboxEvent.state == InboxState.received)
        .values(attempts=InboxEvent.attempts + 1,
                enqueued_at=utcnow() + timedelta(seconds=lease_seconds))).rowcount
    if claimed != 1:
        session.commit()
        return None
    # the shop loaded now, in the same statement and inside this short transaction, not lazily later
    event = session.get(InboxEvent, inbox_id, populate_existing=True, options=[joinedload(InboxEvent.shop)])
    # Numbered by rows, not by the event's budget: a wait for another worker gives its count back.
    number = 1 + session.scalar(_ATTEMPTS, {"id": inbox_id})
    attempt = ProcessingAttempt(inbox_id=inbox_id, number=number, task_id=runner.task_id[:64],
                                worker=runner.worker[:255])
    session.add(attempt)
    key = subjects.key_for(keyring, session, event)
    session.commit()
    left = (previous - utcnow()).total_seconds() if previous is not None else 0.0
    return _Claim(event, attempt, max(0.0, left), key)


def _later(session: Session, event: InboxEvent, attempt: ProcessingAttempt, countdown: float, *,
           error: str = "", note: str = "", counts: bool = True) -> RetryLater:
    """Try again after ``countdown``. ``error`` is the event's reason; ``note`` is said on the
    attempt only, so that the event keeps the reason it really failed for."""
    values = {"enqueued_at": utcnow() + timedelta(seconds=countdown)}  # the sweeper leaves it alone meanwhile
    if error:
        values["last_error"] = error
    if not counts:
        values["attempts"] = InboxEvent.attempts - 1
    session.execute(update(InboxEvent).where(InboxEvent.id == event.id, InboxEvent.state == InboxState.received)
                    .values(**values))
    _end(attempt, AttemptOutcome.retry if counts else AttemptOutcome.waiting, error or note)
    session.commit()
    # the state and the attempt, not the reason: a reason may quote the payload (docs/privacy.md)
    log.info("inbox event %s: attempt %s %s, again in %.1f s", event.id, attempt.number,
             "failed" if counts else "waits", countdown)
    return RetryLater(countdown)


def _finish(services: Services, session: Session, event: InboxEvent, attempt: ProcessingAttempt,
            state: InboxState, message: str) -> None:
    finished = session.execute(
        update(InboxEvent).where(InboxEvent.id == event.id, InboxEvent.state == InboxState.received)
        .values(state=state, last_error=message, processed_at=utcnow())).rowcount
    if finished:
        services.tally.moved(session, event.topic, InboxState.received.value, state.value)
        audit.record(session, f"inbox.{state.value}", shop_id=event.shop_id, subject_kind=flows.kind_of(event.topic),
                     subject_id=event.resource_id, inbox_id=event.id, attempts=event.attempts, message=message)
    _end(attempt, AttemptOutcome(state.value), message)
    session.commit()
    if finished:
        log.info("inbox event %s %s after %s attempt(s)", event.id, state.value, event.attempts)


def _end(attempt: ProcessingAttempt, outcome: AttemptOutcome, error: str) -> None:
    attempt.outcome = outcome
    attempt.error = error
    attempt.finished_at = utcnow()


def _audit_exchanges(session: Session, event: InboxEvent, exchanges: list[Exchange]) -> int:
    """Audit each exchange; returns how many went to Fusion."""
    kind = flows.kind_of(event.topic)
    for x in exchanges:
        audit.record(session, f"{x.system}.call", shop_id=event.shop_id, subject_kind=kind,
                     subject_id=event.resource_id, inbox_id=event.id, method=x.method, url=x.url,
                     request=x.request_body, status=x.status, response=x.response_body, error=x.error,
                     elapsed_ms=x.elapsed_ms)
    fusion_calls = sum(1 for x in exchanges if x.system == "fusion")
    exchanges.clear()
    return fusion_calls


def _message(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:4000]


def _backoff(attempt: int, cap: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    delay = random.uniform(0, min(cap, 2 ** attempt))
    return max(delay, min(retry_after or 0, cap))
