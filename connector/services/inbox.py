"""The webhook inbox: a verified delivery is stored, once, before Shopify gets its answer.

Everything here is decided before a single byte is parsed: an unknown shop or a bad signature
stores nothing. A well-signed but malformed body is not stored in the inbox (there is nothing to
process) but is audited, so a broken producer is visible.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import audit, flows, jsonutil
from connector.models import InboxEvent, InboxState, Shop
from connector.shopify import webhooks
from connector.vault import Vault, shop_scope


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
    inbox_id: int
    created: bool
    flow: flows.Flow | None     # the flow that will process it; None for a duplicate or a deferred topic


def shop_secrets(session: Session, vault: Vault, shop: Shop) -> list[str]:
    scope = shop_scope(shop.domain)
    secrets = [vault.get(session, scope, "client_secret"), vault.get(session, scope, "previous_client_secret")]
    return [s for s in secrets if s]


def accept(session: Session, vault: Vault, delivery: Delivery) -> Accepted:
    shop = session.scalar(select(Shop).where(Shop.domain == delivery.shop_domain.lower()))
    if shop is None:
        raise Unauthorized("unknown shop")
    if not webhooks.verify(delivery.raw_body, delivery.signature, shop_secrets(session, vault, shop)):
        raise Unauthorized("invalid signature")

    event_id = delivery.event_id or delivery.webhook_id
    problem = _problem(delivery, event_id)
    if problem:
        audit.record(session, "webhook.malformed", shop_id=shop.id, topic=delivery.topic,
                     event_id=event_id, webhook_id=delivery.webhook_id, reason=problem,
                     body_excerpt=delivery.raw_body[:2000].decode("utf-8", "replace"))
        session.commit()
        raise Malformed(problem)
    resource_id = str(jsonutil.loads(delivery.raw_body)["id"])

    existing = _find(session, shop.id, delivery.topic, event_id, resource_id)
    if existing is not None:
        return Accepted(existing.id, False, None)

    row = InboxEvent(shop_id=shop.id, topic=delivery.topic, event_id=event_id,
                     webhook_id=delivery.webhook_id, api_version=delivery.api_version,
                     triggered_at=delivery.triggered_at, resource_id=resource_id,
                     body=delivery.raw_body.decode("utf-8"))
    flow = flows.for_topic(delivery.topic)
    if flow is None:
        row.state = InboxState.deferred
        row.last_error = f"topic {delivery.topic} is not handled by this release"
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same delivery, racing in on another connection
        session.rollback()
        existing = _find(session, shop.id, delivery.topic, event_id, resource_id)
        return Accepted(existing.id, False, None)
    audit.record(session, "webhook.received", shop_id=shop.id, subject_kind=flows.kind_of(delivery.topic),
                 subject_id=row.resource_id, inbox_id=row.id, topic=delivery.topic,
                 event_id=event_id, webhook_id=delivery.webhook_id, triggered_at=delivery.triggered_at)
    return Accepted(row.id, True, flow)


def _problem(delivery: Delivery, event_id: str) -> str:
    if not delivery.topic:
        return "missing X-Shopify-Topic header"
    if not event_id:
        return "missing X-Shopify-Event-Id and X-Shopify-Webhook-Id headers"
    try:
        payload = jsonutil.loads(delivery.raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"body is not JSON: {exc}"
    if not isinstance(payload, dict):
        return "body is not a JSON object"
    if "id" not in payload:
        return "payload has no id"
    return ""


def _find(session: Session, shop_id: int, topic: str, event_id: str, resource_id: str) -> InboxEvent | None:
    return session.scalar(select(InboxEvent).where(InboxEvent.shop_id == shop_id, InboxEvent.topic == topic,
                                                   InboxEvent.event_id == event_id,
                                                   InboxEvent.resource_id == resource_id))


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
