"""The shops the receiver knows and the secrets their webhooks are signed with, held in the process.

Reading them costs a shop look-up and two credential reads, each decrypted: more work than the
insert the receiver exists for, were it done for every webhook. So each process keeps what it
read for ``MLC_SHOP_CACHE_TTL`` seconds. The inbox reads again at once when a signature does not
match what is held, so a rotated secret verifies with its first webhook; the TTL only bounds how
long a secret that was dropped still verifies.

The previous secret is kept because Shopify goes on signing with it for up to an hour after a
rotation, and for no longer: it verifies only until ``MLC_SECRET_ROTATION_WINDOW`` after the
rotation (``shops.secret_rotated_at``), checked against the clock at each webhook, not when the
keys were read. A leaked old secret must not forge webhooks (which workers turn into invoices)
until the next rotation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import Shop, utcnow
from connector.vault import Vault, shop_scope

CURRENT, PREVIOUS = "client_secret", "previous_client_secret"
#: The current secret and, during Shopify's rotation window, the one before it.
SECRET_NAMES = (CURRENT, PREVIOUS)


@dataclass(frozen=True)
class ShopKeys:
    shop_id: int
    current: str | None = field(repr=False)    # never shown in a log line or a traceback
    previous: str | None = field(repr=False)
    previous_until: datetime | None             # the previous secret verifies before this moment
    read_at: float

    def secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets a webhook arriving ``now`` may be signed with."""
        kept = [self.current]
        if self.previous_until is not None and now < self.previous_until:
            kept.append(self.previous)
        return tuple(s for s in kept if s)


class WebhookKeys:
    """One per process; threads share it (a lost race only costs a second read)."""

    def __init__(self, vault: Vault, ttl_seconds: float, rotation_window_seconds: float = 3600,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow):
        self._vault, self._ttl, self._clock, self.now = vault, ttl_seconds, clock, now
        self._window = timedelta(seconds=rotation_window_seconds)
        self._held: dict[str, ShopKeys] = {}

    def held(self, domain: str) -> ShopKeys | None:
        """What was read for ``domain`` less than the TTL ago, without touching the database."""
        keys = self._held.get(domain)
        return keys if keys is not None and self._clock() - keys.read_at < self._ttl else None

    def read(self, session: Session, domain: str) -> ShopKeys | None:
        """The shop and its secrets as stored now (None for an unknown shop), held from now on."""
        shop = session.execute(select(Shop.id, Shop.secret_rotated_at).where(Shop.domain == domain)).first()
        if shop is None:
            self._held.pop(domain, None)
            return None
        current, previous = (self._vault.get(session, shop_scope(domain), name) for name in SECRET_NAMES)
        until = shop.secret_rotated_at + self._window if shop.secret_rotated_at and previous else None
        keys = ShopKeys(shop.id, current, previous, until, self._clock())
        self._held[domain] = keys
        return keys
