"""Shopify reconciliation: what a run costs in Admin API requests and query points.

A private stack (beat's own reconciliations an hour apart, so only the runs made here count)
with N generated orders whose webhooks all arrived. The idle run finds nothing to do: its
requests are counted against the baseline of the listing pages alone (one per 25 orders, one per
100 customers), which no reconciliation can do without. Then N more orders are placed with every
webhook lost; the measured run reads each one (and its customer) and enqueues it, against the
baseline of the listing pages plus one read per lost object; the time until every one of them is
invoiced is given too. The client's cost bucket paces the reads to Shopify's restore rate: the
run's seconds are mostly that wait. Points are the requested cost Shopify charges before a query
runs (the sandbox's calculator on Shopify's schema).
"""
from __future__ import annotations

import math
import time

import requests
from graphql import parse

from connector.config import load_settings
from connector.db import session_scope
from connector.http import recording
from connector.services import reconcile
from connector.services.context import Services
from connector.shopify import search
from sandbox.shopify.cost import CostCalculator
from sandbox.shopify.graphql_api import get_schema

QUIET = {"MLC_SHOPIFY_RECONCILE_EVERY": "3600"}


def _run(domain: str) -> tuple[reconcile.ShopResult, int, int, float]:
    """One reconciliation of the shop in this process: (result, requests, points, seconds)."""
    from workers.dispatch import send_after_commit
    services = Services(load_settings())
    exchanges = []
    clock = time.monotonic()
    with session_scope(services.settings.database_url) as session, recording(exchanges.append):
        [result] = reconcile.run(services, session, send_after_commit, shop_domain=domain, days=1)
    seconds = time.monotonic() - clock
    calls, points = shopify_points(exchanges)
    return result, calls, points, seconds


def shopify_points(exchanges) -> tuple[int, int]:
    """(Admin GraphQL calls among the recorded exchanges, the query points they requested), priced
    by the Shopify sandbox's cost calculation as Shopify prices a query before it runs."""
    calls = [x for x in exchanges if x.system == "shopify" and x.url.endswith("/graphql.json")]
    calculator = CostCalculator(get_schema())
    points = 0
    for call in calls:
        document = parse(call.request_body["query"])
        points += calculator.requested(document, document.definitions[0], call.request_body.get("variables") or {})
    return len(calls), points


def run(stack, orders: int = 100) -> None:
    from bench.pipeline import add_shop, synced
    shopify = stack.urls["shopify_sandbox"]
    domain, _ = add_shop(stack, "recon")
    requests.post(f"{shopify}/_sandbox/shops/{domain}/orders/generate", json={"count": orders, "seed": 5},
                  timeout=300).raise_for_status()
    deadline = time.monotonic() + 600
    while synced(domain) < orders and time.monotonic() < deadline:
        time.sleep(0.2)
    _run(domain)  # the shop's token, and whatever the customers' own webhooks left
    idle, calls, points, seconds = _run(domain)
    baseline = math.ceil(idle.orders / search.ORDER_PAGE) + math.ceil(idle.customers / search.LISTING_PAGE)
    print(f"idle reconciliation of {idle.orders} orders, {idle.customers} customers (every webhook arrived): "
          f"{calls} requests (baseline, the listing pages: {baseline}), ratio {calls / baseline:.2f}, "
          f"{points} points requested, {idle.enqueued} enqueued, {seconds * 1000:.0f} ms")

    requests.post(f"{shopify}/_sandbox/shops/{domain}/orders/generate", params={"deliver": "false"},
                  json={"count": orders, "seed": 6, "first": orders}, timeout=300).raise_for_status()
    lost, calls, points, seconds = _run(domain)
    enqueued = _kinds(lost).get("order", 0)
    clock = time.monotonic()
    deadline = clock + 600
    while synced(domain) < orders + enqueued and time.monotonic() < deadline:
        time.sleep(0.2)
    booked = time.monotonic() - clock
    reads = len(lost.found)
    baseline = (math.ceil(lost.orders / search.ORDER_PAGE) + math.ceil(lost.customers / search.LISTING_PAGE)
                + reads)
    print(f"reconciliation of {orders} orders whose webhooks were lost: {lost.enqueued} enqueued "
          f"({', '.join(f'{k} {n}' for k, n in _kinds(lost).items())}), {calls} requests (baseline, the listing "
          f"pages and one read per object: {baseline}), ratio {calls / baseline:.2f}, {points} points requested "
          f"({points / max(1, reads):.0f} per object), {seconds:.1f} s; {synced(domain) - orders} of its "
          f"{enqueued} orders invoiced {booked:.1f} s after it")


def _kinds(result: reconcile.ShopResult) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for found in result.found:
        kinds[found.kind] = kinds.get(found.kind, 0) + 1
    return kinds
