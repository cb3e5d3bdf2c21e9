"""Calls to Shopify and Fusion: https only (unless a setting allows the sandboxes' http), and a
redirect is an error that sends nothing on, least of all a token or a client secret."""
from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Request, Response

from connector.config import Settings
from connector.fusion.auth import FusionConnection
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionAuthError
from connector.http import InsecureURL, new_session
from connector.shopify.client import ShopConnection, ShopifyAuthError, ShopifyClient
from sandbox.server import BackgroundServer

TOKEN = "shpat_secret_access_token_1234"
SECRET = "shpss_client_secret_5678"


class Recorder:
    """A tiny HTTP server's app: answers from ``routes`` ({(method, path): Response}) and keeps
    every request it got, headers and body, so a test can say what reached it."""

    def __init__(self, routes: dict | None = None):
        self.routes = routes or {}
        self.seen: list[dict] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        self.seen.append({"method": request.method, "path": request.path, "headers": dict(request.headers),
                          "body": body})
        response = self.routes.get((request.method, request.path)) or Response("nothing here", status=404)
        return response(environ, start_response)


@pytest.fixture
def elsewhere():
    """Where a redirect points: it must never hear from the client."""
    recorder = Recorder()
    with BackgroundServer(recorder) as server:
        recorder.url = server.url
        yield recorder


def redirect(status: int, to: str) -> Response:
    return Response(status=status, headers={"Location": to})


def token_answer() -> Response:
    return Response(json.dumps({"access_token": TOKEN, "expires_in": 3600}), mimetype="application/json")


def shop_client(url: str, **kwargs) -> ShopifyClient:
    return ShopifyClient(ShopConnection("acme.myshopify.com", "app", SECRET, "2026-01", admin_base_url=url),
                         timeout=(2, 5), **kwargs)


def fusion_connection(base_url: str, token_url: str = "", **overrides) -> FusionConnection:
    return FusionConnection(base_url=base_url, token_url=token_url or f"{base_url}/oauth2/v1/token",
                            client_id="mlc", client_secret=SECRET, scope="all", **overrides)


# --- https only -------------------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda: shop_client("http://127.0.0.1:9/shops/acme"),
    lambda: FusionClient(fusion_connection("http://127.0.0.1:9")),
    lambda: FusionClient(fusion_connection("https://pod.example.com", token_url="http://idcs.example.com/token")),
    lambda: FusionClient(fusion_connection("http://127.0.0.1:9", auth_mode="basic", username="u", password="p")),
    lambda: shop_client("ftp://127.0.0.1:9/shops/acme", allow_http=True),
], ids=["shopify", "fusion base", "fusion token", "fusion basic", "not http either"])
def test_given_a_url_that_is_not_https_when_a_client_is_built_then_refused_naming_the_setting(build):
    with pytest.raises(InsecureURL, match="MLC_ALLOW_HTTP"):
        build()


def test_given_http_allowed_for_the_sandboxes_then_clients_are_built():
    shop_client("http://127.0.0.1:9/shops/acme", allow_http=True)
    FusionClient(fusion_connection("http://127.0.0.1:9"), allow_http=True)
    assert Settings.from_env({"MLC_ALLOW_HTTP": "true"}).allow_http
    assert not Settings.from_env({}).allow_http


def test_given_the_default_admin_url_then_https():
    client = ShopifyClient(ShopConnection("acme.myshopify.com", "app", SECRET, "2026-01"))
    assert client.connection.base_url == "https://acme.myshopify.com"


# --- no redirects -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_given_graphql_redirected_when_called_then_error_and_the_token_goes_nowhere_else(elsewhere, status):
    shop = Recorder()
    with BackgroundServer(shop) as server:
        shop.routes = {("POST", "/admin/oauth/access_token"): token_answer(),
                       ("POST", "/admin/api/2026-01/graphql.json"): redirect(status, f"{elsewhere.url}/steal?x=1")}
        client = shop_client(server.url, allow_http=True)

        with pytest.raises(ShopifyAuthError, match=rf"redirected \(HTTP {status}\) to {elsewhere.url}/steal, not followed"):
            client.ping()

    assert elsewhere.seen == []
    assert [r["path"] for r in shop.seen] == ["/admin/oauth/access_token", "/admin/api/2026-01/graphql.json"]


@pytest.mark.parametrize("status", [302, 307])
def test_given_the_shopify_token_endpoint_redirected_then_error_and_the_secret_goes_nowhere_else(elsewhere, status):
    shop = Recorder()
    with BackgroundServer(shop) as server:
        shop.routes = {("POST", "/admin/oauth/access_token"): redirect(status, f"{elsewhere.url}/token")}
        client = shop_client(server.url, allow_http=True)

        with pytest.raises(ShopifyAuthError, match="token endpoint redirected"):
            client.ping()

    assert elsewhere.seen == []


@pytest.mark.parametrize("status", [302, 307])
def test_given_the_fusion_token_endpoint_redirected_then_auth_error_and_the_secret_goes_nowhere_else(elsewhere, status):
    pod = Recorder()
    with BackgroundServer(pod) as server:
        pod.routes = {("POST", "/oauth2/v1/token"): redirect(status, f"{elsewhere.url}/token")}
        client = FusionClient(fusion_connection(server.url), timeout=(2, 5), max_tries=1, allow_http=True)

        with pytest.raises(FusionAuthError, match="token endpoint redirected"):
            client.ping()

    assert elsewhere.seen == []
    assert len(pod.seen) == 1  # not retried: a redirect is a set-up error, not an outage


@pytest.mark.parametrize("status", [302, 307])
def test_given_a_fusion_read_redirected_then_auth_error_and_the_bearer_goes_nowhere_else(elsewhere, status):
    pod = Recorder()
    with BackgroundServer(pod) as server:
        pod.routes = {("POST", "/oauth2/v1/token"): token_answer()}
        invoices = "/fscmRestApi/resources/11.13.18.05/receivablesInvoices"
        pod.routes[("GET", invoices)] = redirect(status, f"{elsewhere.url}/invoices")
        client = FusionClient(fusion_connection(server.url), timeout=(2, 5), max_tries=1, allow_http=True)

        with pytest.raises(FusionAuthError, match="redirected"):
            client.ping()

    assert elsewhere.seen == []


def test_given_a_caller_asks_for_redirects_then_the_session_still_does_not_follow(elsewhere):
    origin = Recorder()
    with BackgroundServer(origin) as server:
        origin.routes = {("GET", "/moved"): redirect(302, f"{elsewhere.url}/new")}
        response = new_session().get(f"{server.url}/moved", headers={"Authorization": "Bearer x"},
                                     allow_redirects=True, timeout=5)

    assert response.status_code == 302
    assert elsewhere.seen == []
