"""Everything the connector's own tables hold about one customer of one shop.

Shared by the export (``customers/data_request``, ``ml-connector privacy export``) and by
erasure (``customers/redact``), so that what is erased is exactly what an export shows, plus,
for erasure only, bodies that merely mention the customer's email address.

A customer is named by Shopify's customer id, an email address, or both, and by the orders a
request lists. From there the search follows what the tables hold:
- inbox events: the customer's own events, their orders' events (a customer's, or a guest's by
  email), the refunds of those orders, the compliance requests about them; found by the body (a
  text pre-filter, then the parsed JSON decides) and, for bodies already erased, by object id;
- bindings: the customer (by id, or ``email:<address>`` / ``phone:<E.164>`` for a guest) and each order's invoice,
  receipts, credit and debit memos;
- audit rows: those sealed under the customer's keys, and those about the customer's objects;
- processing attempts of those inbox events.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from connector import flows
from connector.mapping import phones
from connector.models import (
    AuditEvent,
    Binding,
    BindingKind,
    InboxEvent,
    PrivacyKey,
    ProcessingAttempt,
    Shop,
)
from connector.subject_keys import SHOP, customer_subject, guest_subject

_ORDER, _CUSTOMER, _REFUND = BindingKind.order.value, BindingKind.customer.value, BindingKind.refund.value


@dataclass(frozen=True)
class Request:
    """Who a privacy request is about, as Shopify (or an operator) names them."""

    customer_id: str = ""
    email: str = ""
    order_ids: tuple[str, ...] = ()
    phone: str = ""          # E.164: a guest billed to a person per phone number (``phone_party``)

    @classmethod
    def of(cls, customer_id="", email="", order_ids=(), phone="") -> "Request":
        return cls(str(customer_id or "").strip(), (email or "").strip().lower(),
                   tuple(sorted({str(o) for o in order_ids or () if o not in (None, "")})),
                   phones.to_e164(str(phone or "")) or "")

    @property
    def empty(self) -> bool:
        return not (self.customer_id or self.email or self.order_ids or self.phone)


@dataclass
class Footprint:
    shop: Shop
    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)     # E.164 numbers of phone-party guests
    order_ids: set[str] = field(default_factory=set)
    refund_ids: set[str] = field(default_factory=set)
    events: list[InboxEvent] = field(default_factory=list)
    mentions: list[InboxEvent] = field(default_factory=list)  # other events whose body names the email
    bindings: list[Binding] = field(default_factory=list)
    key_ids: set[int] = field(default_factory=set)

    @property
    def event_ids(self) -> list[int]:
        return sorted({e.id for e in self.events} | {e.id for e in self.mentions})

    def audit_rows(self, session: Session) -> list[AuditEvent]:
        """The audit rows sealed under the customer's keys or about the customer's objects."""
        about = [and_(AuditEvent.subject_kind == kind, AuditEvent.subject_id.in_(sorted(ids)))
                 for kind, ids in self._objects().items() if ids]
        if self.key_ids:
            about.append(AuditEvent.key_id.in_(sorted(self.key_ids)))
        if not about:
            return []
        return list(session.scalars(select(AuditEvent).where(AuditEvent.shop_id == self.shop.id, or_(*about))
                                    .order_by(AuditEvent.id)))

    def attempts(self, session: Session) -> list[ProcessingAttempt]:
        ids = [e.id for e in self.events]
        if not ids:
            return []
        return list(session.scalars(select(ProcessingAttempt).where(ProcessingAttempt.inbox_id.in_(ids))
                                    .order_by(ProcessingAttempt.id)))

    def _objects(self) -> dict[str, set[str]]:
        by_kind: dict[str, set[str]] = {_CUSTOMER: set(self.customer_ids), _ORDER: set(self.order_ids),
                                        _REFUND: set(self.refund_ids)}
        for binding in self.bindings:
            by_kind.setdefault(binding.kind.value, set()).add(binding.shopify_id)
        return by_kind


def find(session: Session, shop: Shop, request: Request, *, mentions: bool = False) -> Footprint:
    """What is stored about the customer ``request`` names; with ``mentions``, also the other
    events whose body contains one of the customer's email addresses (for erasure)."""
    found = Footprint(shop, customer_ids={request.customer_id} - {""}, emails={request.email} - {""},
                      phones={request.phone} - {""}, order_ids=set(request.order_ids))
    if request.empty:
        return found
    matched: dict[int, InboxEvent] = {}
    searched: set[str] = set()
    while True:  # an order found brings its refunds; a customer found brings its email addresses
        tokens = (found.customer_ids | found.emails | found.phones | found.order_ids | found.refund_ids) - searched
        if not tokens:
            break
        searched |= tokens
        for event in _candidates(session, shop.id, tokens):
            if event.id not in matched and _belongs(event, found):
                matched[event.id] = event
    for event in _by_object(session, shop.id, found):
        matched.setdefault(event.id, event)
    found.events = sorted(matched.values(), key=lambda e: e.id)
    if mentions and found.emails:
        found.mentions = [e for e in _candidates(session, shop.id, found.emails) if e.id not in matched]
    found.bindings = _bindings(session, shop.id, found)
    found.key_ids = _keys(session, shop.id, found)
    return found


def _candidates(session: Session, shop_id: int, tokens: set[str]) -> list[InboxEvent]:
    """Stored bodies that contain one of ``tokens`` as text: a superset, decided by :func:`_belongs`."""
    body = func.lower(InboxEvent.body)
    return list(session.scalars(select(InboxEvent).where(
        InboxEvent.shop_id == shop_id, InboxEvent.body_erased_at.is_(None),
        or_(*[body.contains(token.lower(), autoescape=True) for token in sorted(tokens)])).order_by(InboxEvent.id)))


def _belongs(event: InboxEvent, found: Footprint) -> bool:
    """Whether the event is about the customer; records the orders, refunds and addresses it names."""
    try:
        payload = json.loads(event.body)
    except ValueError:
        return False
    if not isinstance(payload, dict):
        return False
    kind = flows.kind_of(event.topic)
    named = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    named_id = str(named.get("id") or "")
    email = str(payload.get("email") or payload.get("contact_email") or named.get("email") or "").strip().lower()
    own_id = str(payload.get("id") or "")
    if kind == _CUSTOMER and not named and own_id:  # the customer record itself
        if own_id not in found.customer_ids and not (email and email in found.emails):
            return False
        found.customer_ids.add(own_id)
        if email:
            found.emails.add(email)
        return True
    if kind == _REFUND:
        if str(payload.get("order_id") or "") not in found.order_ids:
            return False
        if own_id:
            found.refund_ids.add(own_id)
        return True
    # an order with neither customer nor email may be a phone party's (written in E.164 to be found)
    phone = (phones.order_phone(payload) or "") if kind == _ORDER and not named_id and not email else ""
    about = (named_id and named_id in found.customer_ids) or (email and email in found.emails) \
        or (kind == _ORDER and own_id in found.order_ids) or (phone and phone in found.phones)
    if not about:
        return False
    if phone:
        found.phones.add(phone)
    if kind == _ORDER and own_id:
        found.order_ids.add(own_id)
    if named_id and kind == _ORDER:
        found.customer_ids.add(named_id)
    if email:
        found.emails.add(email)
    return True


def _by_object(session: Session, shop_id: int, found: Footprint) -> list[InboxEvent]:
    """Events whose body is already erased, found by the object they were about."""
    wanted = [(flows.topics_of(BindingKind.customer), found.customer_ids),
              (flows.topics_of(BindingKind.order), found.order_ids),
              (flows.topics_of(BindingKind.refund), found.refund_ids)]
    clauses = [and_(InboxEvent.topic.in_(topics), InboxEvent.resource_id.in_(sorted(ids)))
               for topics, ids in wanted if ids]
    if not clauses:
        return []
    return list(session.scalars(select(InboxEvent).where(InboxEvent.shop_id == shop_id, or_(*clauses))))


def _bindings(session: Session, shop_id: int, found: Footprint) -> list[Binding]:
    customers = found.customer_ids | {f"email:{e}" for e in found.emails} | {f"phone:{p}" for p in found.phones}
    clauses = []
    if customers:
        clauses.append(and_(Binding.kind == BindingKind.customer, Binding.shopify_id.in_(sorted(customers))))
    if found.order_ids:
        clauses.append(and_(Binding.kind == BindingKind.order, Binding.shopify_id.in_(sorted(found.order_ids))))
        # edits, and receipts entered in Fusion pushed to the order: "<order id>:<n>"
        clauses += [and_(Binding.kind.in_([BindingKind.adjustment, BindingKind.fusion_receipt]),
                         Binding.shopify_id.startswith(f"{o}:", autoescape=True))
                    for o in sorted(found.order_ids)]
        # receipts and credit memos name their order in fusion_refs: pre-filter as text, then exactly
        refs = cast(Binding.fusion_refs, String)
        clauses.append(and_(Binding.kind.in_([BindingKind.payment, BindingKind.refund]),
                            or_(*[refs.contains(o, autoescape=True) for o in sorted(found.order_ids)])))
    if found.refund_ids:
        clauses.append(and_(Binding.kind == BindingKind.refund, Binding.shopify_id.in_(sorted(found.refund_ids))))
    if not clauses:
        return []
    rows = session.scalars(select(Binding).where(Binding.shop_id == shop_id, or_(*clauses)).order_by(Binding.id))
    return [b for b in rows if b.kind not in (BindingKind.payment, BindingKind.refund)
            or b.shopify_id in found.refund_ids or str((b.fusion_refs or {}).get("order_id", "")) in found.order_ids]


def _keys(session: Session, shop_id: int, found: Footprint) -> set[int]:
    """The customer's live keys: by subject, and any its orders' audit rows were sealed under
    (never the shop's own key)."""
    subjects = {customer_subject(c) for c in found.customer_ids} | {guest_subject(shop_id, e) for e in found.emails} \
        | {guest_subject(shop_id, f"phone:{p}") for p in found.phones}
    keys = set(session.scalars(select(PrivacyKey.id).where(
        PrivacyKey.shop_id == shop_id, PrivacyKey.subject.in_(sorted(subjects)), PrivacyKey.ciphertext.is_not(None))))
    if found.order_ids:
        keys |= set(session.scalars(select(AuditEvent.key_id).join(PrivacyKey, PrivacyKey.id == AuditEvent.key_id).where(
            AuditEvent.shop_id == shop_id, AuditEvent.subject_kind == _ORDER,
            AuditEvent.subject_id.in_(sorted(found.order_ids)), PrivacyKey.subject != SHOP,
            PrivacyKey.ciphertext.is_not(None)).distinct()))
    return keys
