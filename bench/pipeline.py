"""Orders per second from Shopify webhook to Fusion invoice, against Fusion's own floor.

Baseline: the same number of invoices POSTed straight to the Fusion sandbox by the connector's
Fusion client, one after another: the least any pipeline must spend on Fusion. The pipeline adds
the customer look-ups, the inbox, the queues and the bookkeeping; the ratio shows what they cost.
"""
from __future__ import annotations

import os
import secrets
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from sqlalchemy import func, select

from bench import private
from bench.measure import rss_mb, stopwatch
from cli.stack import Stack
from connector.config import load_settings
from connector.db import session_scope
from connector.models import Binding, BindingKind, BindingState
from connector.services.context import Services
from connector.services.setup import add_shop as add_connector_shop
from connector.services.setup import set_fusion

FUSION = {"client_id": "mlc-bench", "client_secret": secrets.token_urlsafe(16),
          "scope": "urn:opc:resource:fa:instanceid=100000001urn:opc:resource:consumer::all"}


def configure_fusion(stack) -> None:
    fusion = stack.urls["fusion_sandbox"]
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        set_fusion(session, services.vault, base_url=fusion, token_url=f"{fusion}/oauth2/v1/token",
                   client_id=FUSION["client_id"], scope=FUSION["scope"], secret=FUSION["client_secret"])


def add_shop(stack, name: str) -> tuple[str, str]:
    domain, secret = f"{name}-{uuid.uuid4().hex[:6]}.myshopify.com", "shpss_" + secrets.token_hex(12)
    shopify = stack.urls["shopify_sandbox"]
    requests.put(f"{shopify}/_sandbox/shops/{domain}", timeout=10, json={
        "client_id": f"{name}-app", "client_secret": secret, "currency": "USD", "taxes_included": False,
        "webhook_url": f"{stack.urls['receiver']}/webhooks/shopify"}).raise_for_status()
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        add_connector_shop(session, services.vault, domain=domain, client_id=f"{name}-app",
                           client_secret=secret, prefix=name[:8].upper(),
                           admin_base_url=f"{shopify}/shops/{domain}")
    return domain, secret


def _fusion_floor(stack, count: int, account_number: str) -> float:
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        client = services.fusion(session)
    mapping = services.mapping.fusion
    with stopwatch() as t:
        for i in range(count):
            client.invoices.create({
                "BusinessUnit": mapping.business_unit, "TransactionSource": mapping.transaction_source,
                "TransactionType": mapping.invoice_type, "TransactionNumber": f"FLOOR-{uuid.uuid4().hex[:12]}",
                "BillToCustomerNumber": account_number, "InvoiceCurrencyCode": "USD",
                "receivablesInvoiceLines": [{"LineNumber": 1, "Description": "floor", "Quantity": 1,
                                             "UnitSellingPrice": 10, "MemoLine": "Merchandise"}]})
    return t["seconds"]


def synced(domain: str) -> int:
    from connector.models import Shop
    with session_scope(load_settings().database_url) as session:
        return session.scalar(select(func.count()).select_from(Binding).join(Shop, Shop.id == Binding.shop_id)
                              .where(Shop.domain == domain, Binding.kind == BindingKind.order,
                                     Binding.state == BindingState.synced))


def request_count(stats) -> int:
    """The Fusion sandbox's count of the requests it answered, from ``/_sandbox/stats``."""
    return sum(v for v in stats.values() if isinstance(v, int)) if isinstance(stats, dict) else 0


def run(stack, *, orders: int, **_) -> None:
    domain, _ = add_shop(stack, "bench")
    shopify = stack.urls["shopify_sandbox"]
    requests.delete(f"{stack.urls['fusion_sandbox']}/_sandbox/stats", timeout=10)
    with stopwatch() as t:
        # the sandbox's generator places the orders (and fires their webhooks) as they are made
        requests.post(f"{shopify}/_sandbox/shops/{domain}/orders/generate", json={"count": orders, "seed": 11},
                      timeout=300).raise_for_status()
        while synced(domain) < orders:
            time.sleep(0.05)
    stats = requests.get(f"{stack.urls['fusion_sandbox']}/_sandbox/stats", timeout=10).json()
    fusion_calls = request_count(stats)

    with session_scope(load_settings().database_url) as session:
        account = session.scalar(select(Binding.fusion_number).where(Binding.kind == "customer",
                                                                      Binding.state == BindingState.synced))
    floor = _fusion_floor(stack, orders, account)

    print(f"\npipeline ({orders} generated orders, Shopify sandbox → receiver → workers → Fusion sandbox)")
    rate = load_settings().fusion_rate_per_second
    print(f"  (both share the Fusion request budget MLC_FUSION_RATE={rate:g}/s, as in production)")
    print(f"  baseline: Fusion invoice POSTs alone, sequential  {orders / floor:7.1f} invoices/s")
    print(f"  pipeline: webhook to synced invoice, end to end   {orders / t['seconds']:7.1f} orders/s "
          f"({t['seconds'] / (floor or 1):.1f}x the floor's time)")
    print(f"  Fusion requests per order: {fusion_calls / orders:.2f} (floor: 1.00)")
    print(f"  memory: workers {rss_mb(stack.pids(), 'worker-'):.0f} MiB, web {rss_mb(stack.pids(), 'web'):.0f} MiB")


@contextmanager
def private_stack(name: str, *, env: dict, latency_ms: int, processes: dict | None = None):
    """A stack of its own (a database and a Redis database of its own, both sandboxes, the
    production pools) with Fusion answering after ``latency_ms``, and one shop; the caller's
    environment is given back afterwards (a stack rewrites DATABASE_URL and REDIS_URL)."""
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix=f"mlc-{name}-") as workdir, \
            private.database(Path(workdir)) as database_url, private.redis(Path(workdir)) as redis_url:
        stack = Stack(workdir, database_url=database_url, redis_url=redis_url, with_flower=False,
                      fusion_sandbox=FUSION, extra_env=env, worker_processes=processes or {})
        try:
            with stack:
                stack.wait_for_workers()
                configure_fusion(stack)
                domain, _ = add_shop(stack, name)
                fusion(stack, "POST", "faults", json={"latency_ms": latency_ms})
                yield stack, domain
        finally:
            os.environ.clear()  # the stack rewrote DATABASE_URL and REDIS_URL to its own
            os.environ.update(environment)


def fusion(stack, method: str, what: str, **kwargs):
    response = requests.request(method, f"{stack.urls['fusion_sandbox']}/_sandbox/{what}", timeout=30, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None
