"""One key per data subject, so that erasing a person never means rewriting the audit trail.

The audit trail is append-only and hash-chained: a row cannot be edited to remove a name. Instead
each customer (or guest checkout, or the shop itself for what names no customer) gets a Fernet
key of their own; the personal fields of their audit rows are encrypted under it, and erasure
destroys the key. What it sealed is then unreadable for good, and the chain still verifies
because the ciphertext never changed (crypto-shredding).

Keys are stored encrypted under ``MLC_ENCRYPTION_KEYS`` (the vault), created on first use, and
decrypted for one unit of work at a time: nothing keeps a key in memory beyond the event it
seals, so a destroyed key is gone from every worker once their current event ends.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String, bindparam, cast, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.models import PrivacyKey, utcnow
from connector.vault import Vault

SHOP = "shop"

_INSERTS = {name: insert(PrivacyKey.__table__).on_conflict_do_nothing(index_elements=["shop_id", "subject"])
            for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}


def customer_subject(customer_id: str) -> str:
    return f"customer:{customer_id}"


def guest_subject(shop_id: int, email: str) -> str:
    """A guest checkout is known by its email address alone; the key row names it by a digest,
    and erasure replaces even that."""
    digest = hashlib.sha256(f"{shop_id}:{email.strip().lower()}".encode()).hexdigest()
    return f"guest:{digest}"


#: A subject's live key, looked up for every task: built once (building and keying a statement
#: cost more CPU than running it).
_LIVE = select(PrivacyKey).where(PrivacyKey.shop_id == bindparam("shop_id"), PrivacyKey.subject == bindparam("subject"),
                                 PrivacyKey.ciphertext.is_not(None))


@dataclass(frozen=True)
class SubjectKey:
    """A data subject's key, opened for one unit of work."""

    id: int
    subject: str
    fernet: Fernet

    @property
    def is_shop(self) -> bool:
        return self.subject == SHOP

    def seal(self, fields: dict) -> bytes:
        return self.fernet.encrypt(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode())

    def open(self, token: bytes) -> dict:
        return json.loads(self.fernet.decrypt(token))


class Keyring:
    """The data-subject keys of the connector's database, opened with the vault."""

    def __init__(self, vault: Vault):
        self.vault = vault

    def key(self, session: Session, shop_id: int, subject: str) -> SubjectKey:
        """The live key of ``subject`` in the shop, made on first use (two workers racing make one)."""
        row = self._live(session, shop_id, subject)
        if row is None:
            session.execute(_INSERTS[session.get_bind().dialect.name],
                            {"shop_id": shop_id, "subject": subject, "created_at": utcnow(),
                             "ciphertext": self.vault.encrypt(Fernet.generate_key().decode())})
            row = self._live(session, shop_id, subject)
        return SubjectKey(row.id, row.subject, Fernet(self.vault.decrypt(row.ciphertext).encode()))

    def shop_key(self, session: Session, shop_id: int) -> SubjectKey:
        return self.key(session, shop_id, SHOP)

    def opened(self, session: Session, key_id: int) -> SubjectKey | None:
        """The key with this id, or None once destroyed."""
        row = session.get(PrivacyKey, key_id)
        if row is None or row.ciphertext is None:
            return None
        return SubjectKey(row.id, row.subject, Fernet(self.vault.decrypt(row.ciphertext).encode()))

    def open_sealed(self, session: Session, key_id: int | None, token: bytes | None) -> dict | None:
        """The personal fields sealed in ``token``, or None when their key was destroyed."""
        if token is None or key_id is None:
            return {}
        key = self.opened(session, key_id)
        if key is None:
            return None
        try:
            return key.open(token)
        except InvalidToken:
            return None

    def rotate(self, session: Session) -> int:
        """Re-encrypt every live key with the first of ``MLC_ENCRYPTION_KEYS``."""
        rows = session.scalars(select(PrivacyKey).where(PrivacyKey.ciphertext.is_not(None))).all()
        for row in rows:
            row.ciphertext = self.vault.encrypt(self.vault.decrypt(row.ciphertext))
        return len(rows)

    @staticmethod
    def _live(session: Session, shop_id: int, subject: str) -> PrivacyKey | None:
        return session.scalar(_LIVE, {"shop_id": shop_id, "subject": subject})


def find(session: Session, shop_id: int, subjects: Iterable[str]) -> list[int]:
    """The ids of the live keys of these subjects."""
    subjects = list(subjects)
    if not subjects:
        return []
    return list(session.scalars(select(PrivacyKey.id).where(
        PrivacyKey.shop_id == shop_id, PrivacyKey.subject.in_(subjects), PrivacyKey.ciphertext.is_not(None))))


def destroy(session: Session, key_ids: Iterable[int]) -> int:
    """Destroy keys for good: what they sealed can no longer be read by anyone.

    The row stays (audit rows refer to it by id) but holds neither the key nor whom it was for.
    """
    ids = sorted(set(key_ids))
    if not ids:
        return 0
    return session.execute(
        update(PrivacyKey).where(PrivacyKey.id.in_(ids), PrivacyKey.ciphertext.is_not(None))
        .values(ciphertext=None, subject="erased:" + cast(PrivacyKey.id, String),
                destroyed_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
