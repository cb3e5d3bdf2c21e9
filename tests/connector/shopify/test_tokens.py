"""A shop's token in every mode against the Shopify sandbox over HTTP: refreshed before it
expires, refreshed once (single flight) when it is refused mid-way while four workers use it,
the rotated refresh token stored, and a revoked app marked "reauthorize"."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from connector.config import Settings
from connector.db import session_scope
from connector.models import Shop, TokenMode
from connector.services import shop_tokens
from connector.services.context import Services
from connector.services.setup import add_shop
from connector.shopify import oauth
from connector.shopify.client import ReauthorizationRequired
from connector.vault import generate_key, shop_scope
from tests.connector.shopify.conftest import new_shop

WORKERS = 4
KEY = generate_key()


@pytest.fixture
def settings(migrated, redis_url):
    return Settings(database_url=migrated, redis_url=redis_url, encryption_keys=(KEY,), allow_http=True,
                    shopify_refresh_before_seconds=300, shopify_token_keepalive_seconds=300)


@pytest.fixture
def sandbox(make_shopify):
    return make_shopify()


def set_up(sandbox, settings, *, mode=TokenMode.client_credentials, expires_in=None, **shop_fields):
    """A sandbox shop, set up in the connector with a token of ``mode`` (installed from what the
    app's installation gives, its lifetime as the connector believes it: ``expires_in``)."""
    connection = new_shop(sandbox, prefix="tokens", **shop_fields)
    services = Services(settings)
    with session_scope(settings.database_url) as session:
        shop = add_shop(session, services.vault, domain=connection.domain, client_id=connection.client_id,
                        client_secret=connection.client_secret, prefix="TK" + connection.domain[7:13].upper(),
                        admin_base_url=connection.admin_base_url)
        if mode != TokenMode.client_credentials:
            given = sandbox.post(f"/_sandbox/shops/{connection.domain}/offline_token").json()
            grant = oauth.Grant(given["access_token"], expires_in if expires_in is not None else given.get("expires_in"),
                                given.get("refresh_token", ""), given.get("refresh_token_expires_in"))
            shop_tokens.install(services, session, shop, mode, grant)
    return connection.domain


def client(settings, domain):
    """A worker's client: services of its own (its own token cache), as in another process."""
    services = Services(settings)
    with session_scope(settings.database_url) as session:
        return services.shopify(session, session.scalar(select(Shop).where(Shop.domain == domain)))


def counts(sandbox, domain) -> dict:
    return sandbox.get(f"/_sandbox/shops/{domain}/tokens").json()


def stored(settings, domain) -> tuple[Shop, str]:
    services = Services(settings)
    with session_scope(settings.database_url) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        session.expunge(shop)
        return shop, services.vault.get(session, shop_scope(domain), shop_tokens.REFRESH_TOKEN) or ""


def test_given_an_expiring_token_near_its_end_then_it_is_refreshed_before_use(sandbox, settings):
    domain = set_up(sandbox, settings, mode=TokenMode.expiring, expires_in=120, expiring_offline_tokens=True)
    _, installed_refresh = stored(settings, domain)
    worker = client(settings, domain)
    # when the worker calls with a token that expires within MLC_SHOPIFY_REFRESH_BEFORE
    worker.ping()
    worker.ping()
    # then it refreshed once, first, and Shopify never saw the old token refused
    assert counts(sandbox, domain) == {"client_credentials": 0, "refresh_token": 1, "refused": 0, "unauthorized": 0}
    shop, rotated = stored(settings, domain)
    assert rotated and rotated != installed_refresh  # the rotated refresh token is the one stored
    assert shop.access_token_expires_at is not None and shop.auth_state == "ok"


def test_given_a_token_refused_mid_way_then_one_refresh_for_four_workers(sandbox, settings):
    domain = set_up(sandbox, settings, mode=TokenMode.expiring, expiring_offline_tokens=True)
    workers = [client(settings, domain) for _ in range(WORKERS)]
    expired, resumed = threading.Barrier(WORKERS + 1), threading.Barrier(WORKERS + 1)
    results, errors = [], []

    def work(worker):
        try:
            results.append(worker.ping()["myshopifyDomain"])
            expired.wait(30)
            resumed.wait(30)
            for _ in range(3):
                results.append(worker.ping()["myshopifyDomain"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
            for barrier in (expired, resumed):
                barrier.abort()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    expired.wait(30)
    # when the token Shopify issued reaches its end while every worker holds it
    assert sandbox.post(f"/_sandbox/shops/{domain}/tokens/expire").json()["expired"] == 1
    resumed.wait(30)
    for thread in threads:
        thread.join(60)
    # then each worker was refused once, and Shopify was asked for one refresh in all
    assert errors == [] and results == [domain] * (WORKERS * 4)
    assert counts(sandbox, domain) == {"client_credentials": 0, "refresh_token": 1, "refused": 0,
                                       "unauthorized": WORKERS}


def test_given_client_credentials_then_four_workers_share_one_grant(sandbox, settings):
    domain = set_up(sandbox, settings)
    workers = [client(settings, domain) for _ in range(WORKERS)]
    threads = [threading.Thread(target=w.ping) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert counts(sandbox, domain)["client_credentials"] == 1
    assert stored(settings, domain)[0].access_token_expires_at is not None


def test_given_a_refused_refresh_token_then_the_shop_needs_reauthorization(sandbox, settings):
    domain = set_up(sandbox, settings, mode=TokenMode.expiring, expires_in=0, expiring_offline_tokens=True)
    sandbox.post(f"/_sandbox/shops/{domain}/uninstall?deliver=false")
    worker = client(settings, domain)
    with pytest.raises(ReauthorizationRequired, match="shops token"):
        worker.ping()
    shop, _ = stored(settings, domain)
    assert shop.auth_state == "reauthorize" and "refresh token" in shop.auth_reason
    # and no worker asks Shopify again until a fresh token is installed
    before = counts(sandbox, domain)
    with pytest.raises(ReauthorizationRequired):
        client(settings, domain).ping()
    assert counts(sandbox, domain) == before


def test_given_an_offline_token_refused_then_the_shop_needs_reauthorization(sandbox, settings):
    domain = set_up(sandbox, settings, mode=TokenMode.offline)
    worker = client(settings, domain)
    worker.ping()
    sandbox.post(f"/_sandbox/shops/{domain}/uninstall?deliver=false")
    with pytest.raises(ReauthorizationRequired):
        worker.ping()
    assert stored(settings, domain)[0].auth_state == "reauthorize"
    assert counts(sandbox, domain)["refresh_token"] == 0


def test_given_tokens_near_expiry_then_the_keepalive_refreshes_them_once(sandbox, settings):
    near = set_up(sandbox, settings, mode=TokenMode.expiring, expires_in=400, expiring_offline_tokens=True)
    far = set_up(sandbox, settings, mode=TokenMode.expiring, expiring_offline_tokens=True)
    # when beat's keepalive runs (refresh-before 300 s + keepalive 300 s: 400 s is within reach)
    first = shop_tokens.keep_tokens(Services(settings))
    again = shop_tokens.keep_tokens(Services(settings))
    assert first.get(near) == "refreshed" and far not in first
    assert near not in again
    assert counts(sandbox, near)["refresh_token"] == 1 and counts(sandbox, far)["refresh_token"] == 0
