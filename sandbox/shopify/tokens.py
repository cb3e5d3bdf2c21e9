"""Access tokens, as the ``/admin/oauth/access_token`` endpoint hands them out (reference §4).

* client credentials: a fresh token per call, lifetime ``token_ttl_seconds``, no refresh token;
* expiring offline tokens: an access token plus a rotating refresh token; only one pair is live
  per app and shop; a refresh token may be spent once – since Shopify's 2026-08-28 change it stays
  usable until its replacement is used, so a lost refresh answer can be recovered;
* non-expiring offline tokens (legacy custom apps), revoked only by uninstalling.
A bad, expired or revoked token is a 401 on the Admin API; a spent refresh token is
400 ``invalid_grant``.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from .settings import ShopifySandboxSettings


class TokenError(Exception):
    """An OAuth error answer: HTTP status and the JSON body Shopify would send."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class AccessToken:
    token: str
    shop: str
    client_id: str
    kind: str  # client_credentials | expiring_offline | offline
    scope: str
    expires_at: float | None
    revoked: bool = False
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    shop: str
    client_id: str
    expires_at: float
    spent: bool = False
    revoked: bool = False
    replacement: tuple[str, str] | None = None  # (access, refresh) issued when it was spent


@dataclass
class Tokens:
    settings: ShopifySandboxSettings
    clock: callable = time.time
    _access: dict[str, AccessToken] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    #: per shop: how many times each grant was asked for and how each ended, and 401s answered
    _counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, shop_domain: str, what: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(shop_domain, {})
            counts[what] = counts.get(what, 0) + 1

    def counts(self, shop_domain: str) -> dict[str, int]:
        """``client_credentials``, ``refresh_token`` (grants issued), ``refused`` (grants
        refused), ``unauthorized`` (Admin API calls answered 401), for a test to count."""
        with self._lock:
            return dict(self._counts.get(shop_domain, {}))

    def expire_shop(self, shop_domain: str) -> int:
        """Let every expiring access token of the shop reach its end now, as time would: the
        next call with one is a 401, and a refresh token still refreshes."""
        with self._lock:
            now = self.clock()
            expired = 0
            for tok in self._access.values():
                if tok.shop == shop_domain and tok.expires_at is not None and tok.expires_at > now:
                    tok.expires_at = now
                    expired += 1
            return expired

    # ------------------------------------------------------------------ grants
    def client_credentials(self, shop) -> dict:
        with self._lock:
            self.count(shop.domain, "client_credentials")
            tok = self._new_access(shop, "client_credentials", self.settings.token_ttl_seconds)
            return {"access_token": tok.token, "scope": tok.scope,
                    "expires_in": self.settings.token_ttl_seconds}

    def offline(self, shop) -> dict:
        """What installing the app yields: an expiring pair, or a non-expiring offline token."""
        with self._lock:
            if not shop.expiring_offline_tokens:
                tok = self._new_access(shop, "offline", None)
                return {"access_token": tok.token, "scope": tok.scope}
            return self._new_pair(shop)

    def refresh(self, shop, refresh_token: str) -> dict:
        with self._lock:
            rt = self._refresh.get(refresh_token or "")
            now = self.clock()
            if rt is None or rt.shop != shop.domain or rt.revoked or rt.expires_at <= now:
                self.count(shop.domain, "refused")
                raise TokenError(400, "invalid_grant", "The refresh token is invalid, expired or revoked.")
            if rt.spent:
                access, refresh = rt.replacement
                replacement_used = self._access[access].used or self._refresh[refresh].spent
                if not self.settings.refresh_grace_until_replacement_used or replacement_used:
                    self.count(shop.domain, "refused")
                    raise TokenError(400, "invalid_grant", "The refresh token has already been used.")
                self._refresh[refresh].revoked = True
            self.count(shop.domain, "refresh_token")
            answer = self._new_pair(shop)
            rt.spent = True
            rt.replacement = (answer["access_token"], answer["refresh_token"])
            return answer

    # ------------------------------------------------------------------ checks
    def authenticate(self, token: str | None) -> AccessToken | None:
        """The live token record, marked as used; None when unknown, expired or revoked."""
        with self._lock:
            tok = self._access.get(token or "")
            if tok is None or tok.revoked or (tok.expires_at is not None and tok.expires_at <= self.clock()):
                return None
            tok.used = True
            return tok

    def revoke_shop(self, shop_domain: str) -> None:
        with self._lock:
            for tok in self._access.values():
                if tok.shop == shop_domain:
                    tok.revoked = True
            for rt in self._refresh.values():
                if rt.shop == shop_domain:
                    rt.revoked = True

    # ------------------------------------------------------------------ internals
    def _new_access(self, shop, kind: str, ttl: int | None) -> AccessToken:
        tok = AccessToken(token="shpat_" + secrets.token_hex(16), shop=shop.domain, client_id=shop.client_id,
                          kind=kind, scope=shop.scopes if shop.scopes is not None else self.settings.scopes,
                          expires_at=None if ttl is None else self.clock() + ttl)
        self._access[tok.token] = tok
        return tok

    def _new_pair(self, shop) -> dict:
        # Only one expiring offline token is live per app and shop.
        for old in self._access.values():
            if old.shop == shop.domain and old.kind == "expiring_offline":
                old.revoked = True
        ttl = self.settings.expiring_token_ttl_seconds
        tok = self._new_access(shop, "expiring_offline", ttl)
        rt = RefreshToken(token="shprt_" + secrets.token_hex(16), shop=shop.domain, client_id=shop.client_id,
                          expires_at=self.clock() + self.settings.refresh_token_ttl_seconds)
        self._refresh[rt.token] = rt
        return {"access_token": tok.token, "scope": tok.scope, "expires_in": ttl,
                "refresh_token": rt.token,
                "refresh_token_expires_in": self.settings.refresh_token_ttl_seconds}
