"""Create one Fusion document for one Shopify object, exactly once: the protocol every flow uses.

Fusion has no idempotency keys, webhooks repeat, workers die, and a POST can time out after
Fusion committed it. What keeps a document single:

1. **One binding row** per (shop, kind, Shopify id), unique in the database.
2. **One writer**: a Redis lock per object, kept alive by a heartbeat while the worker runs.
3. **A claim with a lease**: before the create, the binding moves to ``creating`` with a
   compare-and-set from the exact state this worker read, so of two workers only one may post.
   The claim's expiry identifies it; only its holder may park or release it.
4. **A deterministic key**: every document carries a key derived from Shopify (an order GID as
   ``CrossReference``, a customer GID as ``OrigSystemReference``), so it can be looked up.
5. **Adopt on doubt**: after an outcome nobody knows (timeout, reset, a killed worker) the claim is
   kept until its lease ends, so that a late commit in Fusion becomes visible; then the key is
   looked up and what Fusion holds is adopted. A rejection is also checked this way: Fusion may
   refuse a create because an earlier, lost one succeeded.

A :class:`Document` supplies only what differs: its binding kind, its Shopify id and GID, how to
look it up in Fusion and how to create it (and, optionally, what to prepare first and what to do
when the object already has its document). Audit rows ``<label>.created`` and
``<label>.adopted`` are written here, and ``<label>.date_moved`` for each document booked on a
later accounting date because its own was in a closed period.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call, no_open_transaction
from connector.fusion.errors import FusionRejected, FusionUnavailable
from connector.locks import Busy, ObjectLock, object_lock
from connector.mapping.addresses import AddressError
from connector.mapping.invoice import MappingError
from connector.models import Binding, BindingKind, BindingState, utcnow
from connector.redact import redact_text
from connector.services import bindings


@dataclass(frozen=True)
class Lease:
    lock_seconds: float       # an object's lock outlives its dead worker by this much
    create_seconds: float     # the longest a create may be in flight

    @classmethod
    def from_settings(cls, settings) -> "Lease":
        return cls(settings.lock_timeout_seconds, settings.create_lease_seconds)


class Ambiguous(FusionRejected):
    """Fusion holds more than one document for one Shopify object: a person must decide."""


def only_one(found: list[dict], what: str, key: str, number_field: str) -> dict | None:
    """The single document found by a deterministic key; more than one parks the object."""
    if len(found) > 1:
        numbers = ", ".join(str(d.get(number_field)) for d in found)
        raise Ambiguous(f"Fusion holds {len(found)} {what}s for {key}: {numbers}")
    return found[0] if found else None


class Document(ABC):
    """One kind of Fusion document made from one Shopify object."""

    kind: ClassVar[BindingKind]
    label: ClassVar[str]                  # names the audit rows: "<label>.created", "<label>.adopted"
    #: Look the key up before every create, not only after a doubt: customers are matched to
    #: records that exist in Fusion already.
    match_existing: ClassVar[bool] = False
    #: Take the lock even when the object already has its document, to run :meth:`on_synced`.
    follows_changes: ClassVar[bool] = False

    shopify_id: str
    gid: str
    updated_at: str | None = None         # Shopify's version of the object; older ones are no-ops

    def prepare(self) -> None:
        """Work that must succeed before anything is claimed (mapping, the customer …)."""

    def number(self) -> str:
        """The Fusion number the document will have, if it is chosen here (else '')."""
        return ""

    def plan(self) -> dict:
        """What this attempt will post, kept with its claim (``fusion_refs["plan"]``): an attempt
        that later adopts the document binds what was posted, not what it would compute now."""
        return {}

    @abstractmethod
    def find(self) -> dict | None:
        """The document Fusion holds under this object's deterministic key, if any."""

    @abstractmethod
    def create(self) -> dict:
        """Create the document in Fusion and return it as Fusion answered."""

    def complete(self, document: dict) -> dict:
        """Finish what creating the document does not do by itself (apply a receipt, say), and
        return the document as it now stands. Runs after every create or adoption, under the
        lock, with no transaction open, so it must be idempotent: read Fusion's state, then act."""
        return document

    @abstractmethod
    def bind(self, session: Session, binding: Binding, document: dict) -> dict:
        """Copy Fusion's ids into the binding; returns the detail of the audit row."""

    def on_synced(self, session: Session, binding: Binding) -> None:
        """The object has its document already: a repeat, or a change made afterwards."""

    def date_moves(self) -> list[dict]:
        """The documents this attempt booked on a later accounting date than their own (a closed
        period), each as the detail of a ``<label>.date_moved`` audit row."""
        return []


class Status(str, enum.Enum):
    created = "created"       # this call created the document
    adopted = "adopted"       # Fusion had it already (an earlier, lost create; or a match)
    existing = "existing"     # the binding was synced before this call
    skipped = "skipped"       # the object needs no document (decided by its flow)
    stale = "stale"           # a newer version of the object was applied already


@dataclass(frozen=True)
class Outcome:
    binding: Binding
    status: Status


def ensure(redis, session: Session, shop_id: int, doc: Document, lease: Lease) -> Outcome:
    """The synced binding of ``doc``'s Shopify object, creating its Fusion document if needed."""
    binding = bindings.get_or_create(session, shop_id, doc.kind, doc.shopify_id, doc.gid)
    if binding.state == BindingState.skipped:
        return Outcome(binding, Status.skipped)
    if binding.state == BindingState.synced and not doc.follows_changes:
        return Outcome(binding, Status.existing)
    with object_lock(redis, shop_id, doc.kind.value, doc.shopify_id, ttl=lease.lock_seconds) as lock, \
            no_open_transaction(session):
        session.refresh(binding)
        if binding.state == BindingState.skipped:  # decided while this worker waited for the lock
            return Outcome(binding, Status.skipped)
        if bindings.is_stale(binding, doc.updated_at):
            return Outcome(binding, Status.stale)
        if binding.state == BindingState.synced:
            doc.on_synced(session, binding)
            return Outcome(binding, Status.existing)
        doc.prepare()
        session.refresh(binding)
        seen_state, seen_claim = binding.state, binding.claimed_until
        before_remote_call(session)
        if seen_state == BindingState.skipped:
            return Outcome(binding, Status.skipped)
        if seen_state == BindingState.creating and seen_claim and seen_claim > utcnow():
            # another worker's create may still be in flight: its answer decides
            raise Busy(f"a create for {doc.kind.value} {doc.shopify_id} is in flight or its outcome "
                       "is not known yet", retry_after=(seen_claim - utcnow()).total_seconds())
        found = doc.find() if seen_state == BindingState.creating or doc.match_existing else None
        status = Status.adopted
        if found is None:
            claim = _claim(session, binding, seen_state, seen_claim, doc.number(), doc.plan(),
                           timedelta(seconds=lease.create_seconds), lock)
            found, status = _create(session, binding, claim, doc)
        return _record(session, binding, doc, doc.complete(found), status)


def _claim(session: Session, binding: Binding, seen_state: BindingState, seen_claim: datetime | None,
           number: str, plan: dict, lease: timedelta, lock: ObjectLock) -> datetime:
    """Take the right to post, only from the exact state this worker saw.

    Returns the claim (its expiry, which also identifies it); raises Busy if someone else moved first.
    """
    claim = utcnow() + lease
    same_claim = Binding.claimed_until.is_(None) if seen_claim is None else Binding.claimed_until == seen_claim
    claimed = lock.still_held() and session.execute(
        update(Binding).where(Binding.id == binding.id, Binding.state == seen_state, same_claim)
        .values(state=BindingState.creating, claimed_until=claim, fusion_number=number,
                **({"fusion_refs": dict(binding.fusion_refs or {}, plan=plan)} if plan else {}))).rowcount == 1
    session.commit()
    if not claimed:
        raise Busy(f"{binding.kind.value} {binding.shopify_id} changed hands while it was being prepared",
                   retry_after=1)
    return claim


def _create(session: Session, binding: Binding, claim: datetime, doc: Document) -> tuple[dict, Status]:
    """Create, and settle what the answer means for the claim.

    Certainly not created (unavailable, refused connection, or data the document type could not
    map before sending it): the claim is given back at once.
    Uncertain (timeout, reset, 5xx, a killed worker): the claim stays until its lease ends.
    Rejected: adopted if an earlier attempt did land; otherwise parked by the claim's holder, so the
    next attempt need not look it up first.
    """
    try:
        created = doc.create()
    except (FusionUnavailable, MappingError, AddressError):
        bindings.release_claim(session, binding.id, claim)
        raise
    except FusionRejected as rejected:
        found = doc.find()
        if found is None:
            bindings.park(session, binding.shop_id, doc.kind, doc.shopify_id, redact_text(str(rejected)),
                          claim=claim)
            raise
        return found, Status.adopted
    if type(doc).complete is not Document.complete:
        # The document exists for sure now: should completing it fail, the next attempt finds
        # and adopts it at once instead of waiting out the lease.
        bindings.release_claim(session, binding.id, claim)
    return created, Status.created


def _record(session: Session, binding: Binding, doc: Document, document: dict, status: Status) -> Outcome:
    """Bind the object to the document Fusion actually holds."""
    session.refresh(binding)
    detail = doc.bind(session, binding, document)
    binding.state = BindingState.synced
    binding.claimed_until = None
    binding.last_error = ""
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, doc.updated_at)
    audit.record(session, f"{doc.label}.{status.value}", shop_id=binding.shop_id, subject_kind=doc.kind.value,
                 subject_id=binding.shopify_id, **detail)
    for move in doc.date_moves():
        audit.record(session, f"{doc.label}.date_moved", shop_id=binding.shop_id, subject_kind=doc.kind.value,
                     subject_id=binding.shopify_id, **move)
    session.commit()
    return Outcome(binding, status)
