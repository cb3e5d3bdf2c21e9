"""The pipeline against a slow Fusion: calls per order, calls in flight, latency and the budget.

Fusion answers every request after ``LATENCY_MS`` (a realistic pod). Four figures, each next to
the baseline it is judged against, in one run:

- **Fusion requests per order**, by request, for orders of new customers and then for the same
  orders again from customers the connector already knows. Baseline: the invoice POST alone.
- **Calls in flight**: the most requests the pod held at once (``/_sandbox/load``) while a backlog
  of orders drained, against the worker threads that could make them.
- **Latency** at a steady arrival rate (default 20 orders/s): from the moment the Shopify sandbox
  fired ``orders/create`` to the invoice's binding in the connector, p50 / p95 / max. Baseline:
  Fusion's own latency, the least an invoice can take.
- **Budget use**: with the pod refusing more than R requests/s (429 with ``Retry-After``) and the
  connector's shared Redis bucket configured to the same R, the invoices queue served by two
  worker processes: requests/s used ÷ R in the steady part of the run, and the 429s received.

Each part runs on a private stack (its own database and Redis) with the production pools.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import requests
from sqlalchemy import func, select

from bench import pipeline
from bench.measure import cpu_seconds, rss_mb
from connector.config import load_settings
from connector.db import session_scope
from connector.models import AuditEvent, InboxEvent, InboxState, ProcessingAttempt
from sandbox.shopify.generator import generate_orders

LATENCY_MS = 300
GENEROUS = 1000          # MLC_FUSION_RATE when the budget is not what is measured
POLL = 0.25              # seconds between two looks at the database (each one commits twice)


def place(stack, domain: str, orders: list[dict]) -> None:
    """Place the orders in the Shopify sandbox, which fires their webhooks as it would."""
    url = f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{domain}/orders"
    with requests.Session() as session:
        for order in orders:
            session.post(url, json=order, timeout=30).raise_for_status()


def settled(expected_orders: int, domain: str) -> bool:
    """Every order invoiced and every webhook handled (payments come after the invoice)."""
    if pipeline.synced(domain) < expected_orders:
        return False
    with session_scope(load_settings().database_url) as session:
        return not session.scalar(select(func.count()).select_from(InboxEvent)
                                  .where(InboxEvent.state == InboxState.received))


def wait_settled(expected_orders: int, domain: str, timeout: float = 900) -> float:
    started = time.monotonic()
    while not settled(expected_orders, domain):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{pipeline.synced(domain)} of {expected_orders} orders invoiced after {timeout:.0f}s")
        time.sleep(POLL)
    return time.monotonic() - started


# -- calls per order and calls in flight ------------------------------------------------------

@dataclass
class Batch:
    label: str
    orders: int
    seconds: float
    requests: Counter
    peak_in_flight: int
    cpu: dict[str, float]      # process name -> CPU seconds spent during the batch
    commits: int | None        # PostgreSQL transactions committed in the stack's database
    attempts: Counter          # the batch's processing attempts, by outcome (done, waiting, …)

    @property
    def per_order(self) -> float:
        return sum(self.requests.values()) / self.orders


def batch(stack, domain: str, label: str, orders: list[dict], already: int) -> Batch:
    pipeline.fusion(stack, "DELETE", "stats")
    cpu_before, commits_before, attempts_before = cpu_seconds(stack.pids()), commits(), attempts()
    started = time.monotonic()
    place(stack, domain, orders)
    wait_settled(already + len(orders), domain)
    seconds = time.monotonic() - started
    cpu = {name: spent - cpu_before.get(name, 0.0) for name, spent in cpu_seconds(stack.pids()).items()}
    committed = None if commits_before is None else commits() - commits_before
    requests_by_kind = Counter({k: v for k, v in pipeline.fusion(stack, "GET", "stats").items() if isinstance(v, int)})
    return Batch(label, len(orders), seconds, requests_by_kind, pipeline.fusion(stack, "GET", "load")["peak_in_flight"], cpu,
                 committed, attempts() - attempts_before)


def attempts() -> Counter:
    """Every processing attempt so far, by outcome."""
    with session_scope(load_settings().database_url) as session:
        return Counter({(outcome.value if outcome else "running"): n for outcome, n in session.execute(
            select(ProcessingAttempt.outcome, func.count()).group_by(ProcessingAttempt.outcome))})


def paid(orders: list[dict]) -> int:
    return sum(1 for o in orders if o["financial_status"] == "paid")


def print_batches(batches: list[Batch], paid_orders: int, threads: int) -> None:
    print(f"\nFusion requests per order (Fusion answering in {LATENCY_MS} ms; baseline: the invoice POST, 1.00)")
    kinds = sorted(set().union(*(b.requests for b in batches)))
    print(f"  {'request':58}" + "".join(f"{b.label:>16}" for b in batches))
    for kind in kinds:
        print(f"  {kind:58}" + "".join(f"{b.requests[kind] / b.orders:16.2f}" for b in batches))
    print(f"  {'all requests':58}" + "".join(f"{b.per_order:16.2f}" for b in batches))
    print(f"  (each batch: the same {batches[0].orders} orders, {paid_orders} of them placed paid)")
    print(f"\ncalls in flight while a backlog drained (worker threads that make Fusion calls: {threads})")
    for b in batches:
        print(f"  {b.label:16} most at once {b.peak_in_flight:3}   on average "
              f"{sum(b.requests.values()) / b.seconds * LATENCY_MS / 1000:5.1f}   "
              f"{b.orders / b.seconds:5.1f} orders/s")
    if all(b.commits is not None for b in batches):
        print(f"\nPostgreSQL commits per order (every process; the benchmark's own polling adds {2 / POLL:.0f}/s)")
        print("  " + "   ".join(f"{b.label} {b.commits / b.orders:.1f}" for b in batches))
    print("\nprocessing attempts per order, by outcome (a paid order has two events; 'waiting': another "
          "event held the order, and the task was sent again)")
    for b in batches:
        print(f"  {b.label:16} " + "  ".join(f"{outcome} {n / b.orders:.2f}" for outcome, n in sorted(b.attempts.items())))
    print("\nCPU ms per order, by process")
    for b in batches:
        print(f"  {b.label:16} " + "  ".join(f"{name} {spent * 1000 / b.orders:.0f}"
                                             for name, spent in sorted(b.cpu.items()) if spent * 1000 / b.orders >= 1))


def commits() -> int | None:
    """Transactions committed in the stack's PostgreSQL database so far (None on SQLite). The
    statistics collector lags by up to half a second; a batch takes far longer."""
    url = load_settings().database_url
    if not url.startswith("postgres"):
        return None
    from sqlalchemy import text
    time.sleep(0.6)
    with session_scope(url) as session:
        return session.scalar(text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))


def in_flight(orders: int, latency_ms: int, seed: int, processes: int = 1) -> None:
    """A backlog of known customers' orders against a pod slow enough that the machine's CPU is
    not what limits: how many calls the pools keep in flight, against the threads they have."""
    with pipeline.private_stack("inflight", env={"MLC_FUSION_RATE": str(GENEROUS), "MLC_FUSION_BURST": str(GENEROUS)},
                                latency_ms=latency_ms, processes={"invoices": processes}) as (stack, domain):
        first = generate_orders(min(orders, 60), seed)
        batch(stack, domain, "warm-up", first, 0)
        known = batch(stack, domain, "backlog", [first[i % len(first)] for i in range(orders)], len(first))
        from workers.pools import concurrency
        threads = concurrency(load_settings(), "invoices") * processes + concurrency(load_settings(), "customers")
        memory = rss_mb(stack.pids(), "worker-")
    average = sum(known.requests.values()) / known.seconds * latency_ms / 1000
    print(f"\ncalls in flight, {orders} orders of known customers queued at once, Fusion answering in {latency_ms} ms, "
          f"the invoices queue served by {processes} worker process{'es' if processes > 1 else ''}")
    print(f"  most at once {known.peak_in_flight}, on average {average:.1f} (Little's law), of {threads} worker threads "
          f"on the order queues; {known.orders / known.seconds:.1f} orders/s; all workers {memory:.0f} MiB")


# -- latency at a steady rate -----------------------------------------------------------------

def paced(stack, domain: str, orders: list[dict], rate: float, senders: int = 4) -> float:
    """Place the orders at ``rate`` per second on a fixed schedule; returns the rate achieved.
    Several senders, so that one slow placement does not push the schedule back."""
    url = f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{domain}/orders"
    start = time.monotonic() + 0.5
    done = []

    def send(offset: int) -> None:
        with requests.Session() as session:
            for i in range(offset, len(orders), senders):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                session.post(url, json=orders[i], timeout=30).raise_for_status()
                done.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(orders) / (max(done) - start)


def latencies(domain: str, since: datetime) -> list[float]:
    """Seconds from each ``orders/create`` fired after ``since`` (its ``X-Shopify-Triggered-At``)
    to the audit row of its invoice's creation."""
    from connector.models import Shop
    with session_scope(load_settings().database_url) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == domain))
        fired = dict(session.execute(select(InboxEvent.resource_id, InboxEvent.triggered_at)
                                     .where(InboxEvent.shop_id == shop_id, InboxEvent.topic == "orders/create")).all())
        invoiced = dict(session.execute(select(AuditEvent.subject_id, AuditEvent.occurred_at)
                                        .where(AuditEvent.shop_id == shop_id,
                                               AuditEvent.action.in_(("invoice.created", "invoice.adopted")))).all())
    out = []
    for order_id, at in invoiced.items():
        if order_id in fired:
            start = datetime.strptime(fired[order_id], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            if start < since:
                continue
            end = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
            out.append((end - start).total_seconds())
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- budget use -------------------------------------------------------------------------------

def sample_requests(stack, stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        counts = pipeline.fusion(stack, "GET", "stats")
        samples.append((time.monotonic(), sum(v for v in counts.values() if isinstance(v, int))))
        time.sleep(0.25)


def steady_rate(samples: list[tuple[float, int]]) -> float:
    """Requests per second between 10 % and 90 % of the run's requests: the bucket's initial
    burst and the last orders' tail (a few requests, one after another) are left out."""
    total = samples[-1][1]
    first = next(s for s in samples if s[1] >= total * 0.1)
    last = next(s for s in samples if s[1] >= total * 0.9)
    return (last[1] - first[1]) / (last[0] - first[0])


def budget(rate: float, orders: int, seed: int) -> tuple[float, int, int, float]:
    burst = max(2, int(rate))
    env = {"MLC_FUSION_RATE": str(rate), "MLC_FUSION_BURST": str(burst // 2)}
    with pipeline.private_stack("budget", env=env, latency_ms=LATENCY_MS, processes={"invoices": 2}) as (stack, domain):
        # the pod refuses what goes beyond R; the connector keeps its burst within half the pod's
        pipeline.fusion(stack, "POST", "faults", json={"rate_limit": {"requests_per_second": rate, "burst": burst}})
        pipeline.fusion(stack, "DELETE", "stats")
        stop, samples = threading.Event(), []
        sampler = threading.Thread(target=sample_requests, args=(stack, stop, samples))
        sampler.start()
        try:
            place(stack, domain, generate_orders(orders, seed))
            wait_settled(orders, domain)
        finally:
            stop.set()
            sampler.join()
        used = steady_rate(samples)
        refused = pipeline.fusion(stack, "GET", "load")["rate_limited"]
        memory = rss_mb(stack.pids(), "worker-invoices")
        return used, refused, samples[-1][1], memory


# -- the run ----------------------------------------------------------------------------------

PARTS = ("calls", "latency", "inflight", "budget")


def run(*, orders: int, rates: tuple[float, ...] = (20.0,), seconds: float = 30.0, budget_rate: float = 30.0,
        budget_orders: int = 300, parts=PARTS, slow_ms: int = 1500, processes: tuple[int, ...] = (1, 2),
        **_) -> None:
    """The calls, latency and in-flight parts once per number of ``worker-invoices`` processes (by
    default one, then two: one per core is the production setting), then what they compare."""
    seed = 23
    p95s: dict[int, list[tuple[float, float]]] = {}
    for count in processes:
        if "calls" in parts or "latency" in parts:
            print(f"\n(the invoices queue served by {count} worker process{'es' if count > 1 else ''})")
            p95s[count] = calls_and_latency(orders, list(rates), seconds, seed, parts, count)
        if "inflight" in parts:
            in_flight(3 * orders, slow_ms, seed, count)
    if "latency" in parts and len(p95s) > 1:
        print(f"\nlatency p95 by worker-invoices processes (one per core is the production setting; this machine has "
              f"{os.cpu_count()} cores)")
        for i, one_rate in enumerate(rates):
            print(f"  {one_rate:g} orders/s: " + ", ".join(
                f"{count} process{'es' if count > 1 else ''} {results[i][1]:.2f} s" for count, results in p95s.items()))
    if "budget" in parts:
        budget_part(budget_rate, budget_orders, seed + 1)


def calls_and_latency(orders: int, rates: list[float], seconds: float, seed: int, parts,
                      processes: int = 1) -> list[tuple[float, float]]:
    """Prints both parts; returns (rate asked, p95 seconds) per rate of the latency part."""
    with pipeline.private_stack("throughput", env={"MLC_FUSION_RATE": str(GENEROUS), "MLC_FUSION_BURST": str(GENEROUS)},
                                latency_ms=LATENCY_MS, processes={"invoices": processes}) as (stack, domain):
        first = generate_orders(orders, seed)
        new = batch(stack, domain, "new customers", first, 0)
        known = batch(stack, domain, "known customers", generate_orders(orders, seed), orders)
        from workers.pools import concurrency
        threads = concurrency(load_settings(), "invoices") * processes + concurrency(load_settings(), "customers")
        print_batches([new, known], paid(first), threads)
        if "latency" not in parts:
            return []

        # the first batch's orders again and again: every customer is known by now
        placed_so_far, results = 2 * orders, []
        for one_rate in rates:
            steady = [first[i % len(first)] for i in range(int(one_rate * seconds))]
            pipeline.fusion(stack, "DELETE", "stats")
            since = datetime.now(timezone.utc)
            placed = paced(stack, domain, steady, one_rate)
            placed_so_far += len(steady)
            wait_settled(placed_so_far, domain)
            results.append((one_rate, placed, sorted(latencies(domain, since)), pipeline.fusion(stack, "GET", "load")))
    print(f"\nlatency, orders/create fired → invoice bound, orders of known customers placed at a steady rate for "
          f"{seconds:g} s; baseline: Fusion's own {LATENCY_MS} ms")
    for one_rate, placed, times, load in results:
        p95 = percentile(times, 95)
        print(f"  {placed:5.1f} orders/s (asked {one_rate:g}): p50 {statistics.median(times):5.2f} s   p95 {p95:5.2f} s   "
              f"max {times[-1]:5.2f} s   (p95 = {p95 * 1000 / LATENCY_MS:4.1f}x Fusion's latency; "
              f"most calls in flight {load['peak_in_flight']})")
    return [(one_rate, percentile(times, 95)) for one_rate, _, times, _ in results]


def budget_part(budget_rate: float, budget_orders: int, seed: int) -> None:
    used, refused, total, memory = budget(budget_rate, budget_orders, seed)
    print(f"\nbudget: the pod allows R = {budget_rate:g} requests/s and answers 429 beyond it; the connector's "
          f"shared bucket MLC_FUSION_RATE = R; invoices served by 2 worker processes ({memory:.0f} MiB)")
    print(f"  used {used:.1f} requests/s in the steady part = {used / budget_rate:.2f} x R; "
          f"429s received: {refused} of {total} requests")
