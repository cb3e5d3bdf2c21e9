"""A quiet shop's latency during another shop's burst, with the Fusion budget shared out per shop
(``MLC_FUSION_FAIR_SHARE=true``) and without it (one budget and one lane, first come first served).

The pod allows R requests/s (429 with ``Retry-After`` beyond) and the connector's bucket is
configured to the same R. Shop A places ``orders`` orders at once; while their backlog drains,
shop B places a few orders, one every few seconds. Both shops' customers are known (a warm-up
books one order of each first), so each order costs one Fusion request, the invoice POST. Figures,
both modes in one run on stacks of their own: shop B's p50 / p95 from ``orders/create`` fired to
its invoice, their ratio, the pod's use against R while A's backlog drains, and the 429s the pod
answered.
"""
from __future__ import annotations

import statistics
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import func, select

from bench import pipeline, throughput
from connector.config import load_settings
from connector.db import session_scope
from connector.models import AuditEvent, InboxEvent, ProcessingAttempt, Shop
from sandbox.shopify.generator import generate_orders

LATENCY_MS = 300
ORDERS = 120        # shop A's burst
RATE = 3.0          # R, requests/s: well below what the workers manage on a loaded 2-core machine
QUIET_ORDERS = 5
QUIET_EVERY = 3.0   # seconds between two of the quiet shop's orders


def unpaid(count: int, seed: int, first: int = 0) -> list[dict]:
    """Orders that stay unpaid: one Fusion request each once the customer is known (no receipt)."""
    return [o for o in generate_orders(count * 5, seed, first=first) if o["financial_status"] != "paid"][:count]


def received_latencies(domain: str, since: datetime) -> list[float]:
    """Seconds from each ``orders/create`` the receiver stored after ``since`` to its invoice: the
    connector's part alone (the Shopify sandbox's delivery threads serve both shops in turn)."""
    with session_scope(load_settings().database_url) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain))
        received = dict(session.execute(select(InboxEvent.resource_id, InboxEvent.received_at).where(
            InboxEvent.shop_id == shop_id, InboxEvent.topic == "orders/create")).all())
        invoiced = dict(session.execute(select(AuditEvent.subject_id, AuditEvent.occurred_at).where(
            AuditEvent.shop_id == shop_id, AuditEvent.action.in_(("invoice.created", "invoice.adopted")))).all())
    utc = {order: at.replace(tzinfo=None) for order, at in received.items()}  # UTC, with or without a zone
    start = since.replace(tzinfo=None)
    return sorted((at.replace(tzinfo=None) - utc[order]).total_seconds() for order, at in invoiced.items()
                  if order in utc and utc[order] >= start)


def yields() -> int:
    """Attempts deferred because their shop was over its share while another waited."""
    with session_scope(load_settings().database_url) as session:
        return session.scalar(select(func.count()).select_from(ProcessingAttempt)
                              .where(ProcessingAttempt.error.like("yielded:%")))


def one_mode(fair: bool, rate: float, orders: int, seed: int) -> dict:
    env = {"MLC_FUSION_RATE": str(rate), "MLC_FUSION_BURST": str(max(1, int(rate) // 2)),
           "MLC_FUSION_FAIR_SHARE": "true" if fair else "false"}
    with pipeline.private_stack("share", env=env, latency_ms=LATENCY_MS) as (stack, busy):
        quiet, _ = pipeline.add_shop(stack, "quiet")
        busy_templates, quiet_templates = unpaid(10, seed), unpaid(QUIET_ORDERS, seed + 1, first=10_000)
        # warm-up: every customer known before the burst
        throughput.place(stack, busy, busy_templates)
        throughput.place(stack, quiet, quiet_templates)
        throughput.wait_settled(len(busy_templates), busy)
        throughput.wait_settled(len(quiet_templates), quiet)

        pipeline.fusion(stack, "POST", "faults", json={"rate_limit": {"requests_per_second": rate, "burst": int(rate)}})
        pipeline.fusion(stack, "DELETE", "stats")
        since = datetime.now(timezone.utc)
        stop, samples = threading.Event(), []
        sampler = threading.Thread(target=throughput.sample_requests, args=(stack, stop, samples))
        sampler.start()
        burst = threading.Thread(target=throughput.place, args=(
            stack, busy, [busy_templates[i % len(busy_templates)] for i in range(orders)]))
        try:
            burst.start()
            for order in quiet_templates:  # the same customers again, during the burst
                time.sleep(QUIET_EVERY)
                throughput.place(stack, quiet, [order])
            burst.join()
            throughput.wait_settled(len(busy_templates) + orders, busy)
            throughput.wait_settled(2 * len(quiet_templates), quiet)
        finally:
            stop.set()
            sampler.join()
        refused = pipeline.fusion(stack, "GET", "load")["rate_limited"]
        times = sorted(throughput.latencies(quiet, since))
        inside = received_latencies(quiet, since)
        yielded = yields()
        busy_times = sorted(throughput.latencies(busy, since))
    return {"p50": statistics.median(times), "p95": throughput.percentile(times, 95), "quiet": len(times),
            "inside_p50": statistics.median(inside), "inside_p95": throughput.percentile(inside, 95), "yields": yielded,
            "busy_p50": statistics.median(busy_times), "busy_max": busy_times[-1],
            "used": throughput.steady_rate(samples), "requests": samples[-1][1], "refused": refused}


def run(*, orders: int = ORDERS, rate: float = RATE, seed: int = 31, **_) -> None:
    results = {fair: one_mode(fair, rate, orders, seed) for fair in (False, True)}
    print(f"\nshare: shop A places {orders} orders at once, shop B {QUIET_ORDERS} orders one every "
          f"{QUIET_EVERY:g} s meanwhile; the pod allows R = {rate:g} requests/s (429 beyond) and answers in "
          f"{LATENCY_MS} ms; MLC_FUSION_RATE = R; customers known (one request per order)")
    for fair, label in ((False, "one budget, one lane (MLC_FUSION_FAIR_SHARE=false)"),
                        (True, "fair share (MLC_FUSION_FAIR_SHARE=true)")):
        r = results[fair]
        print(f"  {label}")
        print(f"    shop B: p50 {r['p50']:6.2f} s   p95 {r['p95']:6.2f} s   ({r['quiet']} orders)   "
              f"shop A: p50 {r['busy_p50']:6.2f} s   last {r['busy_max']:6.2f} s")
        print(f"    shop B, from the receiver's commit to the invoice: p50 {r['inside_p50']:6.2f} s   "
              f"p95 {r['inside_p95']:6.2f} s;   shop A's attempts deferred by a yield: {r['yields']}")
        print(f"    pod use {r['used']:.1f} requests/s = {r['used'] / rate:.2f} x R; "
              f"429s: {r['refused']} of {r['requests']} requests")
    off, on = results[False], results[True]
    print(f"  shop B's p50 with fair share = {on['p50'] / off['p50']:.2f} x without "
          f"(p95 {on['p95'] / off['p95']:.2f} x)")
