"""Which shop a request is for: a named shop the sandbox does not hold is a 404, a token opens
only its own shop, and only a request naming no shop falls back to the token's (reference §3.3)."""
from __future__ import annotations

import requests

SHOP_QUERY = {"query": "{ shop { myshopifyDomain } }"}
NOT_FOUND = '{"errors":"Not Found"}'
INVALID = '{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'
CREDENTIALS = {"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "app-secret"}


def _graphql(sandbox, path_prefix: str, token: str, host: str | None = None) -> requests.Response:
    headers = {"X-Shopify-Access-Token": token}
    if host:
        headers["Host"] = host
    return requests.post(f"{sandbox.url}{path_prefix}/admin/api/2026-01/graphql.json", json=SHOP_QUERY,
                         headers=headers, timeout=5)


def test_graphql_for_a_shop_that_does_not_exist_is_404(sandbox, shop):
    # given a valid token of an existing shop
    token = sandbox.token(shop)
    # when it is used on shops the sandbox does not hold, named by path, bare path name or Host
    answers = [_graphql(sandbox, "/shops/nope.myshopify.com", token),
               _graphql(sandbox, "/shops/typo-shop", token),
               _graphql(sandbox, "", token, host="nope.myshopify.com"),
               _graphql(sandbox, "", token, host="nope.myshopify.com.localhost")]
    # then every one is Shopify's 404, never the token's shop
    assert [(r.status_code, r.text) for r in answers] == [(404, NOT_FOUND)] * 4


def test_token_request_for_a_shop_that_does_not_exist_is_404(sandbox, shop):
    # given the app credentials of an existing shop
    # when a token is asked of an unknown shop, by path or by Host
    by_path = requests.post(f"{sandbox.url}/shops/nope.myshopify.com/admin/oauth/access_token",
                            data=CREDENTIALS, timeout=5)
    by_host = requests.post(f"{sandbox.url}/admin/oauth/access_token", data=CREDENTIALS,
                            headers={"Host": "nope.myshopify.com"}, timeout=5)
    # then no token is handed out
    assert (by_path.status_code, by_path.text) == (404, NOT_FOUND)
    assert (by_host.status_code, by_host.text) == (404, NOT_FOUND)


def test_token_of_shop_a_on_shop_bs_url_is_the_exact_401(sandbox, shop):
    # given two shops and a token of the first
    sandbox.put_shop("b-shop.myshopify.com", client_id="b", client_secret="bs", webhook_url=None)
    token = sandbox.token(shop)
    # when it is used on the second shop's URL, by path prefix (full or bare name) and by Host
    answers = [_graphql(sandbox, "/shops/b-shop.myshopify.com", token),
               _graphql(sandbox, "/shops/b-shop", token),
               _graphql(sandbox, "", token, host="b-shop.myshopify.com")]
    # then each is 401 with Shopify's exact body
    assert [(r.status_code, r.text) for r in answers] == [(401, INVALID)] * 3


def test_a_request_naming_no_shop_falls_back_to_the_tokens_shop(sandbox, shop):
    # given a token got without naming the shop (the only shop with these credentials)
    r = requests.post(f"{sandbox.url}/admin/oauth/access_token", data=CREDENTIALS, timeout=5)
    assert r.status_code == 200, r.text
    # when GraphQL is called on the bare sandbox address, and on the shop's own path
    bare = _graphql(sandbox, "", r.json()["access_token"])
    own = _graphql(sandbox, f"/shops/{shop.split('.')[0]}", r.json()["access_token"])
    # then both answer for the token's shop
    assert bare.status_code == 200 and bare.json()["data"]["shop"]["myshopifyDomain"] == shop
    assert own.status_code == 200 and own.json()["data"]["shop"]["myshopifyDomain"] == shop
