"""An export of everything the connector holds about one customer (``customers/data_request``).

The merchant answers a customer's request for their data; Shopify asks each app for its part.
Ours is every stored webhook body about the customer, the bindings that link their Shopify
objects to Fusion documents, every audit row about them with its sealed fields opened, and
every processing attempt of their events. What Fusion holds (the customer party, account and
the invoices) is the merchant's to export from Fusion: the document says so.

The file holds personal data: it is written with mode 0600 into a directory of mode 0700, and
only its name, size and digest reach the audit trail.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import simplejson
from sqlalchemy.orm import Session

from connector import audit, jsonutil
from connector.models import (
    AuditEvent,
    Binding,
    InboxEvent,
    ProcessingAttempt,
    Shop,
    utcnow,
)
from connector.private_files import write_private
from connector.services import footprint
from connector.subject_keys import Keyring

HELD_ELSEWHERE = ("Oracle Fusion holds the merchant's accounting records made from these events: the "
                  "customer's person, account and bill-to site, invoices, receipts and credit and debit "
                  "memos. They are the merchant's records under their retention duty, exported from Fusion "
                  "(docs/privacy.md).")


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str
    counts: dict[str, int]


def build(session: Session, keyring: Keyring, shop: Shop, request: footprint.Request) -> dict:
    """The export as a JSON-ready document."""
    found = footprint.find(session, shop, request)
    return {
        "shop": shop.domain,
        "request": {"customer_id": request.customer_id, "email": request.email,
                    "order_ids": list(request.order_ids)},
        "generated_at": utcnow().isoformat(),
        "inbox_events": [_event(e) for e in found.events],
        "processing_attempts": [_attempt(a) for a in found.attempts(session)],
        "bindings": [_binding(b) for b in found.bindings],
        "audit_events": [_audit(session, keyring, row) for row in found.audit_rows(session)],
        "held_elsewhere": HELD_ELSEWHERE,
    }


def dumps(document: dict) -> str:
    return simplejson.dumps(document, use_decimal=True, indent=2, ensure_ascii=False, default=_iso)


def write(directory: Path, name: str, document: dict) -> Written:
    """Write the export as ``directory/name``, whole or not at all, readable by its owner only."""
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the export root, when it is new
    directory.mkdir(mode=0o700, exist_ok=True)
    data = dumps(document).encode()
    path = write_private(directory / name, data)
    counts = {part: len(document[part]) for part in ("inbox_events", "processing_attempts", "bindings",
                                                     "audit_events")}
    return Written(path, hashlib.sha256(data).hexdigest(), counts)


def _event(event: InboxEvent) -> dict:
    return {"id": event.id, "topic": event.topic, "event_id": event.event_id, "webhook_id": event.webhook_id,
            "triggered_at": event.triggered_at, "received_at": event.received_at, "state": event.state.value,
            "processed_at": event.processed_at, "last_error": event.last_error,
            "body": _body(event.body) if event.body_erased_at is None else None,
            "body_erased_at": event.body_erased_at}


def _body(text: str):
    try:
        return jsonutil.loads(text)
    except ValueError:
        return text


def _attempt(attempt: ProcessingAttempt) -> dict:
    return {"inbox_id": attempt.inbox_id, "number": attempt.number, "started_at": attempt.started_at,
            "finished_at": attempt.finished_at, "outcome": attempt.outcome.value if attempt.outcome else "",
            "error": attempt.error, "fusion_calls": attempt.fusion_calls}


def _binding(binding: Binding) -> dict:
    return {"kind": binding.kind.value, "shopify_id": binding.shopify_id, "shopify_gid": binding.shopify_gid,
            "state": binding.state.value, "fusion_id": binding.fusion_id, "fusion_number": binding.fusion_number,
            "fusion_refs": binding.fusion_refs, "last_error": binding.last_error,
            "created_at": binding.created_at, "updated_at": binding.updated_at}


def _audit(session: Session, keyring: Keyring, row: AuditEvent) -> dict:
    return {"id": row.id, "occurred_at": row.occurred_at, "action": row.action, "subject_kind": row.subject_kind,
            "subject_id": row.subject_id, "detail": audit.opened(session, keyring, row)}


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
