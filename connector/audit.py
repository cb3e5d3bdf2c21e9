"""The audit trail: one append-only row per thing that came in, went out or came back."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connector.models import AuditEvent
from connector.redact import redact


def record(session: Session, action: str, *, shop_id: int | None = None, subject_kind: str = "",
           subject_id: str = "", **detail: Any) -> None:
    """Add an audit row to the current transaction, with secrets redacted."""
    session.add(AuditEvent(shop_id=shop_id, subject_kind=subject_kind, subject_id=str(subject_id),
                           action=action, detail=redact(_jsonable(detail))))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)  # Decimal amounts keep every digit as text
