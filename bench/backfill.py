"""Backfill: orders per second, and the Shopify points it spends against the shop's cost budget.

A private stack; N generated orders are placed with every webhook lost (a new merchant's
history). One backfill of the shop runs in this process, as ``ml-connector backfill`` does:
its rate is orders listed and enqueued per second of the run, and then orders invoiced per second
until the last one is synced. Its points are what Shopify charged (``actualQueryCost`` of each
answer, as the client's cost budget tallies it; the sandbox prices queries with Shopify's rules),
compared with the budget the run had:
the bucket it started with plus the restore rate over its seconds (``MLC_SHOPIFY_RESTORE_RATE``,
``MLC_SHOPIFY_BUCKET_SIZE``): a ratio near 1 means the backfill went as fast as Shopify lets it,
well below 1 that something else (our own database, the listing) held it. The backfill paces
its own reads to ``MLC_BACKFILL_BUDGET_SHARE`` of that budget. Not counted: the workers' reads
while they book the backfilled events (a paid order's transactions), made from their own
processes against the same shop bucket and not held to the share.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import requests

from bench.reconcile import shopify_points
from connector.config import load_settings
from connector.db import session_scope
from connector.http import recording
from connector.models import Shop
from connector.services import backfill
from connector.services.context import Services

QUIET = {"MLC_SHOPIFY_RECONCILE_EVERY": "3600"}  # beat's reconciliation would find the same orders


def run(stack, orders: int = 100) -> None:
    from bench.pipeline import add_shop, synced
    from workers.dispatch import send_backlog_after_commit
    shopify = stack.urls["shopify_sandbox"]
    domain, _ = add_shop(stack, "backfill")
    requests.post(f"{shopify}/_sandbox/shops/{domain}/orders/generate", params={"deliver": "false"},
                  json={"count": orders, "seed": 7}, timeout=300).raise_for_status()
    services = Services(load_settings())
    settings = services.settings
    exchanges = []
    clock = time.monotonic()
    with session_scope(settings.database_url) as session, recording(exchanges.append):
        shop = session.query(Shop).filter_by(domain=domain).one()
        result = backfill.run(services, session, send_backlog_after_commit, shop,
                              datetime.now(timezone.utc).date().replace(year=2000), poll_seconds=0.2)
    seconds = time.monotonic() - clock
    assert not result.error, result.error
    deadline = time.monotonic() + 900
    while synced(domain) < result.listed and time.monotonic() < deadline:
        time.sleep(0.2)
    invoiced = time.monotonic() - clock

    calls, requested = shopify_points(exchanges)
    with session_scope(settings.database_url) as session:  # the client the run used, and its budget's tally
        stats = services.shopify(session, session.query(Shop).filter_by(domain=domain).one()).budget.stats
    budget = settings.shopify_bucket_size + settings.shopify_restore_rate * seconds
    share = settings.backfill_budget_share
    print(f"backfill of {result.listed} orders whose webhooks were lost: {result.enqueued} events enqueued in "
          f"{seconds:.1f} s ({result.listed / seconds:.2f} orders/s listed and enqueued), all invoiced after "
          f"{invoiced:.1f} s ({synced(domain) / invoiced:.2f} orders/s); {calls} Shopify requests "
          f"({stats.throttled} THROTTLED), {stats.actual:.0f} points charged ({requested} requested, "
          f"{stats.actual / max(1, result.listed):.0f} per order) against the budget the run had, "
          f"{budget:.0f} ({settings.shopify_bucket_size} bucket + {settings.shopify_restore_rate:.0f}/s x "
          f"{seconds:.1f} s): ratio {stats.actual / budget:.2f} (MLC_BACKFILL_BUDGET_SHARE {share:g})")
