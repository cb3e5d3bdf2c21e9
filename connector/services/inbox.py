"""The webhook inbox: a verified delivery is stored, once, before Shopify gets its answer.

Everything here is decided before a single byte is parsed: a shop domain that is not one, an
unknown shop, a bad signature (401 before any other header is looked at) or headers that do not
have Shopify's shape store nothing. A well-signed but malformed body is not
stored in the inbox (there is nothing to process) but is audited, so a broken producer is
visible; so is a well-signed delivery refused because its ``X-Shopify-Triggered-At`` is outside
the accepted window (a replay, or a clock far off): refused deliveries are never lost silently.

Only the body is signed. The event id, topic and trigger time come in headers anyone can change,
so the inbox also knows each body by its hash: a body already stored for the shop and topic is a
duplicate whatever headers come with it, and an old body sent again with fresh ones is not
processed twice.

A new delivery costs one statement and one commit: the shop and its secrets come from the
process's :class:`~connector.services.shop_keys.WebhookKeys`, and the unique keys themselves
refuse a duplicate (``INSERT … ON CONFLICT DO NOTHING``), with no look-up first. The row is the
receipt the audit trail keeps (shop, topic, event and webhook ids, API version, Shopify's trigger
time, our arrival time, the exact body and its hash); none of these columns ever changes, so no
audit row repeats them.
"""
from __future__ import annotations

import hashlib
import json
import re
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, ContextManager

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector import audit, flows, jsonutil
from connector.metrics import Tally
from connector.models import InboxEvent, InboxState
from connector.services.shop_keys import WebhookKeys
from connector.shopify import headers, webhooks

# Built once per dialect: building and keying the statement anew cost more than the insert itself.
# No conflict target: a conflict on either unique key (event, or body) is a duplicate.
_INSERTS = {name: insert(InboxEvent.__table__).on_conflict_do_nothing().returning(InboxEvent.id)
            for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
#: Several deliveries at once (``web.group_commit``): the rows it stored come back with their keys.
_BATCH_INSERTS = {name: insert(InboxEvent.__table__).on_conflict_do_nothing().returning(
    InboxEvent.id, InboxEvent.shop_id, InboxEvent.topic, InboxEvent.event_id, InboxEvent.resource_id,
    InboxEvent.body_sha256) for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
#: Opens a session (a context manager): what :func:`admit` calls only when it needs the database.
Opener = Callable[[], ContextManager[Session]]
#: Shopify's payloads nest less than ten deep; a body nested deeper is not one of theirs.
MAX_JSON_DEPTH = 64
#: An object id as the inbox stores it (32 characters): Shopify's numeric ids, or a GID's tail.
_GID = re.compile(r"gid://shopify/[A-Za-z]+/\d+")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,31}")
#: What an audit row keeps of a refused body: enough to see what it was.
EXCERPT = 2000


class InvalidHeader(headers.InvalidHeader):
    """A header is missing or not of Shopify's shape: answer 400 and record nothing (unsigned)."""


class Unauthorized(Exception):
    """Unknown shop or bad signature: answer 401 and store nothing."""


class Malformed(Exception):
    """Signed, but not a payload we can process: answer 400; the attempt is audited."""


class Refused(Exception):
    """Signed and well-formed, but outside the Triggered-At window: answer 400; the attempt is audited."""


@dataclass(frozen=True)
class Delivery:
    shop_domain: str
    topic: str
    event_id: str
    webhook_id: str
    api_version: str
    triggered_at: str
    signature: str
    raw_body: bytes


@dataclass(frozen=True)
class Window:
    """How far ``X-Shopify-Triggered-At`` may be from our clock (``MLC_WEBHOOK_MAX_AGE``,
    ``MLC_WEBHOOK_MAX_SKEW``). Shopify's retries keep the first try's time, for 4 hours."""

    max_age_seconds: int = 6 * 3600
    max_skew_seconds: int = 300

    @classmethod
    def of(cls, settings) -> "Window":
        return cls(settings.webhook_max_age_seconds, settings.webhook_max_skew_seconds)

    def refusal(self, triggered: datetime, now: datetime) -> str:
        """Why a delivery triggered then is refused now, or ""."""
        if triggered < now - timedelta(seconds=self.max_age_seconds):
            return f"triggered more than {self.max_age_seconds} s ago (MLC_WEBHOOK_MAX_AGE): a replay, or retried too long"
        if triggered > now + timedelta(seconds=self.max_skew_seconds):
            return f"triggered more than {self.max_skew_seconds} s ahead of this clock (MLC_WEBHOOK_MAX_SKEW)"
        return ""


@dataclass(frozen=True)
class Accepted:
    inbox_id: int | None        # None for a duplicate: answering it needs nothing but the refusal
    created: bool
    flow: flows.Flow | None     # the flow that will process it; None for a duplicate or a deferred topic
    resource_id: str = ""       # what it is about (its GID names it on log lines)
    shop_id: int | None = None  # whose it is: the shop's first events go first (workers.dispatch)


@dataclass(frozen=True)
class Admitted:
    """A verified, well-formed delivery, as the row the inbox stores for it."""

    row: dict
    flow: flows.Flow | None
    resource_id: str
    shop_id: int

    @property
    def key(self) -> tuple:
        """What one stored row holds of its delivery's unique keys: which deliveries of a batch
        the insert stored, and which were duplicates."""
        r = self.row
        return r["shop_id"], r["topic"], r["event_id"], r["resource_id"], r["body_sha256"]


def accept(session: Session, keys: WebhookKeys, delivery: Delivery, window: Window = Window(),
           tally: Tally | None = None) -> Accepted:
    """Store a verified delivery once; ``tally`` counts a new event for ``/metrics`` after the commit."""
    return store(session, [admit(lambda: nullcontext(session), keys, delivery, window)], tally)[0]


def admit(open_session: Opener, keys: WebhookKeys, delivery: Delivery, window: Window = Window()) -> Admitted:
    """Verify and read a delivery, ready to store; refusals raise (a signed one is audited and
    committed). A session is opened (``open_session``) only for a shop whose keys are not held,
    and for a refusal: most deliveries need none before their insert."""
    _checked(headers.check_domain, delivery.shop_domain)  # looked up next: it must be a shop's name
    # Not signed by the shop is 401 whatever else is wrong: Shopify's own check of an app sends
    # a compliance webhook with a bad HMAC and expects exactly that.
    shop_id = _verified_shop_id(open_session, keys, delivery)
    event_id, triggered = _checked_headers(delivery)
    digest = hashlib.sha256(delivery.raw_body).hexdigest()
    try:
        body, resource_id = _parse(delivery)
    except Malformed as exc:
        _record_refusal(open_session, "webhook.malformed", shop_id, delivery, event_id, digest, str(exc))
        raise
    # Absent only where Shopify may not send it (compliance topics): the body hash still holds.
    refusal = window.refusal(triggered, keys.now()) if triggered is not None else ""
    if refusal:
        _record_refusal(open_session, "webhook.refused", shop_id, delivery, event_id, digest, refusal)
        raise Refused(refusal)

    flow = flows.for_topic(delivery.topic)
    # every row names the same columns: a batch of them is one multi-row INSERT
    row = dict(shop_id=shop_id, topic=delivery.topic, event_id=event_id, webhook_id=delivery.webhook_id,
               api_version=delivery.api_version, triggered_at=delivery.triggered_at, resource_id=resource_id,
               body=body, body_sha256=digest, state=InboxState.received, last_error="")
    if flow is None:
        row.update(state=InboxState.deferred, last_error=flows.deferred_note(delivery.topic))
    return Admitted(row, flow, resource_id, shop_id)


def store(session: Session, admitted: list[Admitted], tally: Tally | None = None) -> list[Accepted]:
    """Store admitted deliveries in one statement, in the session's transaction, with no look-up
    first; what became of each, in their order. ``tally`` counts the new events for ``/metrics``
    after the commit.

    A delivery stored before (same event, or same body), or by the same delivery racing in (the
    insert waited for that one to commit or roll back), or twice in ``admitted``, is a duplicate.
    """
    # Core on the session's connection: the ORM's execution machinery costs more than the insert.
    # (Unlike Session.execute it does not autoflush: callers hold no pending ORM objects here.)
    connection = session.connection()
    dialect = connection.dialect.name
    if len(admitted) == 1:  # the usual case: the statement whose result needs no matching
        inbox_id = connection.scalar(_INSERTS[dialect], admitted[0].row)
        stored = {} if inbox_id is None else {admitted[0].key: inbox_id}
    else:  # in the event keys' order: fewer deadlocks between two processes' batches (one on the
        # body hash is still possible: the caller stores each row alone then)
        rows = [a.row for a in sorted(admitted, key=lambda a: a.key)]
        stored = {tuple(r[1:]): r[0] for r in connection.execute(_BATCH_INSERTS[dialect], rows)}
    accepted = []
    for item in admitted:
        inbox_id = stored.pop(item.key, None)  # the first of identical deliveries is the one stored
        if inbox_id is None:
            accepted.append(Accepted(None, False, None))
            continue
        if tally is not None:
            tally.moved(session, item.row["topic"], None, item.row["state"].value)
        accepted.append(Accepted(inbox_id, True, item.flow, item.resource_id, item.shop_id))
    return accepted


def _checked_headers(delivery: Delivery) -> tuple[str, datetime | None]:
    """The event id the inbox keys on and the trigger time, once every header has Shopify's shape.

    Not recorded when wrong: the headers are not signed, and anyone holding one signed body could
    otherwise fill the audit trail."""
    _checked(headers.check_topic, delivery.topic)
    event_id = _checked(headers.check_ids, delivery.event_id, delivery.webhook_id)
    _checked(headers.check_api_version, delivery.api_version)
    triggered = _checked(headers.parse_timestamp, delivery.triggered_at)
    if triggered is None and flows.compliance(delivery.topic) is None:
        raise InvalidHeader("missing X-Shopify-Triggered-At header")
    return event_id, triggered


def _checked(check, *values):
    try:
        return check(*values)
    except headers.InvalidHeader as exc:
        raise InvalidHeader(str(exc)) from None


def _verified_shop_id(open_session: Opener, keys: WebhookKeys, delivery: Delivery) -> int:
    held = keys.held(delivery.shop_domain)
    if held is not None and webhooks.verify(delivery.raw_body, delivery.signature, held.secrets(keys.now())):
        return held.shop_id
    with open_session() as session:  # not held yet, held too long, or rotated since
        held = keys.read(session, delivery.shop_domain)
    if held is None:
        raise Unauthorized("unknown shop")
    if not webhooks.verify(delivery.raw_body, delivery.signature, held.secrets(keys.now())):
        raise Unauthorized("invalid signature")
    return held.shop_id


def _record_refusal(open_session: Opener, action: str, shop_id: int, delivery: Delivery, event_id: str,
                    digest: str, reason: str) -> None:
    """Audit a signed delivery that is not stored, and commit: the caller answers 400 next."""
    with open_session() as session:
        audit.record(session, action, shop_id=shop_id, topic=delivery.topic, event_id=event_id,
                     webhook_id=delivery.webhook_id, triggered_at=delivery.triggered_at, body_sha256=digest,
                     reason=reason, body_excerpt=delivery.raw_body[:EXCERPT].decode("utf-8", "replace"))
        session.commit()


def _parse(delivery: Delivery) -> tuple[str, str]:
    """The body as text and the id of what it is about; or Malformed, saying what is wrong.

    Only the id is read here, so the standard library's parser does (numbers are not kept): the
    worker parses the stored text again with exact money.
    """
    try:
        body = delivery.raw_body.decode("utf-8")
        payload = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
        raise Malformed(f"body is not JSON: {exc}") from None
    except RecursionError:  # nested deeper than the parser's stack: not one of Shopify's
        raise Malformed(f"body nests deeper than {MAX_JSON_DEPTH}") from None
    if not isinstance(payload, dict):
        raise Malformed("body is not a JSON object")
    if jsonutil.may_nest_deeper(delivery.raw_body, MAX_JSON_DEPTH) and jsonutil.deeper_than(payload, MAX_JSON_DEPTH):
        raise Malformed(f"body nests deeper than {MAX_JSON_DEPTH}")
    compliance = flows.compliance(delivery.topic)
    if compliance is not None:
        return body, _compliance_subject(compliance, payload, delivery.shop_domain)
    flow = flows.for_topic(delivery.topic)
    key = flow.id_key if flow is not None else "id"
    if key not in payload:
        # a topic whose body names its object by GID alone (``bulk_operations/finish``): stored,
        # deferred if no flow takes it, rather than refused and retried by Shopify for 4 hours
        gid = payload.get("admin_graphql_api_id")
        if key != "id" or not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
            raise Malformed(f"payload has no {key}")
        payload = {"id": gid.rsplit("/", 1)[-1].split("?", 1)[0]}
    resource_id = _resource_id(payload[key])
    if resource_id is None:
        raise Malformed(f"payload {key} is not an id")
    return body, resource_id


def _compliance_subject(compliance: flows.Compliance, payload: dict, domain: str) -> str:
    """The customer or shop a compliance request is about ("" if the body does not say: Shopify
    may name a customer by email alone). The body's own shop must be the signing shop."""
    named = payload.get("shop_domain")
    if named is not None and (not isinstance(named, str) or named.strip().lower() != domain):
        raise Malformed("the body's shop_domain is not the X-Shopify-Shop-Domain shop")
    value = payload
    for key in compliance.subject:
        value = value.get(key) if isinstance(value, dict) else None
    return _resource_id(value) or ""


def _resource_id(value) -> str | None:
    """A numeric or short id as it is; a GID (``gid://shopify/Customer/42``) as its last part."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _GID.fullmatch(value):
        value = value.rsplit("/", 1)[1]
    return value if isinstance(value, str) and _RESOURCE_ID.fullmatch(value) else None


def claim_resend(session: Session, inbox_id: int, older_than_seconds: int) -> bool:
    """Take the right to re-send a stale event's task (two sweeps never both send it)."""
    now = datetime.now(timezone.utc)
    since = func.coalesce(InboxEvent.enqueued_at, InboxEvent.received_at)
    return session.execute(
        update(InboxEvent).where(InboxEvent.id == inbox_id, InboxEvent.state == InboxState.received,
                                 since < now - timedelta(seconds=older_than_seconds))
        .values(enqueued_at=now)).rowcount == 1


def stale(session: Session, older_than_seconds: int, limit: int = 500) -> list[tuple[int, str]]:
    """(id, topic) of events still waiting whose task was never sent, or was lost.

    An event counts from when its task was last sent or its last attempt started; one never sent
    counts from its arrival, so the receiver's own enqueue is not raced.
    """
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_seconds)
    since = func.coalesce(InboxEvent.enqueued_at, InboxEvent.received_at)
    return [(row.id, row.topic) for row in session.execute(
        select(InboxEvent.id, InboxEvent.topic)
        .where(InboxEvent.state == InboxState.received, since < cutoff)
        .order_by(InboxEvent.id).limit(limit))]


def reopen(session: Session, inbox_id: int, tally: Tally | None = None) -> InboxEvent | None:
    """Make a parked, dead or deferred event waiting again, with a fresh attempt budget."""
    event = session.get(InboxEvent, inbox_id)
    if event is None or event.state == InboxState.received or flows.for_topic(event.topic) is None:
        return None  # missing, already waiting, or a topic no worker handles yet
    if tally is not None:
        tally.moved(session, event.topic, event.state.value, InboxState.received.value)
    audit.record(session, "inbox.replayed", shop_id=event.shop_id, subject_id=event.resource_id,
                 inbox_id=event.id, previous_state=event.state.value, previous_error=event.last_error)
    event.state = InboxState.received
    event.attempts = 0
    event.processed_at = None
    event.enqueued_at = datetime.now(timezone.utc)
    return event


def accept_reconciled(session: Session, shop_id: int, topic: str, resource_id: str, version: str,
                      payload: dict, *, api_version: str = "", triggered_at: str = "",
                      source: str = "reconcile") -> int | None:
    """Store an event reconciliation made (an object whose webhook never arrived, in that
    webhook's shape), marked ``source = reconcile`` (or ``backfill``); the id of the new row, or None when this
    version of the object is stored already.

    Its event id is ``reconcile:<version>`` (the object's ``updated_at``, or its creation time
    for a refund): a second run that finds the same version again conflicts on the inbox's
    unique keys, as a redelivered webhook does, and stores nothing (whichever of reconciliation
    and backfill stored it first).
    """
    body = jsonutil.dumps(payload)
    row = dict(shop_id=shop_id, topic=topic, event_id=f"reconcile:{version}"[:128], webhook_id="",
               api_version=api_version, triggered_at=triggered_at, resource_id=resource_id, body=body,
               body_sha256=hashlib.sha256(body.encode()).hexdigest(), source=source)
    return session.scalar(_INSERTS[session.get_bind().dialect.name], row)
