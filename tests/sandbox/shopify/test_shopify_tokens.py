"""OAuth tokens: client credentials, expiring offline tokens with rotating refresh tokens, 401s."""
from __future__ import annotations

import time

import requests

SHOP_QUERY = "{ shop { name } }"
INVALID = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def _token_request(sandbox, shop, as_json=False, **params):
    url = f"{sandbox.url}/admin/oauth/access_token"
    if as_json:
        return requests.post(url, json=params, headers={"Host": shop}, timeout=5)
    return requests.post(url, data=params, headers={"Host": shop}, timeout=5)


def test_client_credentials_grant_form_and_json(sandbox, shop):
    for as_json in (False, True):
        r = _token_request(sandbox, shop, as_json, grant_type="client_credentials", client_id="app-id",
                           client_secret="app-secret")
        body = r.json()
        assert r.status_code == 200 and set(body) == {"access_token", "scope", "expires_in"}
        assert body["expires_in"] == 86399
        assert sandbox.graphql(shop, body["access_token"], SHOP_QUERY).status_code == 200


def test_shop_is_found_by_path_prefix_or_client_id(sandbox, shop):
    by_path = requests.post(f"{sandbox.url}/shops/{shop}/admin/oauth/access_token", timeout=5,
                            data={"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "app-secret"})
    by_client = requests.post(f"{sandbox.url}/admin/oauth/access_token", timeout=5,
                              data={"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "app-secret"})
    assert by_path.status_code == 200 and by_client.status_code == 200
    token = by_client.json()["access_token"]
    r = requests.post(f"{sandbox.url}/shops/{shop}/admin/api/2026-01/graphql.json", timeout=5,
                      headers={"X-Shopify-Access-Token": token}, json={"query": "{ shop { myshopifyDomain } }"})
    assert r.json()["data"]["shop"]["myshopifyDomain"] == shop


def test_wrong_client_secret_is_refused(sandbox, shop):
    r = _token_request(sandbox, shop, grant_type="client_credentials", client_id="app-id", client_secret="nope")
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


def test_bad_token_gets_shopifys_exact_401(sandbox, shop):
    r = sandbox.graphql(shop, "shpat_not_a_token", SHOP_QUERY)
    assert r.status_code == 401 and r.json() == INVALID
    assert r.text == '{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'


def test_token_of_another_shop_is_401(sandbox, shop):
    sandbox.put_shop("other.myshopify.com", client_id="other", client_secret="x", webhook_url=None)
    token = sandbox.token("other.myshopify.com", "other", "x")
    assert sandbox.graphql(shop, token, SHOP_QUERY).status_code == 401


def test_token_expires_after_its_lifetime(make_sandbox):
    box = make_sandbox(token_ttl_seconds=1)
    box.put_shop("e.myshopify.com", client_id="app-id", client_secret="app-secret", webhook_url=None)
    token = box.token("e.myshopify.com")
    assert box.graphql("e.myshopify.com", token, SHOP_QUERY).status_code == 200
    time.sleep(1.1)
    r = box.graphql("e.myshopify.com", token, SHOP_QUERY)
    assert r.status_code == 401 and r.json() == INVALID


def _expiring_shop(box, name="x.myshopify.com"):
    box.put_shop(name, client_id="app-id", client_secret="app-secret", webhook_url=None, expiring_offline_tokens=True)
    return box.post(f"/_sandbox/shops/{name}/offline_token").json()


def _refresh(box, shop, refresh_token):
    return _token_request(box, shop, True, grant_type="refresh_token", client_id="app-id",
                          client_secret="app-secret", refresh_token=refresh_token)


def test_refresh_rotates_and_revokes_the_previous_pair(sandbox):
    # given an installed app with an expiring offline token
    first = _expiring_shop(sandbox)
    assert first["expires_in"] == 3600 and first["refresh_token_expires_in"] == 90 * 24 * 3600
    # when it refreshes
    r = _refresh(sandbox, "x.myshopify.com", first["refresh_token"])
    second = r.json()
    # then a new pair replaces the old one
    assert r.status_code == 200 and second["refresh_token"] != first["refresh_token"]
    assert set(second) == {"access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"}
    assert sandbox.graphql("x.myshopify.com", first["access_token"], SHOP_QUERY).status_code == 401
    assert sandbox.graphql("x.myshopify.com", second["access_token"], SHOP_QUERY).status_code == 200
    # and once the new token is used, the old refresh token is spent for good
    reused = _refresh(sandbox, "x.myshopify.com", first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_lost_refresh_answer_can_be_recovered_until_the_replacement_is_used(sandbox):
    # given a refresh whose answer the app never saw
    first = _expiring_shop(sandbox)
    _refresh(sandbox, "x.myshopify.com", first["refresh_token"])
    # when the app retries with the same refresh token (2026-08-28 behaviour)
    retry = _refresh(sandbox, "x.myshopify.com", first["refresh_token"])
    # then it gets a fresh pair
    assert retry.status_code == 200
    assert sandbox.graphql("x.myshopify.com", retry.json()["access_token"], SHOP_QUERY).status_code == 200


def test_strict_mode_refuses_any_reuse_of_a_refresh_token(make_sandbox):
    box = make_sandbox(refresh_grace_until_replacement_used=False)
    first = _expiring_shop(box)
    assert _refresh(box, "x.myshopify.com", first["refresh_token"]).status_code == 200
    r = _refresh(box, "x.myshopify.com", first["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_uninstall_revokes_tokens_and_sends_app_uninstalled(sandbox, shop, receiver):
    token = sandbox.token(shop)
    sandbox.post(f"/_sandbox/shops/{shop}/uninstall")
    sandbox.wait_idle()
    assert sandbox.graphql(shop, token, SHOP_QUERY).status_code == 401
    assert [h["headers"]["X-Shopify-Topic"] for h in receiver.webhooks()] == ["app/uninstalled"]


def test_grants_and_refusals_are_counted_and_tokens_can_be_made_to_expire(make_sandbox):
    box = make_sandbox()
    box.put_shop("c.myshopify.com", client_id="app-id", client_secret="app-secret", webhook_url=None,
                 expiring_offline_tokens=True)
    pair = box.post("/_sandbox/shops/c.myshopify.com/offline_token").json()
    assert box.graphql("c.myshopify.com", pair["access_token"], SHOP_QUERY).status_code == 200
    # when the token reaches its end, then it is a 401, and its refresh token still refreshes
    assert box.post("/_sandbox/shops/c.myshopify.com/tokens/expire").json() == {"expired": 1}
    assert box.graphql("c.myshopify.com", pair["access_token"], SHOP_QUERY).status_code == 401
    refreshed = _token_request(box, "c.myshopify.com", True, grant_type="refresh_token", client_id="app-id",
                               client_secret="app-secret", refresh_token=pair["refresh_token"])
    assert refreshed.status_code == 200
    assert _token_request(box, "c.myshopify.com", True, grant_type="refresh_token", client_id="app-id",
                          client_secret="app-secret", refresh_token="shprt_unknown").status_code == 400
    assert box.get("/_sandbox/shops/c.myshopify.com/tokens").json() == {
        "client_credentials": 0, "refresh_token": 1, "refused": 1, "unauthorized": 1}


def test_reinstalling_gives_working_tokens_again(sandbox, shop):
    sandbox.post(f"/_sandbox/shops/{shop}/uninstall?deliver=false")
    assert _token_request(sandbox, shop, grant_type="client_credentials", client_id="app-id",
                          client_secret="app-secret").json()["error"] == "invalid_client"
    given = sandbox.post(f"/_sandbox/shops/{shop}/install").json()
    assert sandbox.graphql(shop, given["access_token"], SHOP_QUERY).status_code == 200
