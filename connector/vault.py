"""Credentials encrypted at rest with Fernet.

``MLC_ENCRYPTION_KEYS`` lists Fernet keys: the first encrypts, all decrypt, so a key is rotated by
putting a new key first, running ``ml-connector keys rotate`` (re-encrypts every row), then
dropping the old key.
"""
from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connector.config import ConfigError
from connector.models import Credential

#: Read for every task (the Fusion secret) and every paid order (the shop's): built once.
_CREDENTIAL = select(Credential).where(Credential.scope == bindparam("scope"), Credential.name == bindparam("name"))


class VaultError(RuntimeError):
    pass


def generate_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise ConfigError("MLC_ENCRYPTION_KEYS is empty: set it to one or more Fernet keys "
                              "(generate one with `ml-connector keys generate`)")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError):
            raise ConfigError("MLC_ENCRYPTION_KEYS holds a value that is not a Fernet key") from None
        self._decrypted = lru_cache(maxsize=1024)(self._open)  # per vault: its keys decide what opens

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        """The plaintext of a stored token. Remembered by token for the process (the same
        ciphertext always opens to the same plaintext): a worker reads the Fusion secret and a
        data subject's key for every task, and a Fernet token's HMAC and AES cost more than the
        row's read. A rotated or re-encrypted row is a new token, decrypted afresh."""
        return self._decrypted(bytes(ciphertext))

    def _open(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise VaultError("a stored credential cannot be decrypted with MLC_ENCRYPTION_KEYS") from None

    def put(self, session: Session, scope: str, name: str, secret: str) -> None:
        row = session.scalar(select(Credential).where(Credential.scope == scope, Credential.name == name))
        if row is None:
            session.add(Credential(scope=scope, name=name, ciphertext=self.encrypt(secret)))
        else:
            row.ciphertext = self.encrypt(secret)

    def get(self, session: Session, scope: str, name: str) -> str | None:
        row = session.scalar(_CREDENTIAL, {"scope": scope, "name": name})
        return None if row is None else self.decrypt(row.ciphertext)

    def rotate(self, session: Session) -> int:
        """Re-encrypt every credential with the first key; returns how many rows were rewritten."""
        rows = session.scalars(select(Credential)).all()
        for row in rows:
            row.ciphertext = self._fernet.rotate(row.ciphertext)
        return len(rows)


def shop_scope(domain: str) -> str:
    return f"shop:{domain}"


def fusion_scope(pod: str = "default") -> str:
    return f"fusion:{pod}"
