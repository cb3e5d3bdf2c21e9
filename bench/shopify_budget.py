"""Four workers sharing one shop's GraphQL budget: how close to Shopify's restore rate they spend
points, and how many calls Shopify answers THROTTLED, with the shared Redis bucket against the
baseline of the same workers without it (each only waiting out the THROTTLED answers it gets).

The Shopify sandbox prices each query with Shopify's rules and charges its own leaky bucket; the
shop holds enough orders that a query's actual cost is its requested cost. Both runs happen in one
process, one after the other, on the same sandbox, so the ratio between them is the figure.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
import uuid

import requests
from redis import Redis

from connector.http import recording
from connector.ratelimit import TokenBucket
from connector.shopify.budget import CostBudget
from connector.shopify.client import ShopConnection, ShopifyClient, ShopifyThrottled
from sandbox.server import BackgroundServer
from sandbox.shopify import ShopifySandboxSettings, create_app

WORKERS = 4
#: 40 orders, one object each, plus the connection: requested 42, and actual 42 once 40 exist.
QUERY = "query Page { orders(first: 40) { nodes { id } } }"
COST = 42
BUCKET, RATE = 400.0, 200.0


def _shop(url: str) -> ShopConnection:
    domain = f"bench-{uuid.uuid4().hex[:8]}.myshopify.com"
    requests.put(f"{url}/_sandbox/shops/{domain}", json={"client_id": "bench", "client_secret": domain,
                                                         "webhook_url": None}, timeout=10).raise_for_status()
    requests.post(f"{url}/_sandbox/shops/{domain}/orders/generate", params={"deliver": "false"},
                  json={"count": 40, "seed": 3}, timeout=120).raise_for_status()
    return ShopConnection(domain, "bench", domain, "2026-01", admin_base_url=f"{url}/shops/{domain}")


def _run(url: str, redis: Redis | None, calls: int) -> dict:
    connection = _shop(url)
    ShopifyClient(connection, allow_http=True).graphql(QUERY)  # the schema is loaded, the shop's bucket full again below
    requests.put(f"{url}/_sandbox/shops/{connection.domain}/bucket", timeout=10,
                 json={"maximum_available": BUCKET, "restore_rate": RATE, "currently_available": BUCKET}
                 ).raise_for_status()
    key = f"mlc:bench:shopify:{uuid.uuid4().hex}"
    clients = [ShopifyClient(connection, allow_http=True, budget=CostBudget(
        TokenBucket(redis, key, RATE, BUCKET) if redis is not None else None, max_wait=60.0))
        for _ in range(WORKERS)]
    answers = {"throttled": 0, "ok": 0, "gave_up": 0}
    lock = threading.Lock()

    def count(exchange):
        with lock:
            answers["throttled" if '"THROTTLED"' in (exchange.response_body or "") else "ok"] += 1

    def work(client):
        with recording(count):
            for _ in range(calls // WORKERS):
                try:
                    client.graphql(QUERY, cost=COST)
                except ShopifyThrottled:  # throttled again after every wait: its task would be retried
                    with lock:
                        answers["gave_up"] += 1

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    done = answers["ok"]
    # the bucket starts full: what was spent beyond it came at the restore rate
    return {"calls": done, "throttled": answers["throttled"], "gave_up": answers["gave_up"], "seconds": seconds,
            "rate_ratio": (done * COST - BUCKET) / seconds / RATE}


def run(calls: int = 100) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as workdir:
        process = None
        url = os.environ.get("REDIS_URL")
        if not url:
            from cli.stack import start_embedded_redis
            process, url = start_embedded_redis(workdir)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = BackgroundServer(create_app(ShopifySandboxSettings(time_scale=0.001))).start()
        try:
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            redis = Redis.from_url(url)
            shared = _run(server.url, redis, calls)
            alone = _run(server.url, None, calls)
        finally:
            server.stop()
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    print(f"{WORKERS} workers, {calls} calls of {COST} points, Shopify bucket {BUCKET:.0f} at {RATE:.0f}/s:")
    for name, result in (("shared Redis budget", shared), ("baseline: THROTTLED waits only", alone)):
        print(f"  {name:32} {result['calls']} calls in {result['seconds']:.1f}s, "
              f"{result['throttled']} THROTTLED answers, {result['gave_up']} calls given up, "
              f"points spent at {result['rate_ratio']:.2f} x the restore rate")
    ratio = (shared["throttled"] or 0) / max(1, alone["throttled"])
    print(f"  THROTTLED answers, shared budget / baseline: {ratio:.2f}")
