"""Erasing a customer's (or a whole shop's) personal data from the connector's own tables.

Run as soon as ``customers/redact`` or ``shop/redact`` is processed (Shopify's deadlines are the
latest it may happen, not the plan), in one transaction:
- inbox events about the customer, and any other whose body names their email address: the body
  is erased (``body_erased_at``); the receipt (ids, topic, times) stays. Their error texts and
  those of their processing attempts, which may quote the data, are emptied;
- bindings: a guest's is keyed by the email address, which is replaced by ``erased:<id>``; every
  one loses its error text. The Fusion ids stay: they are the merchant's accounting references;
- audit rows are never changed: the customer's keys are destroyed, so the personal fields
  sealed under them can never be read again, and the hash chain still verifies.

What Fusion holds is the merchant's accounting record and stays (docs/privacy.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from connector import audit, subject_keys
from connector.models import (
    Binding,
    BindingKind,
    Credential,
    InboxEvent,
    PrivacyKey,
    ProcessingAttempt,
    Shop,
    utcnow,
)
from connector.services import footprint
from connector.vault import shop_scope

ERASED_BINDING = "erased:"


@dataclass(frozen=True)
class Erased:
    events: int
    bindings: int
    keys: int
    attempts: int

    def counts(self) -> dict[str, int]:
        return {"inbox_events": self.events, "bindings": self.bindings, "keys": self.keys,
                "attempts": self.attempts}


def erase_customer(session: Session, shop: Shop, request: footprint.Request) -> Erased:
    """Erase what the tables hold about the customer; the caller commits."""
    found = footprint.find(session, shop, request, mentions=True)
    event_ids = found.event_ids
    erased = Erased(events=_erase_bodies(session, InboxEvent.id.in_(event_ids)) if event_ids else 0,
                    bindings=_anonymise(found.bindings),
                    keys=subject_keys.destroy(session, found.key_ids),
                    attempts=_clear_attempts(session, ProcessingAttempt.inbox_id.in_(event_ids)) if event_ids else 0)
    # ids only: after restoring a backup taken before now, these say what to erase again
    audit.record(session, "privacy.customer_erased", shop_id=shop.id, subject_kind=BindingKind.customer.value,
                 subject_id=request.customer_id, orders=len(found.order_ids), inbox_ids=event_ids,
                 key_ids=sorted(found.key_ids), **erased.counts())
    return erased


def erase_shop(session: Session, shop: Shop) -> Erased:
    """Erase the personal data of every customer of the shop, and the shop's credentials (the
    app is uninstalled: Shopify sends ``shop/redact`` 48 hours after). The caller commits."""
    events = _erase_bodies(session, InboxEvent.shop_id == shop.id)
    attempts = _clear_attempts(session, ProcessingAttempt.inbox_id.in_(
        select(InboxEvent.id).where(InboxEvent.shop_id == shop.id)))
    bindings = _anonymise(list(session.scalars(select(Binding).where(Binding.shop_id == shop.id))))
    keys = subject_keys.destroy(session, session.scalars(select(PrivacyKey.id).where(
        PrivacyKey.shop_id == shop.id, PrivacyKey.ciphertext.is_not(None))).all())
    credentials = session.execute(delete(Credential).where(Credential.scope == shop_scope(shop.domain))).rowcount
    erased = Erased(events=events, bindings=bindings, keys=keys, attempts=attempts)
    audit.record(session, "privacy.shop_erased", shop_id=shop.id, credentials=credentials, **erased.counts())
    return erased


def _erase_bodies(session: Session, which) -> int:
    return session.execute(
        update(InboxEvent).where(which).where((InboxEvent.body != "") | (InboxEvent.last_error != ""))
        .values(body="", last_error="", body_erased_at=func.coalesce(InboxEvent.body_erased_at, utcnow()))
        .execution_options(synchronize_session=False)).rowcount


def _clear_attempts(session: Session, which) -> int:
    return session.execute(update(ProcessingAttempt).where(which, ProcessingAttempt.error != "")
                           .values(error="").execution_options(synchronize_session=False)).rowcount


#: What a customer binding keeps of its addresses and name: digests (which BILL_TO site is at which
#: address, what was last pushed to the person). Only a cache: without it, sites are found in Fusion.
_DIGESTS = frozenset({"sites", "person"})


def _anonymise(bindings: list[Binding]) -> int:
    changed = 0
    for binding in bindings:
        guest = binding.kind == BindingKind.customer and binding.shopify_id.startswith(("email:", "phone:"))
        digests = binding.kind == BindingKind.customer and bool(_DIGESTS & set(binding.fusion_refs or {}))
        if not (guest or binding.last_error or digests):
            continue
        if guest:
            binding.shopify_id = f"{ERASED_BINDING}{binding.id}"
            binding.shopify_gid = ""
        if digests:
            binding.fusion_refs = {k: v for k, v in binding.fusion_refs.items() if k not in _DIGESTS}
        binding.last_error = ""
        changed += 1
    return changed

