"""Shopify's token endpoint (``/admin/oauth/access_token``): the client-credentials grant and the
refresh of an expiring offline token (reference §4).

A refused grant says why in ``error``: ``invalid_grant`` (a refresh token expired, spent or
revoked: the app was uninstalled or its secret rotated) and ``invalid_client`` (wrong client id
or secret, or the app is not installed) cannot be cured by trying again; only a fresh token from
the merchant's side does (``ml-connector shops token``).
"""
from __future__ import annotations

from dataclasses import dataclass

import requests

from connector.http import is_redirect, redirect_message
from connector.shopify.errors import ShopifyAuthError, ShopifyError

#: Errors of the token endpoint that mean the app must be authorized again.
REVOKED = ("invalid_grant", "invalid_client")


class GrantRefused(ShopifyAuthError):
    def __init__(self, message: str, error: str):
        super().__init__(message)
        self.error = error

    @property
    def revoked(self) -> bool:
        return self.error in REVOKED


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in: int | None             # seconds; None: the token does not expire
    refresh_token: str = ""
    refresh_token_expires_in: int | None = None

    def __repr__(self) -> str:  # never show a token
        return f"Grant(expires_in={self.expires_in}, refresh_token={'yes' if self.refresh_token else 'no'})"


def client_credentials(session: requests.Session, connection, timeout) -> Grant:
    return _grant(session, connection, timeout, {"grant_type": "client_credentials"}, "client-credentials grant")


def refresh(session: requests.Session, connection, refresh_token: str, timeout) -> Grant:
    return _grant(session, connection, timeout, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                  "token refresh")


def _grant(session: requests.Session, connection, timeout, params: dict, what: str) -> Grant:
    c = connection
    body = {"client_id": c.client_id, "client_secret": c.client_secret, **params}
    try:
        response = session.post(f"{c.base_url}/admin/oauth/access_token", json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise ShopifyError(f"{c.domain}: token endpoint unreachable ({type(exc).__name__})") from None
    if is_redirect(response):
        raise ShopifyAuthError(f"{c.domain}: token endpoint {redirect_message(response)}; check the shop's admin URL")
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code != 200:
        error = str(answer.get("error") or "") if isinstance(answer, dict) else ""
        if response.status_code >= 500 or response.status_code == 429:
            raise ShopifyError(f"{c.domain}: {what} failed (HTTP {response.status_code})")
        raise GrantRefused(f"{c.domain}: {what} refused (HTTP {response.status_code}"
                           f"{', ' + error if error else ''})", error)
    if not isinstance(answer, dict) or not answer.get("access_token"):
        raise ShopifyError(f"{c.domain}: {what} answered without an access token")
    expires_in = answer.get("expires_in")
    refresh_in = answer.get("refresh_token_expires_in")
    return Grant(access_token=answer["access_token"],
                 expires_in=None if expires_in is None else int(expires_in),
                 refresh_token=answer.get("refresh_token") or "",
                 refresh_token_expires_in=None if refresh_in is None else int(refresh_in))
