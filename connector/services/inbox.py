"""The webhook inbox: a verified delivery is stored, once, before Shopify gets its answer.

Everything here is decided before a single byte is parsed: an unknown shop or a bad signature
stores nothing. A well-signed but malformed body is not stored in the inbox (there is nothing to
process) but is audited, so a broken producer is visible.

A new delivery costs one statement and one commit: the shop and its secrets come from the
process's :class:`~connector.services.shop_keys.WebhookKeys`, and the unique key itself refuses
a duplicate (``INSERT … ON CONFLICT DO NOTHING``), with no look-up first. The row is the receipt
the audit trail keeps (shop, topic, event and webhook ids, API version, Shopify's trigger time,
our arrival time and the exact body); none of these columns ever changes, so no audit row repeats
them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector import audit, flows
from connector.models import InboxEvent, InboxState
from connector.services.shop_keys import WebhookKeys
from connector.shopify import webhooks

_KEY = [InboxEvent.shop_id, InboxEvent.topic, InboxEvent.event_id, InboxEvent.resource_id]
# Built once per dialect: building and keying the statement anew cost more than the insert itself.
_INSERTS = {name: insert(InboxEvent.__table__).on_conflict_do_nothing(index_elements=_KEY).returning(InboxEvent.id)
            for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}


class Unauthorized(Exception):
    """Unknown shop or bad signature: answer 401 and store nothing."""


class Malformed(Exception):
    """Signed, but not a payload we can process: answer 400; the attempt is audited."""


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
class Accepted:
    inbox_id: int | None        # None for a duplicate: answering it needs nothing but the refusal
    created: bool
    flow: flows.Flow | None     # the flow that will process it; None for a duplicate or a deferred topic


def accept(session: Session, keys: WebhookKeys, delivery: Delivery) -> Accepted:
    shop_id = _verified_shop_id(session, keys, delivery)
    event_id = delivery.event_id or delivery.webhook_id
    try:
        body, resource_id = _parse(delivery, event_id)
    except Malformed as exc:
        audit.record(session, "webhook.malformed", shop_id=shop_id, topic=delivery.topic,
                     event_id=event_id, webhook_id=delivery.webhook_id, reason=str(exc),
                     body_excerpt=delivery.raw_body[:2000].decode("utf-8", "replace"))
        session.commit()
        raise

    flow = flows.for_topic(delivery.topic)
    row = dict(shop_id=shop_id, topic=delivery.topic, event_id=event_id, webhook_id=delivery.webhook_id,
               api_version=delivery.api_version, triggered_at=delivery.triggered_at, resource_id=resource_id,
               body=body)
    if flow is None:
        row.update(state=InboxState.deferred, last_error=f"topic {delivery.topic} is not handled by this release")
    inbox_id = session.scalar(_INSERTS[session.get_bind().dialect.name], row)
    if inbox_id is None:  # stored before, or by the same delivery racing in on another connection
        return Accepted(None, False, None)  # (the insert waited for that one to commit or roll back)
    return Accepted(inbox_id, True, flow)


def _verified_shop_id(session: Session, keys: WebhookKeys, delivery: Delivery) -> int:
    held = keys.held(delivery.shop_domain)
    if held is not None and webhooks.verify(delivery.raw_body, delivery.signature, held.secrets(keys.now())):
        return held.shop_id
    held = keys.read(session, delivery.shop_domain)  # not held yet, held too long, or rotated since
    if held is None:
        raise Unauthorized("unknown shop")
    if not webhooks.verify(delivery.raw_body, delivery.signature, held.secrets(keys.now())):
        raise Unauthorized("invalid signature")
    return held.shop_id


def _parse(delivery: Delivery, event_id: str) -> tuple[str, str]:
    """The body as text and the object's id; or Malformed, saying what is wrong.

    Only the id is read here, so the standard library's parser does (numbers are not kept): the
    worker parses the stored text again with exact money.
    """
    if not delivery.topic:
        raise Malformed("missing X-Shopify-Topic header")
    if not event_id:
        raise Malformed("missing X-Shopify-Event-Id and X-Shopify-Webhook-Id headers")
    try:
        body = delivery.raw_body.decode("utf-8")
        payload = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
        raise Malformed(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Malformed("body is not a JSON object")
    if "id" not in payload:
        raise Malformed("payload has no id")
    return body, str(payload["id"])


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


def reopen(session: Session, inbox_id: int) -> InboxEvent | None:
    """Make a parked, dead or deferred event waiting again, with a fresh attempt budget."""
    event = session.get(InboxEvent, inbox_id)
    if event is None or event.state == InboxState.received or flows.for_topic(event.topic) is None:
        return None  # missing, already waiting, or a topic no worker handles yet
    audit.record(session, "inbox.replayed", shop_id=event.shop_id, subject_id=event.resource_id,
                 inbox_id=event.id, previous_state=event.state.value, previous_error=event.last_error)
    event.state = InboxState.received
    event.attempts = 0
    event.processed_at = None
    event.enqueued_at = datetime.now(timezone.utc)
    return event
