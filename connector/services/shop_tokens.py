"""A shop's Admin API token, shared by every worker: stored encrypted, refreshed before it
expires and once after a 401, by one worker at a time.

Refresh is single-flight per shop across all workers and machines: whoever needs a fresh token
takes the shop's Redis lock, reads the stored token again (another worker may have refreshed it
meanwhile: then that one is used and Shopify is not asked) and only otherwise asks Shopify. An
expiring offline token's refresh token rotates on every refresh, so the new pair, its expiry
times and the state are written in one transaction: a worker never reads a new access token with
an old refresh token. Should the answer be lost (a crash between Shopify's answer and the
commit), the old refresh token still works until its replacement is used (Shopify's 2026-08-28
change), so the next refresh recovers.

Modes (``shops.token_mode``): ``client_credentials`` (the grant, repeated before expiry),
``expiring`` (expiring offline token plus refresh token) and ``offline`` (never expires: a 401
means revoked). A refusal that retrying cannot cure marks the shop "reauthorize"
(:mod:`connector.services.shop_auth`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.exceptions import LockError, RedisError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector import audit
from connector.config import ConfigError
from connector.db import session_scope
from connector.http import new_session
from connector.models import AuthState, Credential, Shop, TokenMode, utcnow
from connector.services import shop_auth
from connector.shopify import oauth
from connector.shopify.client import (
    ReauthorizationRequired,
    ShopConnection,
    ShopifyError,
)
from connector.vault import shop_scope

log = logging.getLogger(__name__)

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


def lock_key(domain: str) -> str:
    return f"mlc:shopify:token-refresh:{domain}"


@dataclass(frozen=True)
class Held:
    """The shop's token as stored (never logged: no repr of the tokens)."""

    mode: str
    state: str
    reason: str
    access_token: str
    refresh_token: str
    expires_at: datetime | None

    def __repr__(self) -> str:
        return f"Held(mode={self.mode!r}, state={self.state!r}, expires_at={self.expires_at})"


class StoredTokens:
    """The :class:`connector.shopify.client.TokenSource` of a worker's client for one shop."""

    def __init__(self, services, connection: ShopConnection):
        self._services = services
        self._connection = connection
        self._domain = connection.domain
        self._session = new_session()
        self._held: Held | None = None
        connect, read = services.settings.http_timeout
        # longer than one grant can take, so that a live refresher never loses its lock
        self._lock_ttl = connect + read + 15

    # -- TokenSource ------------------------------------------------------------------------
    def token(self) -> str:
        held = self._held
        if held is not None and held.access_token and not self._due(held):
            return held.access_token
        held = self._read()
        self._refuse_if_revoked(held)
        if not held.access_token or self._due(held):
            return self.refresh(held.access_token)
        self._held = held
        return held.access_token

    def refresh(self, stale: str) -> str:
        lock = self._services.redis.lock(lock_key(self._domain), timeout=self._lock_ttl,
                                         blocking_timeout=self._lock_ttl, thread_local=False)
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise ShopifyError(f"{self._domain}: token refresh lock unavailable ({type(exc).__name__})") from None
        if not acquired:
            raise ShopifyError(f"{self._domain}: another worker's token refresh did not finish "
                               f"within {self._lock_ttl:.0f}s")
        try:
            held = self._read()
            self._refuse_if_revoked(held)
            if held.access_token and held.access_token != stale and not self._due(held):
                self._held = held  # another worker refreshed it while this one waited
                return held.access_token
            return self._renew(held, stale)
        finally:
            try:
                lock.release()
            except (LockError, RedisError):
                pass  # expired: it frees itself

    def renew_ahead(self, horizon_seconds: float) -> bool:
        """Refresh now if the stored token expires within the horizon; False when it does not."""
        held = self._read()
        self._refuse_if_revoked(held)
        if held.expires_at is None or held.expires_at - utcnow() > timedelta(seconds=horizon_seconds):
            return False
        self.refresh(held.access_token)
        return True

    def rejected(self, token: str) -> None:
        self._revoke("Shopify refused a freshly refreshed access token (HTTP 401): the app was revoked")

    # -- inside the lock --------------------------------------------------------------------
    def _renew(self, held: Held, stale: str) -> str:
        mode = held.mode
        if mode == TokenMode.offline.value:
            self._revoke("Shopify refused the shop's offline token (HTTP 401): the app was uninstalled or the "
                         "token revoked" if stale else "no offline token is installed")
        if mode == TokenMode.expiring.value and not held.refresh_token:
            self._revoke("no refresh token is stored for the shop's expiring token")
        try:
            if mode == TokenMode.expiring.value:
                grant = oauth.refresh(self._session, self._connection, held.refresh_token,
                                      self._services.settings.http_timeout)
            else:
                grant = oauth.client_credentials(self._session, self._connection, self._services.settings.http_timeout)
        except oauth.GrantRefused as exc:
            if exc.revoked:
                self._revoke(f"Shopify refused the {'refresh token' if mode == TokenMode.expiring.value else 'client credentials'}"
                             f" ({exc.error})")
            raise
        self._held = self._persist(grant, mode)
        return grant.access_token

    def _persist(self, grant: oauth.Grant, mode: str) -> Held:
        """The new token, its rotated refresh token and their expiry times, in one transaction."""
        with session_scope(self._services.settings.database_url) as session:
            shop = self._shop(session)
            expires_at = store_grant(self._services.vault, session, shop, grant)
            audit.record(session, "shop.token_refreshed", shop_id=shop.id, mode=mode,
                         expires_at=expires_at.isoformat() if expires_at else None)
            return Held(mode, shop.auth_state, shop.auth_reason, grant.access_token,
                        grant.refresh_token, expires_at)

    def _revoke(self, reason: str) -> None:
        with session_scope(self._services.settings.database_url) as session:
            shop_auth.mark_reauthorize(session, self._shop(session).id, reason)
        self._held = None
        raise ReauthorizationRequired(f"{self._domain}: {reason}; {shop_auth.advice(self._domain)}")

    # -- reading ------------------------------------------------------------------------------
    def _read(self) -> Held:
        vault = self._services.vault
        with session_scope(self._services.settings.database_url) as session:
            shop = self._shop(session)
            scope = shop_scope(shop.domain)
            return Held(shop.token_mode, shop.auth_state, shop.auth_reason, vault.get(session, scope, ACCESS_TOKEN) or "",
                        vault.get(session, scope, REFRESH_TOKEN) or "" if shop.token_mode == TokenMode.expiring.value
                        else "", shop.access_token_expires_at)

    def _shop(self, session: Session) -> Shop:
        shop = session.scalar(select(Shop).where(Shop.domain == self._domain))
        if shop is None:
            raise ConfigError(f"shop {self._domain} is not set up")
        return shop

    def _refuse_if_revoked(self, held: Held) -> None:
        if held.state == AuthState.reauthorize.value:
            self._held = None
            raise ReauthorizationRequired(f"{self._domain}: needs reauthorization ({held.reason}); "
                                          f"{shop_auth.advice(self._domain)}")

    def _due(self, held: Held) -> bool:
        if held.expires_at is None:
            return False
        before = timedelta(seconds=self._services.settings.shopify_refresh_before_seconds)
        return held.expires_at - utcnow() <= before


def store_grant(vault, session: Session, shop: Shop, grant: oauth.Grant) -> datetime | None:
    """Write a token (and its refresh token) to the vault and their expiry times to the shop, in
    the caller's transaction; returns when the access token expires (None: never)."""
    now = utcnow()
    scope = shop_scope(shop.domain)
    vault.put(session, scope, ACCESS_TOKEN, grant.access_token)
    if grant.refresh_token:
        vault.put(session, scope, REFRESH_TOKEN, grant.refresh_token)
    shop.access_token_expires_at = None if grant.expires_in is None else now + timedelta(seconds=grant.expires_in)
    if grant.refresh_token:
        shop.refresh_token_expires_at = (None if grant.refresh_token_expires_in is None
                                         else now + timedelta(seconds=grant.refresh_token_expires_in))
    return shop.access_token_expires_at


def install(services, session: Session, shop: Shop, mode: TokenMode, grant: oauth.Grant | None) -> None:
    """``ml-connector shops token``: a fresh token from the merchant's side (or, for client
    credentials, none: it is fetched at first use), the mode it implies, and the shop out of
    "reauthorize". The caller commits."""
    if mode != TokenMode.client_credentials and (grant is None or not grant.access_token):
        raise ConfigError(f"a {mode.value} token needs the access token")
    if mode == TokenMode.expiring and not grant.refresh_token:
        raise ConfigError("an expiring offline token needs its refresh token")
    session.execute(delete(Credential).where(Credential.scope == shop_scope(shop.domain),
                                             Credential.name.in_([ACCESS_TOKEN, REFRESH_TOKEN])))
    shop.token_mode = mode.value
    shop.access_token_expires_at = shop.refresh_token_expires_at = None
    if grant is not None and grant.access_token:
        if mode == TokenMode.offline:
            grant = oauth.Grant(grant.access_token, None)
        store_grant(services.vault, session, shop, grant)
    shop_auth.clear(session, shop)
    audit.record(session, "shop.token_installed", shop_id=shop.id, mode=mode.value,
                 expires_at=shop.access_token_expires_at.isoformat() if shop.access_token_expires_at else None)


def due_for_refresh(session: Session, horizon_seconds: float) -> list[str]:
    """Shops whose expiring token (expiring offline, client credentials) expires within the horizon."""
    limit = utcnow() + timedelta(seconds=horizon_seconds)
    return list(session.scalars(select(Shop.domain).where(
        Shop.auth_state == AuthState.ok.value,
        Shop.token_mode.in_([TokenMode.expiring.value, TokenMode.client_credentials.value]),
        Shop.access_token_expires_at.is_not(None), Shop.access_token_expires_at <= limit)
        .order_by(Shop.domain)))


def keep_tokens(services) -> dict[str, str]:
    """Beat's keepalive: refresh every token that would expire before the next run (and within
    ``MLC_SHOPIFY_REFRESH_BEFORE``), so that no call waits for a refresh and a refresh token is
    used long before its 90 days run out. One shop's failure does not stop the others."""
    settings = services.settings
    horizon = settings.shopify_refresh_before_seconds + settings.shopify_token_keepalive_seconds
    with session_scope(settings.database_url) as session:
        domains = due_for_refresh(session, horizon)
    outcome = {}
    for domain in domains:
        with session_scope(settings.database_url) as session:
            shop = session.scalar(select(Shop).where(Shop.domain == domain))
            client = services.shopify(session, shop)
        try:
            outcome[domain] = "refreshed" if client.tokens.renew_ahead(horizon) else "fresh already"
        except ReauthorizationRequired as exc:
            outcome[domain] = f"needs reauthorization: {exc}"
        except (ShopifyError, RedisError) as exc:
            log.warning("token of %s not refreshed: %s", domain, exc)
            outcome[domain] = f"failed: {exc}"
    return outcome
