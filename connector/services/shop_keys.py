"""The shops the receiver knows and the secrets their webhooks are signed with, held in the process.

Reading them costs a shop look-up and two credential reads, each decrypted: more work than the
insert the receiver exists for, were it done for every webhook. So each process keeps what it
read for ``MLC_SHOP_CACHE_TTL`` seconds. The inbox reads again at once when a signature does not
match what is held, so a rotated secret verifies with its first webhook; the TTL only bounds how
long a secret that was dropped still verifies.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import Shop
from connector.vault import Vault, shop_scope

#: The current secret and, during Shopify's rotation window, the one before it.
SECRET_NAMES = ("client_secret", "previous_client_secret")


@dataclass(frozen=True)
class ShopKeys:
    shop_id: int
    secrets: tuple[str, ...] = field(repr=False)  # never shown in a log line or a traceback
    read_at: float


class WebhookKeys:
    """One per process; threads share it (a lost race only costs a second read)."""

    def __init__(self, vault: Vault, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._vault, self._ttl, self._clock = vault, ttl_seconds, clock
        self._held: dict[str, ShopKeys] = {}

    def held(self, domain: str) -> ShopKeys | None:
        """What was read for ``domain`` less than the TTL ago, without touching the database."""
        keys = self._held.get(domain)
        return keys if keys is not None and self._clock() - keys.read_at < self._ttl else None

    def read(self, session: Session, domain: str) -> ShopKeys | None:
        """The shop and its secrets as stored now (None for an unknown shop), held from now on."""
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain))
        if shop_id is None:
            self._held.pop(domain, None)
            return None
        secrets = (self._vault.get(session, shop_scope(domain), name) for name in SECRET_NAMES)
        keys = ShopKeys(shop_id, tuple(s for s in secrets if s), self._clock())
        self._held[domain] = keys
        return keys
