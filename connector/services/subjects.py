"""Whose personal data an inbox event carries: the data subject its audit rows are sealed for.

An order's customer is its Shopify customer, or for a guest checkout its email address (as
:func:`connector.services.customers.from_order` keys them); a customer event is about itself; a
refund is about its order's customer. What names no customer (a compliance request itself, a
topic no flow reads) is sealed under the shop's key, which only ``shop/redact`` destroys.
"""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import flows
from connector.models import AuditEvent, BindingKind, InboxEvent, PrivacyKey
from connector.subject_keys import (
    SHOP,
    Keyring,
    SubjectKey,
    customer_subject,
    guest_subject,
)


def key_for(keyring: Keyring, session: Session, event: InboxEvent) -> SubjectKey:
    """The key the event's audit rows are sealed under (made on first use; the caller commits)."""
    return keyring.key(session, event.shop_id, subject_of(session, event))


def key_for_inbox(keyring: Keyring, session: Session, inbox_id: int) -> SubjectKey | None:
    event = session.get(InboxEvent, inbox_id)
    if event is None:
        return None
    key = key_for(keyring, session, event)
    session.commit()
    return key


def subject_of(session: Session, event: InboxEvent) -> str:
    payload = _payload(event)
    if payload is None:
        return SHOP
    kind = flows.kind_of(event.topic)
    if kind == BindingKind.order.value:
        return order_subject(event.shop_id, payload)
    if kind == BindingKind.customer.value and "customer" not in payload and payload.get("id"):
        return customer_subject(str(payload["id"]))
    if kind == BindingKind.refund.value and payload.get("order_id"):
        return _order_subject_by_id(session, event.shop_id, str(payload["order_id"]))
    return SHOP


def order_subject(shop_id: int, order: dict) -> str:
    customer = order.get("customer") or {}
    if customer.get("id"):
        return customer_subject(str(customer["id"]))
    email = (order.get("email") or order.get("contact_email") or "").strip().lower()
    return guest_subject(shop_id, email) if email else SHOP


def _order_subject_by_id(session: Session, shop_id: int, order_id: str) -> str:
    """A refund's subject: its order's, from the order's newest stored body, else from the key
    its audit rows were sealed under (bodies are erased after the retention window)."""
    body = session.scalar(select(InboxEvent.body).where(
        InboxEvent.shop_id == shop_id, InboxEvent.resource_id == order_id,
        InboxEvent.topic.in_(flows.topics_of(BindingKind.order)), InboxEvent.body_erased_at.is_(None))
        .order_by(InboxEvent.id.desc()).limit(1))
    if body:
        try:
            return order_subject(shop_id, json.loads(body))
        except (ValueError, AttributeError):
            pass
    subject = session.scalar(select(PrivacyKey.subject).join(AuditEvent, AuditEvent.key_id == PrivacyKey.id).where(
        AuditEvent.shop_id == shop_id, AuditEvent.subject_kind == BindingKind.order.value,
        AuditEvent.subject_id == order_id, PrivacyKey.ciphertext.is_not(None), PrivacyKey.subject != SHOP)
        .order_by(AuditEvent.id.desc()).limit(1))
    return subject or SHOP


def _payload(event: InboxEvent) -> dict | None:
    """The body's JSON (the standard library's parser: only ids and an email are read here)."""
    if event.body_erased_at is not None or not event.body:
        return None
    try:
        payload = json.loads(event.body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
