"""How fast the receiver verifies and stores webhooks, against a bare request to the same server.

Baseline: ``GET /healthz`` on the same gunicorn (one database and one Redis round trip, no HMAC,
no insert), from the same client threads, in the same run.
"""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.measure import percentiles, stopwatch
from bench.pipeline import add_shop
from connector.shopify.webhooks import sign

THREADS = 8


def _timed(session: requests.Session, method: str, url: str, **kwargs) -> float:
    with stopwatch() as t:
        response = session.request(method, url, timeout=30, **kwargs)
    response.raise_for_status()
    return t["seconds"]


def run(stack, *, webhooks: int, **_) -> None:
    domain, secret = add_shop(stack, "benchrx")
    receiver = stack.urls["receiver"]
    # customers/update events: stored and processed, but each is cheap for the workers
    bodies = []
    for i in range(webhooks):
        body = json.dumps({"id": 10_000 + i, "admin_graphql_api_id": f"gid://shopify/Customer/{10_000 + i}",
                           "email": f"rx{i}@example.com", "first_name": "Bench", "last_name": str(i),
                           "addresses": []}).encode()
        bodies.append((body, {"Content-Type": "application/json", "X-Shopify-Topic": "customers/update",
                              "X-Shopify-Shop-Domain": domain, "X-Shopify-Event-Id": str(uuid.uuid4()),
                              "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-01",
                              "X-Shopify-Hmac-Sha256": sign(secret, body)}))
    session = requests.Session()

    with ThreadPoolExecutor(THREADS) as pool, stopwatch() as base:
        base_latencies = list(pool.map(lambda _: _timed(session, "GET", f"{receiver}/healthz"), range(webhooks)))
    with ThreadPoolExecutor(THREADS) as pool, stopwatch() as hooks:
        latencies = list(pool.map(lambda b: _timed(session, "POST", f"{receiver}/webhooks/shopify",
                                                   data=b[0], headers=b[1]), bodies))
    with ThreadPoolExecutor(THREADS) as pool, stopwatch() as dupes:
        list(pool.map(lambda b: _timed(session, "POST", f"{receiver}/webhooks/shopify",
                                       data=b[0], headers=b[1]), bodies))

    print(f"\nreceiver ({webhooks} deliveries, {THREADS} client threads, {stack.database_url.split(':')[0]})")
    print(f"  baseline GET /healthz      {webhooks / base['seconds']:8.0f} req/s   {percentiles(base_latencies)}")
    print(f"  new webhooks (verify+store) {webhooks / hooks['seconds']:7.0f} req/s   {percentiles(latencies)}")
    print(f"  duplicates (verify+lookup)  {webhooks / dupes['seconds']:7.0f} req/s")
    print("  Shopify allows 5 s per delivery; p95 above is what a delivery costs here.")
