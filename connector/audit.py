"""The audit trail: one append-only row per thing that came in, went out or came back.

Rows are never changed or deleted (the database refuses it) and are hash-chained by
:mod:`connector.audit_chain`. Personal data must still be erasable, so it never sits in a row in
clear: the fields that carry it (:data:`PERSONAL`: payloads sent and received, free-text errors
and messages, query strings) are encrypted under the data subject's key
(:mod:`connector.subject_keys`) into ``sealed``, and erasure destroys the key. The rest of
``detail`` (actions, ids, numbers, statuses, timings) stays readable for good.

Whose key: the one the processing loop opened for the event at hand (:func:`sealing`), else the
shop's own key. With no key at hand the personal fields are not stored at all (:data:`WITHHELD`).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Iterator

from sqlalchemy.orm import Session

from connector.models import AuditEvent
from connector.redact import redact
from connector.subject_keys import Keyring, SubjectKey, guest_subject

log = logging.getLogger(__name__)

#: Detail fields that may carry personal data: sealed under the data subject's key.
PERSONAL = frozenset({"request", "response", "error", "message", "previous_error", "body_excerpt", "query"})
WITHHELD = "[withheld: no key to seal it]"
ERASED = "[erased]"
#: A guest's binding key is its email address, or its phone number (``[customers]
#: guest_without_email = "phone_party"``); an audit row names the guest by key id instead.
_GUEST = ("email:", "phone:")

_subject_key: ContextVar[SubjectKey | None] = ContextVar("mlc_audit_subject_key", default=None)
_installed: list[Keyring] = []


def record(session: Session, action: str, *, shop_id: int | None = None, subject_kind: str = "",
           subject_id: str = "", **detail: Any) -> None:
    """Add an audit row to the current transaction, with secrets redacted and personal fields sealed."""
    detail = redact(_jsonable(detail))
    personal = _personal(detail)
    subject_id = str(subject_id)
    key = _key(session, shop_id, subject_id) if personal or subject_id.startswith(_GUEST) else None
    if subject_id.startswith(_GUEST):
        subject_id = f"guest:{key.id}" if key is not None else "guest"
    sealed = None
    if personal:
        if key is not None:
            sealed = key.seal(personal)
        else:
            detail.update(dict.fromkeys(personal, WITHHELD))
    session.add(AuditEvent(shop_id=shop_id, subject_kind=subject_kind, subject_id=subject_id, action=action,
                           detail=detail, key_id=key.id if key is not None else None, sealed=sealed))


@contextmanager
def sealing(key: SubjectKey | None) -> Iterator[None]:
    """Seal the personal fields of every row recorded inside the block under ``key``."""
    token = _subject_key.set(key)
    try:
        yield
    finally:
        _subject_key.reset(token)


def opened(session: Session, keyring: Keyring, row: AuditEvent) -> dict:
    """The row's detail with its sealed fields opened; :data:`ERASED` in their place once the
    subject's key was destroyed."""
    if row.sealed is None:
        return dict(row.detail)
    fields = keyring.open_sealed(session, row.key_id, row.sealed)
    return {**row.detail, **(fields if fields is not None else {"sealed": ERASED})}


@contextmanager
def keyring_in_use(keyring: Keyring) -> Iterator[None]:
    """Seal under ``keyring`` instead of the one ``MLC_ENCRYPTION_KEYS`` opens (tests, tools)."""
    _installed.append(keyring)
    try:
        yield
    finally:
        _installed.remove(keyring)


def _key(session: Session, shop_id: int | None, subject_id: str) -> SubjectKey | None:
    """The event's key; for a row about a guest, that guest's (a beat job has no event at hand);
    else the shop's."""
    key = _subject_key.get()
    guest = guest_subject(shop_id, subject_id.removeprefix("email:")) \
        if shop_id is not None and subject_id.startswith(_GUEST) else None
    if shop_id is None or (key is not None and guest in (None, key.subject)):
        return key
    keyring = _installed[-1] if _installed else _settings_keyring()
    if keyring is None:
        return None
    return keyring.key(session, shop_id, guest) if guest else keyring.shop_key(session, shop_id)


def _settings_keyring() -> Keyring | None:
    from connector.config import load_settings
    return _keyring_of(load_settings().encryption_keys)


@lru_cache(maxsize=4)
def _keyring_of(keys: tuple[str, ...]) -> Keyring | None:
    from connector.config import ConfigError
    from connector.vault import Vault
    try:
        return Keyring(Vault(keys))
    except ConfigError:
        log.warning("MLC_ENCRYPTION_KEYS is not set: personal fields of audit rows are withheld")
        return None


def _personal(detail: dict) -> dict:
    """Take the personal fields that hold something out of ``detail`` (empty ones say nothing and
    stay); a URL keeps its path, its query string is personal (a search by email address)."""
    url = detail.get("url")
    if isinstance(url, str) and "?" in url:
        detail["url"], detail["query"] = url.split("?", 1)
    return {name: detail.pop(name) for name in sorted(PERSONAL & detail.keys())
            if detail[name] not in (None, "", [], {})}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)  # Decimal amounts keep every digit as text
