"""One way to make HTTP sessions: a timeout on every call, an honest User-Agent, https only and
no redirects followed.

A client that carries a token (``X-Shopify-Access-Token``, ``Authorization``) or a client secret
never follows a redirect: requests would re-send a custom header, and on a 307 or 308 the body
with it, to wherever ``Location`` points. A redirect is answered as an error naming where it
pointed (:func:`redirect_message`); Shopify and Fusion never redirect an API call.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests

from connector.config import ConfigError

USER_AGENT = "ml-connector/0.1"


class InsecureURL(ConfigError):
    """A Shopify or Fusion URL that is not https (the sandboxes' http needs ``MLC_ALLOW_HTTP``)."""


def require_https(url: str, allow_http: bool, what: str) -> str:
    """``url`` when it may carry credentials: https, or http when ``allow_http`` (the sandboxes)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (allow_http and scheme == "http"):
        return url
    raise InsecureURL(f"{what} {_where(url)!r} is not https; credentials are only sent over https "
                      "(MLC_ALLOW_HTTP=true allows http, for the sandboxes)")


def redirect_message(response: requests.Response) -> str:
    """What a 3xx answer says, for the error that replaces following it."""
    return (f"redirected (HTTP {response.status_code}) to {_where(response.headers.get('Location', '?'))}, "
            "not followed (credentials are never sent on to another URL)")


def is_redirect(response: requests.Response) -> bool:
    return 300 <= response.status_code < 400


def _where(url: str) -> str:
    """A URL without its query and fragment (an SSO login page's query carries request state)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else url[:200]


#: Connections kept per host. A worker's threads share one client per Shopify shop and per Fusion
#: pod; urllib3's default of 10 would open and drop a connection per call beyond that.
POOL_MAXSIZE = 64


class _NoRedirects(requests.Session):
    """A session that never follows a redirect, whatever a caller asks for: the 3xx itself is the
    answer."""

    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def new_session() -> requests.Session:
    session = _NoRedirects()
    session.headers["User-Agent"] = USER_AGENT
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_MAXSIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass
class Exchange:
    """One HTTP round trip, as the audit trail records it (bodies redacted by the recorder)."""

    system: str
    method: str
    url: str
    request_body: object = None
    status: int | None = None
    response_body: object = None
    error: str = ""
    elapsed_ms: int = 0
    started: float = field(default_factory=time.monotonic)

    def finish(self, status: int | None, response_body: object = None, error: str = "") -> None:
        self.status, self.response_body, self.error = status, response_body, error
        self.elapsed_ms = int((time.monotonic() - self.started) * 1000)


ExchangeHook = Callable[[Exchange], None]


_recorder: ContextVar[ExchangeHook | None] = ContextVar("exchange_recorder", default=None)


@contextmanager
def recording(hook: ExchangeHook) -> Iterator[None]:
    """Send every exchange made inside the block (in this thread or task) to ``hook``."""
    token = _recorder.set(hook)
    try:
        yield
    finally:
        _recorder.reset(token)


def record(exchange: Exchange) -> None:
    hook = _recorder.get()
    if hook is not None:
        hook(exchange)


class CachedToken:
    """An access token shared by a client's threads, fetched again a minute before it expires
    or as soon as the server refuses it (``invalidate``)."""

    EARLY_REFRESH_SECONDS = 60

    def __init__(self, fetch: Callable[[], tuple[str, int]]):
        self._fetch = fetch  # returns (token, lifetime in seconds)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, lifetime = self._fetch()
                self._expires_at = time.monotonic() + max(0, lifetime - self.EARLY_REFRESH_SECONDS)
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
