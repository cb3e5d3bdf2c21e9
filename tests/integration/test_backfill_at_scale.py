"""A backfill of a few thousand orders, through the real stack: killed halfway (SIGKILL, as a
crash or an operator's ^C^C leaves it), run again, it creates each invoice once and Fusion's
invoices add up to Shopify's orders to the cent.

Affordable for the suite: the Shopify sandbox generates the history in bulk (a few buyers who
come back, every order unpaid: one Fusion request per order), the shop is on the Plus plan's
bucket (20,000 points, 1,000 a second: Shopify's published figures) and the backfill may use all
of it; the bulk listing carries each order whole, so nothing is read order by order; the pod's
Fusion budget is raised on a stack of the module's own and the Fusion sandbox answers at once.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import Binding, BindingState, InboxEvent, Shop
from connector.services import backfill
from tests.support import FUSION_CLIENT, Fusion, TestShop, eventually, fusion_get

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

ORDERS = int(os.environ.get("MLC_TEST_BACKFILL_ORDERS", "2000"))
#: The pod's Fusion budget on this test's stack: the suite's stack keeps the default 10 requests/s
#: (tests/integration/test_busy_shop.py counts on it), which alone would hold 2,000 invoices for
#: 200 s; the sandbox answers at once, so the workers' own speed is what is measured here.
FAST_FUSION = {"MLC_FUSION_RATE": "2000", "MLC_FUSION_BURST": "2000"}
BATCH = 1000  # the sandbox's generator makes at most this many at a time
PLUS = {"maximum_available": 20000, "restore_rate": 1000, "currently_available": 20000}


@pytest.fixture(scope="module")
def fast_stack(tmp_path_factory):
    """A stack of this module's own (its own database, an embedded Redis, its own sandboxes and
    workers) whose pod allows :data:`FAST_FUSION`; the suite's settings are back afterwards."""
    from cli.stack import Stack, private_database
    from connector.config import reset_settings
    from tests.conftest import _configure_fusion
    saved = dict(os.environ)
    workdir = tmp_path_factory.mktemp("fast-stack")
    try:
        with private_database(workdir / "mlc.db", "mlc_scale") as url:
            instance = Stack(workdir, database_url=url, with_flower=False, fusion_sandbox=FUSION_CLIENT,
                             shopify_sandbox={"time_scale": 0.001},
                             extra_env={**FAST_FUSION, "MLC_SHOPIFY_RECONCILE_EVERY": "3600",
                                        **dict.fromkeys(("MLC_FUSION_POLL_INVOICES", "MLC_FUSION_POLL_CREDIT_MEMOS",
                                                         "MLC_FUSION_POLL_RECEIPTS", "MLC_FUSION_POLL_ACCOUNTS"),
                                                        "3600")})
            with instance:
                instance.wait_for_workers()
                _configure_fusion(instance)
                yield instance
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def backfill_command(shop) -> list[str]:
    return [sys.executable, "-m", "cli.main", "backfill", "--since", "2000-01-01", "--shop", shop.domain]


def env() -> dict:
    return {**os.environ, "COLUMNS": "300", "MLC_BACKFILL_BUDGET_SHARE": "1", "MLC_HTTP_READ_TIMEOUT": "30"}


def count(shop, what) -> int:
    """How many order events (``InboxEvent``) or synced order bindings (``Binding``) the shop has."""
    with session_scope(load_settings().database_url) as session:
        query = select(func.count()).select_from(what).join(Shop, Shop.id == what.shop_id).where(Shop.domain == shop.domain)
        if what is Binding:
            query = query.where(Binding.kind == "order", Binding.state == BindingState.synced)
        else:  # not the bulk operations' bulk_operations/finish
            query = query.where(InboxEvent.topic.like("orders/%"))
        return session.scalar(query)


def backfill_status(shop) -> list[str]:
    """The shop's row of the backfills table of ``ml-connector status``: since, state, listed,
    done, enqueued, …"""
    out = subprocess.run([sys.executable, "-m", "cli.main", "status"], capture_output=True, text=True, timeout=120,
                         env={**env(), "COLUMNS": "400"}).stdout
    table = out[out.index("backfills"):]
    row = next(line for line in table.splitlines() if shop.domain in line)
    return [cell.strip() for cell in row.strip("│ ").split("│")][1:]


def fusion_invoices(shop) -> list[dict]:
    """Every invoice of the shop in Fusion (its numbers start with the shop's prefix), page by page."""
    fusion, items, offset = Fusion(shop.stack.urls["fusion_sandbox"]), [], 0
    while True:
        body = fusion_get(fusion, Fusion.INVOICES, q=f"TransactionNumber LIKE '{shop.prefix}-%'", limit="500",
                          offset=str(offset), fields="CrossReference,EnteredAmount,InvoiceCurrencyCode")
        items += body["items"]
        if not body.get("hasMore"):
            return items
        offset += len(body["items"])


def test_given_thousands_of_orders_when_a_backfill_is_killed_halfway_and_run_again_then_each_is_invoiced_once(
        fast_stack):
    shop = TestShop.create(fast_stack, prefix=("S" + uuid.uuid4().hex[:7]).upper())
    # given a Plus shop with a history of a few thousand unpaid orders of a few returning buyers,
    # whose webhooks were never sent
    shopify = f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}"
    requests.put(f"{shopify}/bucket", json=PLUS, timeout=10).raise_for_status()
    first = random.randrange(10**6, 10**9)  # buyers of this run's own: the Fusion pod is shared
    started = time.monotonic()
    history = []
    for batch in range(0, ORDERS, BATCH):
        response = requests.post(f"{shopify}/orders/generate", params={"deliver": "false"}, timeout=120, json={
            "count": min(BATCH, ORDERS - batch), "seed": batch, "first": first + batch, "customers": 2,
            "guest_share": 0, "financial_status": "pending"})
        response.raise_for_status()
        history += response.json()["orders"]
    generated = time.monotonic()

    # when the backfill is killed once it has stored about half of them, then run again
    killed = subprocess.Popen(backfill_command(shop), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env())
    try:
        assert eventually(lambda: count(shop, InboxEvent) >= ORDERS // 2 or killed.poll() is not None,
                          timeout=240, interval=0.05)
        assert killed.poll() is None, killed.communicate()[0]
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    stored_when_killed = count(shop, InboxEvent)
    status_when_killed = backfill_status(shop)
    again = subprocess.run(backfill_command(shop), capture_output=True, text=True, timeout=300, env=env())
    enqueued = time.monotonic()
    assert again.returncode == 0, again.stdout + again.stderr
    assert eventually(lambda: count(shop, Binding) >= ORDERS, timeout=300, interval=0.5), count(shop, Binding)
    invoiced = time.monotonic()

    print(f"\n{ORDERS} orders generated in {generated - started:.1f} s; backfilled (killed at {stored_when_killed}, "
          f"resumed) and enqueued after {enqueued - generated:.1f} s; all invoiced after {invoiced - generated:.1f} s "
          f"({ORDERS / (invoiced - generated):.1f} orders/s)")

    # then the killed run had stopped part-way and the second went on from its checkpoint
    assert ORDERS // 2 <= stored_when_killed < ORDERS, stored_when_killed
    [second] = shop.audit("shopify.backfilled")  # the killed run recorded nothing
    assert second.detail["listed"] == second.detail["done"] == ORDERS, second.detail
    assert second.detail["resumed_from"] >= ORDERS // 2 - backfill.CHUNK, second.detail
    # and `status` showed the killed run interrupted part-way, and shows the backfill complete
    assert status_when_killed[:3] == ["2000-01-01", "interrupted", str(ORDERS)], status_when_killed
    assert ORDERS // 2 - backfill.CHUNK <= int(status_when_killed[3]) < ORDERS, status_when_killed
    assert backfill_status(shop)[:5] == ["2000-01-01", "complete", str(ORDERS), str(ORDERS), str(ORDERS)]
    # and each order has exactly one invoice in Fusion, for its total to the cent
    invoices = fusion_invoices(shop)
    by_order = Counter(invoice["CrossReference"] for invoice in invoices)
    assert sorted(by_order) == sorted(order["admin_graphql_api_id"] for order in history)
    assert set(by_order.values()) == {1}
    totals = {order["admin_graphql_api_id"]: (Decimal(order["total_price"]), order["currency"]) for order in history}
    assert {i["CrossReference"]: (Decimal(str(i["EnteredAmount"])), i["InvoiceCurrencyCode"]) for i in invoices} == totals
    # and one event was stored per order, however often the backfill ran
    assert count(shop, InboxEvent) == ORDERS
