"""Worker pools against a slow Fusion: threads (production's default) against prefork.

Fusion answers every request after ``LATENCY_MS`` (a realistic pod), with a budget far above
what either pool can use, so the pool is what limits throughput: orders per second from webhook
to synced invoice, the Fusion requests in flight on average (requests per second × latency,
Little's law), and the workers' memory. Baseline: the same orders, stack and settings with
``MLC_WORKER_POOL=prefork`` (one process per core), measured in the same run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from bench import pipeline
from bench.measure import rss_mb

LATENCY_MS = 300
RATE = 1000          # MLC_FUSION_RATE: generous, so that the pool is what limits


@dataclass
class Result:
    pool: str
    seconds: float
    orders: int
    fusion_requests: int
    worker_mib: float

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds

    @property
    def in_flight(self) -> float:
        return self.fusion_requests / self.seconds * LATENCY_MS / 1000


def measure(pool: str, orders: int) -> Result:
    env = {"MLC_WORKER_POOL": pool, "MLC_FUSION_RATE": str(RATE), "MLC_FUSION_BURST": str(RATE)}
    with pipeline.private_stack("pools", env=env, latency_ms=LATENCY_MS) as (stack, domain):
        pipeline.fusion(stack, "DELETE", "stats")
        started = time.monotonic()
        requests.post(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{domain}/orders/generate",
                      json={"count": orders, "seed": 11}, timeout=600).raise_for_status()
        while pipeline.synced(domain) < orders:
            time.sleep(0.05)
        seconds = time.monotonic() - started
        stats = pipeline.fusion(stack, "GET", "stats")
        return Result(pool, seconds, orders, pipeline.request_count(stats), rss_mb(stack.pids(), "worker-"))


def run(*, orders: int, **_) -> None:
    results = [measure(pool, orders) for pool in ("prefork", "threads")]
    prefork, threads = results
    print(f"\nworker pools ({orders} generated orders, Fusion answering in {LATENCY_MS} ms, budget {RATE}/s)")
    for r in results:
        print(f"  {r.pool:8} {r.orders_per_second:6.1f} orders/s  {r.fusion_requests / r.orders:4.2f} Fusion requests/order"
              f"  {r.in_flight:5.1f} requests in flight  workers {r.worker_mib:5.0f} MiB")
    print(f"  threads / prefork: {threads.orders_per_second / prefork.orders_per_second:.1f}x the orders/s, "
          f"{threads.in_flight / max(prefork.in_flight, 0.01):.1f}x the requests in flight, "
          f"{threads.worker_mib / prefork.worker_mib:.2f}x the memory")
