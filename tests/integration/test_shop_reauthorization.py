"""A shop whose app is uninstalled: its work parks instead of failing in a loop, ``status`` and
``ping`` say so, and ``ml-connector shops token`` with the token of the reinstalled app brings it
back, replaying what parked meanwhile. Real receiver, workers, sandboxes and CLI processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import requests
from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import InboxState, Shop
from connector.services import shop_auth
from tests.factories import new_order
from tests.support import eventually


def cli(*command: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *command], capture_output=True, text=True,
                          input=stdin, timeout=120, env=dict(os.environ, COLUMNS="300"))


def sandbox(shop, method: str, path: str, body: dict | None = None) -> dict:
    response = requests.request(method, f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}{path}",
                                json=body if body is not None else {}, timeout=10)
    response.raise_for_status()
    return response.json()


def stored_shop(shop) -> Shop:
    with session_scope(load_settings().database_url) as session:
        row = session.scalar(select(Shop).where(Shop.domain == shop.domain))
        session.expunge(row)
        return row


def events(shop, topic: str, resource_id) -> list:
    return [e for e in shop.inbox() if e.topic == topic and e.resource_id == str(resource_id)]


def test_given_the_app_uninstalled_then_work_parks_until_a_fresh_token_is_installed(shop):
    # given a shop on an expiring offline token, installed with `shops token` from what installing gives
    sandbox(shop, "PUT", "", {"expiring_offline_tokens": True})
    installed = cli("shops", "token", shop.domain, "--stdin", stdin=json.dumps(sandbox(shop, "POST", "/offline_token")))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert stored_shop(shop).token_mode == "expiring"
    # and a paid order that went through, its payment read over GraphQL with that token
    first = shop.place_order(new_order())
    shop.act(f"orders/{first['id']}/transactions", {"kind": "sale"})
    assert shop.quiet() and eventually(lambda: shop.holds(first), timeout=60)
    later = shop.place_order(new_order(), deliver=False)

    # when the merchant uninstalls the app
    sandbox(shop, "POST", "/uninstall")

    # then the shop needs reauthorization, and an event for it parks once with a clear message
    assert eventually(lambda: stored_shop(shop).auth_state == "reauthorize", timeout=60)
    assert stored_shop(shop).auth_reason == shop_auth.UNINSTALLED
    assert shop.deliver("orders/create", later).status_code == 200
    assert eventually(lambda: [e.state for e in events(shop, "orders/create", later["id"])] == [InboxState.parked])
    [parked] = events(shop, "orders/create", later["id"])
    assert parked.last_error.startswith(shop_auth.PARKED_NOTE) and f"shops token {shop.domain}" in parked.last_error
    assert parked.attempts == 1

    # and `status` and `ping` show it
    status = cli("status")
    assert status.returncode == 0, status.stderr
    [row, *_] = [line for line in status.stdout.splitlines() if shop.domain in line]
    assert "reauthorize" in row, status.stdout and "app was uninstalled" in row and "shops token" in row
    ping = cli("ping")
    assert ping.returncode == 1
    [row, *_] = [line for line in ping.stdout.splitlines() if shop.domain in line]
    assert "FAILED" in row and "needs reauthorization" in row

    # when the merchant installs the app again and the operator installs its token
    fresh = cli("shops", "token", shop.domain, "--stdin", stdin=json.dumps(sandbox(shop, "POST", "/install")))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "queued 1 replay(s)" in fresh.stdout
    # then the state is clear and the parked event is booked after all
    assert stored_shop(shop).auth_state == "ok"
    assert eventually(lambda: [e.state for e in events(shop, "orders/create", later["id"])] == [InboxState.done],
                      timeout=60)
    shop.wait_invoiced(later)
    assert [a.detail.get("mode") for a in shop.audit("shop.token_installed")] == ["expiring", "expiring"]
    assert len(shop.audit("shop.reauthorization_required")) == 1


def test_given_a_refresh_token_refused_mid_way_then_the_event_parks_once_and_the_shop_needs_reauthorization(shop):
    # given a shop whose stored token has expired and whose refresh token Shopify never issued
    sandbox(shop, "PUT", "", {"expiring_offline_tokens": True})
    installed = cli("shops", "token", shop.domain, "--stdin", "--expires-in", "0",
                    stdin="shpat_long_gone\nshprt_never_issued\n")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)  # an unpaid order needs nothing from Shopify
    # when its payment must be read from Shopify
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale"})
    # then the refresh is refused, the shop needs reauthorization and the event parks after one attempt
    assert eventually(lambda: [e.state for e in events(shop, "orders/paid", order["id"])] == [InboxState.parked],
                      timeout=60)
    [parked] = events(shop, "orders/paid", order["id"])
    assert parked.attempts == 1 and parked.last_error.startswith(shop_auth.PARKED_NOTE)
    row = stored_shop(shop)
    assert row.auth_state == "reauthorize" and "invalid_grant" in row.auth_reason
    assert sandbox(shop, "GET", "/tokens")["refused"] == 1
