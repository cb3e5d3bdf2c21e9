"""Credentials for one Fusion pod: an OAuth2 client-credentials token, or Basic auth.

Tokens are cached per process until a minute before they expire, and dropped on a 401 so the
next call fetches a fresh one.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import requests

from connector.fusion.errors import FusionAuthError, FusionUnavailable
from connector.http import CachedToken, is_redirect, redirect_message


@dataclass(frozen=True)
class FusionConnection:
    base_url: str
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str = ""
    auth_mode: str = "oauth"       # "oauth" or "basic"
    username: str = ""
    password: str = ""

    def __repr__(self) -> str:  # keep secrets out of tracebacks and logs
        return f"FusionConnection(base_url={self.base_url!r}, auth_mode={self.auth_mode!r})"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TokenProvider:
    def __init__(self, connection: FusionConnection, session: requests.Session, timeout):
        self._connection = connection
        self._session = session
        self._timeout = timeout
        self._token = CachedToken(self._fetch)

    def authorization(self) -> str:
        c = self._connection
        if c.auth_mode == "basic":
            return _basic(c.username, c.password)
        return f"Bearer {self._token.get()}"

    def invalidate(self) -> None:
        self._token.invalidate()

    def _fetch(self) -> tuple[str, int]:
        c = self._connection
        try:
            response = self._session.post(
                c.token_url,
                data={"grant_type": "client_credentials", "scope": c.scope},
                headers={"Authorization": _basic(c.client_id, c.client_secret),
                         "Content-Type": "application/x-www-form-urlencoded"},
                timeout=self._timeout)
        except requests.RequestException as exc:
            raise FusionUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from None
        if is_redirect(response):
            raise FusionAuthError(f"token endpoint {redirect_message(response)}; check the token URL")
        if response.status_code in (400, 401, 403):
            raise FusionAuthError(f"token endpoint refused the client credentials "
                                  f"(HTTP {response.status_code}: {_error_text(response)})")
        if response.status_code != 200:
            raise FusionUnavailable(f"token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
            return body["access_token"], int(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise FusionUnavailable("token endpoint answered 200 without a token") from None


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("error_description") or body.get("error") or "")[:200]
    except ValueError:
        return response.text[:200]
