"""Shopify Admin GraphQL for real use: a cost budget shared by every worker, and tokens that are
refreshed before they expire and once on a 401.

Over https only (``MLC_ALLOW_HTTP`` for the sandbox), and a redirect is an error, never followed:
the access token and the client secret go to the shop's own URL and nowhere else.

Where the token comes from is a :class:`TokenSource`. Alone (tests, tools) a client fetches its
own with the client-credentials grant and keeps it in memory; a worker's client reads the shop's
stored token and refreshes it once per shop across all workers
(:mod:`connector.services.shop_tokens`). Where the budget lives is a :class:`CostBudget`: a
worker's is the shop's Redis bucket (:mod:`connector.shopify.budget`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

import requests

from connector.http import (
    CachedToken,
    Exchange,
    is_redirect,
    new_session,
    record,
    redirect_message,
    require_https,
)
from connector.shopify import oauth, shop_zone
from connector.shopify.budget import MAX_QUERY_COST, CostBudget, throttle_wait
from connector.shopify.errors import (  # noqa: F401 - re-exported: callers import them from here
    QueryTooCostly,
    ReauthorizationRequired,
    ShopifyAuthError,
    ShopifyError,
    ShopifyThrottled,
)

PING_QUERY = "{ shop { name myshopifyDomain currencyCode } }"
#: THROTTLED answers one call sits through (each waiting what Shopify needs) before giving up.
MAX_THROTTLED_RETRIES = 5


@dataclass(frozen=True)
class ShopConnection:
    domain: str
    client_id: str
    client_secret: str
    api_version: str
    admin_base_url: str = ""   # empty: https://{domain}

    @property
    def base_url(self) -> str:
        return (self.admin_base_url or f"https://{self.domain}").rstrip("/")

    def __repr__(self) -> str:
        return f"ShopConnection(domain={self.domain!r})"


class TokenSource(Protocol):
    def token(self) -> str:
        """An access token that is not about to expire."""

    def refresh(self, stale: str) -> str:
        """Shopify refused ``stale`` (401): a token other than it, or ReauthorizationRequired."""

    def rejected(self, token: str) -> None:
        """Shopify refused a token fresh from :meth:`refresh`: the app is revoked. Raises."""


class ClientCredentials:
    """A token of the client-credentials grant kept in this process, fetched again a minute
    before it expires or when Shopify refuses it."""

    def __init__(self, connection: ShopConnection, session: requests.Session, timeout):
        self._connection, self._session, self._timeout = connection, session, timeout
        self._cached = CachedToken(self._grant)

    def _grant(self) -> tuple[str, int]:
        grant = oauth.client_credentials(self._session, self._connection, self._timeout)
        return grant.access_token, grant.expires_in if grant.expires_in is not None else 86399

    def token(self) -> str:
        return self._cached.get()

    def refresh(self, stale: str) -> str:
        self._cached.invalidate()
        return self._cached.get()

    def rejected(self, token: str) -> None:
        raise ShopifyAuthError(f"{self._connection.domain}: access token refused (HTTP 401)")


class ShopifyClient:
    def __init__(self, connection: ShopConnection, timeout=(5.0, 30.0), *, allow_http: bool = False,
                 tokens: TokenSource | None = None, budget: CostBudget | None = None, cache=None):
        require_https(connection.base_url, allow_http, f"{connection.domain}: the Admin API URL")
        self.connection = connection
        self._session = new_session()
        self._timeout = timeout
        self.tokens: TokenSource = tokens or ClientCredentials(connection, self._session, timeout)
        self.budget = budget or CostBudget(None, max_wait=30.0)
        self._cache = cache   # a Redis for what is read once per shop (its zone); None: this client only
        self._zone = None

    def graphql(self, query: str, variables: dict | None = None, *, cost: int | None = None) -> dict:
        """``data`` of the answer. ``cost``: the query's requested cost when the caller knows it;
        otherwise what Shopify said it cost last time (a first guess the first time)."""
        return self.graphql_response(query, variables, cost=cost)["data"]

    def graphql_response(self, query: str, variables: dict | None = None, *, cost: int | None = None) -> dict:
        """The whole answer (``data`` and ``extensions``), after budget, token and throttling."""
        domain = self.connection.domain
        requested = min(cost or self.budget.estimate(query), MAX_QUERY_COST)
        for _ in range(MAX_THROTTLED_RETRIES + 1):
            self.budget.charge(domain, requested)
            charged = requested
            try:
                response = self._authorized_post(query, variables)
            except BaseException:
                self.budget.settle(query, charged, None)
                raise
            if response.status_code == 429:
                # Retry-After when given; else what the body's throttleStatus says is needed; else 1 s
                cost_ext = (_json(response).get("extensions") or {}).get("cost")
                self.budget.settle(query, charged, cost_ext)
                wait = _retry_after(response)
                if wait is None:
                    wait = throttle_wait(requested, cost_ext.get("throttleStatus") or {}) if cost_ext else 1.0
                if not cost_ext:
                    self.budget.pause(wait)  # no throttleStatus to correct the bucket from: everyone waits it
                self.budget.wait(domain, wait)
                continue
            if response.status_code != 200:
                self.budget.settle(query, charged, None)
                raise ShopifyError(f"{domain}: GraphQL HTTP {response.status_code}")
            try:
                body = response.json()
            except ValueError:
                self.budget.settle(query, charged, None)
                raise ShopifyError(f"{domain}: GraphQL answered HTTP 200 without JSON") from None
            cost_ext = (body.get("extensions") or {}).get("cost")
            self.budget.settle(query, charged, cost_ext)
            codes = _error_codes(body)
            if "THROTTLED" in codes:
                if cost_ext and cost_ext.get("requestedQueryCost"):
                    requested = min(int(cost_ext["requestedQueryCost"]), MAX_QUERY_COST)
                self.budget.throttled(domain, requested, (cost_ext or {}).get("throttleStatus") or {})
                continue
            if "MAX_COST_EXCEEDED" in codes:
                raise QueryTooCostly(f"{domain}: {_first_message(body)}")
            if body.get("errors"):
                raise ShopifyError(f"{domain}: {body['errors']}")
            return body
        raise ShopifyThrottled(f"{domain}: still throttled after {MAX_THROTTLED_RETRIES} waits", 1.0)

    def ping(self) -> dict:
        return self.graphql(PING_QUERY)["shop"]

    def timezone(self) -> ZoneInfo:
        """The shop's zone, in which REST writes timestamps (:mod:`connector.shopify.shop_zone`):
        kept in the shared cache when there is one (so a moved shop is seen within its TTL),
        else by this client."""
        if self._cache is not None:
            return shop_zone.read(self, self._cache)
        if self._zone is None:
            self._zone = shop_zone.read(self)
        return self._zone

    def _authorized_post(self, query: str, variables: dict | None) -> requests.Response:
        token = self.tokens.token()
        response = self._post_graphql(query, variables, token)
        if response.status_code == 401:  # expired or revoked: one fresh token, one more try
            token = self.tokens.refresh(token)
            response = self._post_graphql(query, variables, token)
            if response.status_code == 401:
                self.tokens.rejected(token)
                raise ShopifyAuthError(f"{self.connection.domain}: access token refused (HTTP 401)")
        return response

    def _post_graphql(self, query: str, variables: dict | None, token: str) -> requests.Response:
        url = f"{self.connection.base_url}/admin/api/{self.connection.api_version}/graphql.json"
        exchange = Exchange("shopify", "POST", url, request_body={"query": query, "variables": variables})
        try:
            response = self._session.post(url, json={"query": query, "variables": variables or {}},
                                          headers={"X-Shopify-Access-Token": token}, timeout=self._timeout)
        except requests.RequestException as exc:
            exchange.finish(None, error=type(exc).__name__)
            record(exchange)
            raise ShopifyError(f"{self.connection.domain}: {type(exc).__name__}") from None
        exchange.finish(response.status_code, response.text[:2000])
        record(exchange)
        if is_redirect(response):
            raise ShopifyAuthError(f"{self.connection.domain}: GraphQL {redirect_message(response)}; "
                                   "check the shop's admin URL")
        return response


def _error_codes(body: dict) -> set[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return set()
    return {str((e.get("extensions") or {}).get("code") or "") for e in errors if isinstance(e, dict)}


def _first_message(body: dict) -> str:
    errors = body.get("errors") or [{}]
    return str(errors[0].get("message", "")).split("\n", 1)[0] if isinstance(errors, list) else str(errors)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None
