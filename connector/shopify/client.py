"""Shopify Admin GraphQL: an access token from the client-credentials grant, refreshed on 401.

Over https only (``MLC_ALLOW_HTTP`` for the sandbox), and a redirect is an error, never followed:
the access token and the client secret go to the shop's own URL and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

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


class ShopifyError(RuntimeError):
    pass


class ShopifyAuthError(ShopifyError):
    pass


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


class ShopifyClient:
    def __init__(self, connection: ShopConnection, timeout=(5.0, 30.0), *, allow_http: bool = False):
        require_https(connection.base_url, allow_http, f"{connection.domain}: the Admin API URL")
        self.connection = connection
        self._session = new_session()
        self._timeout = timeout
        self._token = CachedToken(self._client_credentials)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = self._post_graphql(query, variables)
        if response.status_code == 401:  # expired or revoked: one fresh token, one more try
            self._token.invalidate()
            response = self._post_graphql(query, variables)
        if response.status_code == 401:
            raise ShopifyAuthError(f"{self.connection.domain}: access token refused (HTTP 401)")
        if response.status_code != 200:
            raise ShopifyError(f"{self.connection.domain}: GraphQL HTTP {response.status_code}")
        body = response.json()
        if body.get("errors"):
            raise ShopifyError(f"{self.connection.domain}: {body['errors']}")
        return body["data"]

    def ping(self) -> dict:
        return self.graphql("{ shop { name myshopifyDomain currencyCode } }")["shop"]

    def _post_graphql(self, query: str, variables: dict | None) -> requests.Response:
        url = f"{self.connection.base_url}/admin/api/{self.connection.api_version}/graphql.json"
        exchange = Exchange("shopify", "POST", url, request_body={"query": query, "variables": variables})
        try:
            response = self._session.post(url, json={"query": query, "variables": variables or {}},
                                          headers={"X-Shopify-Access-Token": self._token.get()},
                                          timeout=self._timeout)
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

    def _client_credentials(self) -> tuple[str, int]:
        c = self.connection
        try:
            response = self._session.post(f"{c.base_url}/admin/oauth/access_token",
                                          data={"grant_type": "client_credentials", "client_id": c.client_id,
                                                "client_secret": c.client_secret},
                                          timeout=self._timeout)
        except requests.RequestException as exc:
            raise ShopifyError(f"{c.domain}: token endpoint unreachable ({type(exc).__name__})") from None
        if is_redirect(response):
            raise ShopifyAuthError(f"{c.domain}: token endpoint {redirect_message(response)}; "
                                   "check the shop's admin URL")
        if response.status_code != 200:
            raise ShopifyAuthError(f"{c.domain}: client-credentials grant refused (HTTP {response.status_code})")
        body = response.json()
        return body["access_token"], int(body.get("expires_in", 86399))
