"""OAuth client-credentials token endpoint and the pod's request authentication.

Real pods take ``Authorization: Bearer <token from the IAM domain>`` or HTTP Basic for a Fusion
user; anything else is 401. The IAM domain and the pod are one server here so a laptop needs a
single URL. Tokens are opaque JWT-looking strings remembered in memory with their expiry.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time

from flask import Response, request

from .settings import FusionSandboxSettings


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _oauth_error(status: int, error: str, description: str) -> Response:
    resp = Response(json.dumps({"error": error, "error_description": description}),
                    status=status, mimetype="application/json")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="sandbox-iam"'
    return resp


def parse_basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class TokenIssuer:
    """Issues and checks bearer tokens; thread-safe."""

    def __init__(self, settings: FusionSandboxSettings):
        self.settings = settings
        self._tokens: dict[str, float] = {}       # token -> expiry (epoch seconds)
        self._lock = threading.Lock()

    def issue(self) -> tuple[str, int]:
        ttl = self.settings.token_ttl_seconds
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "sandbox"}).encode())
        claims = _b64url(json.dumps({"sub": self.settings.client_id, "iss": "https://identity.oraclecloud.com/",
                                     "scope": self.settings.scope, "iat": now, "exp": now + ttl,
                                     "jti": secrets.token_hex(8)}).encode())
        token = f"{header}.{claims}.{_b64url(secrets.token_bytes(32))}"
        with self._lock:
            self._tokens[token] = time.time() + ttl
        return token, ttl

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is not None and expiry <= time.time():
                del self._tokens[token]
                return False
            return expiry is not None

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    # --- the token endpoint -----------------------------------------------------------------
    def token_endpoint(self) -> Response:
        creds = parse_basic(request.headers.get("Authorization", ""))
        if creds is None:
            # RFC 6749 also allows client_id/client_secret in the form body
            form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
            creds = (form_id, form_secret) if form_id and form_secret else None
        s = self.settings
        if creds is None or not (hmac.compare_digest(creds[0], s.client_id)
                                 and hmac.compare_digest(creds[1], s.client_secret)):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        grant = request.form.get("grant_type")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"Grant type {grant!r} is not allowed.")
        scopes = (request.form.get("scope") or "").split()
        if s.scope not in scopes or any(sc not in (s.scope, "offline_access") for sc in scopes):
            return _oauth_error(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        token, ttl = self.issue()
        return Response(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": ttl}),
                        mimetype="application/json", headers={"Cache-Control": "no-store"})

    # --- pod requests --------------------------------------------------------------------------
    def authenticate(self) -> str | None:
        """The calling user's name, or None when the request carries no valid credentials."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return self.settings.token_user if self.valid(header[7:].strip()) else None
        creds = parse_basic(header)
        if creds and hmac.compare_digest(creds[0], self.settings.basic_username) \
                and hmac.compare_digest(creds[1], self.settings.basic_password):
            return creds[0].upper()
        return None


def unauthorized() -> Response:
    return Response("", status=401, headers={"WWW-Authenticate": 'Basic realm="fusion"'})
