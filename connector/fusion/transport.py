"""How every Fusion call travels: credentials, the shared rate budget, retries, the audit trail,
and what a failure means for the caller.

Reads are retried here with exponential backoff and jitter. Writes are retried here only when
Fusion certainly did not act on them (429, a refused connection); any other doubt (timeout, reset,
5xx) surfaces as :class:`FusionUncertain` so the caller looks the deterministic key up before it
tries again. Every round trip is handed to :func:`connector.http.record` for the audit trail.
"""
from __future__ import annotations

from typing import Any

import backoff
import requests

from connector import jsonutil
from connector.fusion import soap
from connector.fusion.auth import FusionConnection, TokenProvider
from connector.fusion.errors import (
    FusionAuthError,
    FusionRejected,
    FusionUnavailable,
    FusionUncertain,
)
from connector.http import (
    Exchange,
    new_session,
    record,
    redirect_message,
    require_https,
)
from connector.ratelimit import RateLimited, TokenBucket

RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
ACTION = "application/vnd.oracle.adf.action+json"
MAX_RETRY_AFTER = 30.0


class _Transient(Exception):
    """Internal: worth another try right here."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FusionTransport:
    """One pod's connection: a session, its token and the bucket every worker shares."""

    def __init__(self, connection: FusionConnection, *, bucket: TokenBucket | None = None,
                 timeout=(5.0, 30.0), framework_version: int = 4, max_tries: int = 4,
                 allow_http: bool = False):
        require_https(connection.base_url, allow_http, "the Fusion base URL")
        if connection.auth_mode != "basic":
            require_https(connection.token_url, allow_http, "the Fusion token URL")
        self.base_url = connection.base_url.rstrip("/")
        self._session = new_session()
        self._timeout = timeout
        self._tokens = TokenProvider(connection, self._session, timeout)
        self._bucket = bucket
        self._framework_version = framework_version
        self._max_tries = max_tries

    def read(self, path: str, params: dict | None = None) -> dict:
        return self._retrying(lambda: self._rest("GET", path, params=params, write=False))

    def write(self, method: str, path: str, payload: dict) -> dict:
        return self._retrying(lambda: self._rest(method, path, payload=payload, write=True))

    def action(self, path: str, payload: dict) -> dict:
        """A REST custom action (``…/action/<name>``): ADF only takes its own media type there."""
        return self._retrying(lambda: self._rest("POST", path, payload=payload, write=True,
                                                 content_type=ACTION))

    def soap(self, service: soap.SoapService, envelope: str, operation: str, *, write: bool) -> dict:
        return self._retrying(lambda: self._send(
            "POST", service.path, data=envelope.encode(), write=write,
            headers={"Content-Type": "text/xml; charset=UTF-8",
                     "SOAPAction": soap.action(service, operation)},
            parse=soap.parse_response))

    def _retrying(self, call):
        retried = backoff.on_exception(backoff.expo, _Transient, max_tries=self._max_tries,
                                       max_time=120, jitter=backoff.full_jitter)(call)
        try:
            return retried()
        except _Transient as exc:
            raise FusionUnavailable(str(exc), exc.retry_after) from None

    def _rest(self, method: str, path: str, *, params=None, payload=None, write: bool,
              content_type: str = RESOURCE_ITEM) -> dict:
        headers = {"REST-Framework-Version": str(self._framework_version), "Accept": "application/json"}
        data = None
        if payload is not None:
            headers["Content-Type"] = content_type
            data = jsonutil.dumps(payload).encode()
        return self._send(method, path, params=params, data=data, headers=headers, write=write,
                          parse=jsonutil.loads, audit_body=payload)

    def _send(self, method, path, *, params=None, data=None, headers, write, parse, audit_body=None,
              _auth_retry=True):
        url = self.base_url + path
        if self._bucket is not None:
            try:
                self._bucket.take()
            except RateLimited as exc:
                raise FusionUnavailable(str(exc), exc.retry_after) from None
        headers = dict(headers, Authorization=self._tokens.authorization())
        exchange = Exchange("fusion", method, url + (f"?{_query(params)}" if params else ""),
                            request_body=audit_body if audit_body is not None else _text(data))
        try:
            response = self._session.request(method, url, params=params, data=data, headers=headers,
                                             timeout=self._timeout, allow_redirects=False)
        except requests.ConnectionError as exc:
            sent = not isinstance(exc, requests.ConnectTimeout) and "refused" not in str(exc).lower()
            _record(exchange, None, error=f"{type(exc).__name__}")
            if write and sent:
                raise FusionUncertain(f"{method} {path}: connection lost before the answer") from None
            raise _Transient(f"{method} {path}: {type(exc).__name__}") from None
        except requests.Timeout:
            _record(exchange, None, error="timeout")
            if write:
                raise FusionUncertain(f"{method} {path}: no answer within {self._timeout[1]}s") from None
            raise _Transient(f"{method} {path}: timeout") from None
        except requests.RequestException as exc:  # e.g. the answer broke off half way
            _record(exchange, None, error=type(exc).__name__)
            if write:
                raise FusionUncertain(f"{method} {path}: {type(exc).__name__} before a complete answer") from None
            raise _Transient(f"{method} {path}: {type(exc).__name__}") from None

        status = response.status_code
        body = _decode(response, parse)
        _record(exchange, status, body)
        if status == 401 and _auth_retry:
            self._tokens.invalidate()
            return self._send(method, path, params=params, data=data, headers=headers, write=write,
                              parse=parse, audit_body=audit_body, _auth_retry=False)
        if status in (401, 403):
            raise FusionAuthError(f"{method} {path}: HTTP {status} — check the pod credentials and roles", status)
        if 300 <= status < 400:  # an SSO login page, a moved pod: never a Fusion answer
            raise FusionAuthError(f"{method} {path}: {redirect_message(response)} — check the base URL and auth mode")
        if status == 429 or (status == 503 and not write):
            retry_after = _retry_after(response)
            if self._bucket is not None and retry_after:
                self._bucket.pause(min(retry_after, MAX_RETRY_AFTER))
            raise _Transient(f"{method} {path}: HTTP {status}", retry_after)
        if status >= 500:
            if soap.is_fault(body):
                raise FusionRejected(soap.fault_message(body), status, soap.fault_code(body))
            if write:
                raise FusionUncertain(f"{method} {path}: HTTP {status}")
            raise _Transient(f"{method} {path}: HTTP {status}")
        if status >= 400:
            raise FusionRejected(_rest_error_message(body, status), status)
        return body


def _record(exchange: Exchange, status, body=None, error: str = "") -> None:
    exchange.finish(status, body, error)
    record(exchange)


def _query(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _text(data: bytes | None):
    return None if data is None else data.decode("utf-8", "replace")


def _decode(response: requests.Response, parse):
    if not response.content:
        return None
    try:
        return parse(response.content)
    except Exception:  # a proxy's HTML page, a plain-text v1 error …
        return response.text


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _rest_error_message(body: Any, status: int) -> str:
    """The human message from a v4 error body (``o:errorDetails``) or a plain-text one."""
    if isinstance(body, dict):
        details = [d.get("detail", "") for d in body.get("o:errorDetails", []) if isinstance(d, dict)]
        text = "; ".join(d for d in details if d) or body.get("detail") or body.get("title") or ""
        return str(text) or f"HTTP {status}"
    if isinstance(body, str) and body.strip():
        return body.strip()[:2000]
    return f"HTTP {status}"
