"""How many verified webhooks a second the receiver stores, against the durable floor and a bare
Flask endpoint, all three on the Procfile's gunicorn and measured in one run.

The durable floor (``bench/floor.py``) verifies the HMAC, commits one ``INSERT … ON CONFLICT DO
NOTHING`` and makes one ``LPUSH``: a receiver that loses nothing cannot do less, so the goal is a
ratio to it (≥ 0.8 of its rate, p99 within 2 × its p99). The bare endpoint shows what HTTP, gunicorn
and Flask cost alone on this machine. No Celery worker runs: the receiver's messages wait in Redis,
as the floor's pushes do, and no worker competes with the servers for the two cores. Rounds
alternate which of the receiver and the floor goes first, so whatever slows the machine during the
run weighs on both.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import statistics
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from redis import Redis
from sqlalchemy import func, select, text

from bench import floor, private
from bench.load import Request, Run, merged, post_all
from bench.servers import PROCFILE_APP, Server, settings_of
from connector import flows
from connector.db import get_engine, session_scope
from connector.flows import lane_lists
from connector.migrate import upgrade
from connector.models import InboxEvent
from connector.services.setup import add_shop
from connector.shopify.webhooks import sign
from connector.vault import Vault, generate_key

#: Deliveries in flight (client threads): the default is what 2 workers × 4 threads served when the
#: receiver ran threads; ``--threads`` asks more of its gevent workers, as Shopify at a peak does.
THREADS = 8
WARM_UP = 100
TOPIC = "orders/create"
SHOP = "bench-receiver.myshopify.com"
GOAL_RATE, GOAL_P99 = 0.8, 2.0


def order_body(number: int) -> bytes:
    """A three-line order with addresses, about 2 kB: the size of a small real orders/create."""
    order_id = 7_000_000 + number
    address = {"first_name": "Ana", "last_name": "Silva", "address1": f"{number} Main St", "city": "Austin",
               "province_code": "TX", "country_code": "US", "zip": "78701", "phone": "+15125550100"}
    lines = [{"id": order_id * 10 + k, "sku": f"SKU-{k}", "title": f"Item {k}", "variant_title": "Black / M",
              "quantity": k + 1, "price": "25.00", "grams": 200, "requires_shipping": True,
              "tax_lines": [{"title": "State Tax", "rate": "0.08", "price": f"{2 * (k + 1):.2f}"}]}
             for k in range(3)]
    return json.dumps({
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "order_number": 1000 + number,
        "name": f"#{1000 + number}", "email": f"buyer{number}@example.com", "currency": "USD",
        "presentment_currency": "USD", "financial_status": "pending", "taxes_included": False,
        "created_at": "2026-11-27T09:00:00-05:00", "updated_at": "2026-11-27T09:00:00-05:00",
        "subtotal_price": "150.00", "total_tax": "12.00", "total_price": "168.00", "line_items": lines,
        "shipping_lines": [{"title": "Standard", "code": "STANDARD", "price": "6.00", "tax_lines": []}],
        "billing_address": address, "shipping_address": address,
        "customer": {"id": 900_000 + number, "email": f"buyer{number}@example.com", "first_name": "Ana",
                     "last_name": "Silva", "admin_graphql_api_id": f"gid://shopify/Customer/{900_000 + number}"},
    }).encode()


def deliveries(secret: str, start: int, count: int) -> list[Request]:
    """Signed deliveries as Shopify sends them, each a new event."""
    batch = []
    for number in range(start, start + count):
        body = order_body(number)
        batch.append((body, {
            "Content-Type": "application/json", "X-Shopify-Topic": TOPIC, "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2026-01", "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
            "X-Shopify-Hmac-Sha256": sign(secret, body)}))
    return batch


def prepare(database_url: str, key: str, secret: str) -> None:
    upgrade(database_url)
    floor.metadata.create_all(get_engine(database_url))
    with session_scope(database_url) as session:
        add_shop(session, Vault([key]), domain=SHOP, client_id="bench", client_secret=secret, prefix="BENCH")


def _measured(server: Server, url: str, batch: list[Request], threads: int = THREADS) -> Run:
    cpu = server.cpu_seconds()
    run = post_all(url, batch, threads)
    run.server_cpu = server.cpu_seconds() - cpu
    if run.statuses != {200: run.requests}:
        raise SystemExit(f"{server.name} answered {dict(run.statuses)} to {run.requests} deliveries; see {server.log}")
    return run


def _round(number: int, receiver: Server, baselines: Server, secret: str, webhooks: int,
           threads: int = THREADS) -> dict[str, Run]:
    start = 2 * webhooks * number
    pairs = [("receiver", receiver, f"{receiver.url}/webhooks/shopify", deliveries(secret, start, webhooks)),
             ("floor", baselines, f"{baselines.url}/floor", deliveries(secret, start + webhooks, webhooks))]
    if number % 2:
        pairs.reverse()
    runs = {}
    for name, server, url, batch in pairs:
        runs[name] = _measured(server, url, batch, threads)
    for name, server, url, batch in pairs:  # the same deliveries again: Shopify's retries
        runs[f"{name} duplicates"] = _measured(server, url, batch, threads)
    runs["bare"] = _measured(baselines, f"{baselines.url}/bare", pairs[0][3], threads)
    return runs


def machine(database_url: str, redis_url: str, load: float) -> str:
    if database_url.startswith("sqlite"):
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        with get_engine(database_url).connect() as connection:
            database = "PostgreSQL " + connection.scalar(text("SHOW server_version")).split()[0]
    redis_version = Redis.from_url(redis_url).info("server")["redis_version"]
    # what else ran on the machine before the benchmark: it takes cores from all three alike, but
    # makes runs vary
    return f"{database}, Redis {redis_version}, {os.cpu_count()} cores, load average {load:.2f} before"


def _stored(database_url: str, redis_url: str) -> str:
    """What the servers kept: one row per new delivery, one message or push per row."""
    with session_scope(database_url) as session:
        inbox = session.scalar(select(func.count()).select_from(InboxEvent))
        floor_rows = session.scalar(select(func.count()).select_from(floor.floor_inbox))
    redis = Redis.from_url(redis_url)
    messages, pushes = sum(redis.llen(name) for name in lane_lists(flows.for_topic(TOPIC).queue)), redis.llen(floor.QUEUE)
    return (f"receiver {inbox} inbox rows and {messages} task messages, "
            f"floor {floor_rows} rows and {pushes} pushes")


def _report(rounds: list[dict[str, Run]], header: str, stored: str) -> None:
    total = {name: merged([r[name] for r in rounds]) for name in rounds[0]}
    print(f"\nreceiver ({header})")
    print("                                 webhooks/s    p50 ms    p99 ms   server CPU ms/webhook")
    for name, label in (("bare", "bare Flask endpoint"), ("floor", "durable floor, new"),
                        ("floor duplicates", "durable floor, duplicates"), ("receiver", "receiver, new"),
                        ("receiver duplicates", "receiver, duplicates")):
        run = total[name]
        print(f"  {label:<28} {run.rate:10.0f} {run.percentile(0.5):9.1f} {run.percentile(0.99):9.1f} "
              f"{run.cpu_per_request:13.2f}")
    per_round = [r["receiver"].rate / r["floor"].rate for r in rounds]
    rate = total["receiver"].rate / total["floor"].rate
    p99 = total["receiver"].percentile(0.99) / total["floor"].percentile(0.99)
    dupes = total["receiver duplicates"].rate / total["floor duplicates"].rate
    print(f"  receiver / floor, webhooks/s: {rate:.2f} (rounds: {', '.join(f'{r:.2f}' for r in per_round)}; "
          f"median {statistics.median(per_round):.2f})   goal ≥ {GOAL_RATE}")
    print(f"  receiver / floor, p99:        {p99:.2f}   goal ≤ {GOAL_P99}")
    print(f"  receiver / floor, duplicates: {dupes:.2f}")
    print(f"  goal {'met' if rate >= GOAL_RATE and p99 <= GOAL_P99 else 'NOT met'}; stored: {stored}")


@dataclass
class Setting:
    """Where a receiver benchmark runs: its directory, database, Redis, the shop's secret, and the
    environment its servers start with."""
    workdir: Path
    database_url: str
    redis_url: str
    secret: str
    env: dict[str, str]


@contextmanager
def setting(prefix: str) -> Iterator[Setting]:
    """A private database and Redis with the benchmark's shop; all removed at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, ExitStack() as resources:
        workdir = Path(tmp)
        database_url = resources.enter_context(private.database(workdir))
        redis_url = resources.enter_context(private.redis(workdir))
        key, secret = generate_key(), "shpss_" + secrets.token_hex(16)
        prepare(database_url, key, secret)
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, MLC_ENCRYPTION_KEYS=key,
                   BENCH_FLOOR_SECRET=secret, PYTHONUNBUFFERED="1")
        yield Setting(workdir, database_url, redis_url, secret, env)


def run(*, webhooks: int, rounds: int = 3, threads: int = THREADS, **_) -> None:
    load = os.getloadavg()[0]
    with setting("mlc-bench-receiver-") as at, ExitStack() as resources:
        receiver = Server("receiver", PROCFILE_APP, at.env, at.workdir)
        resources.callback(receiver.stop)
        baselines = Server("baselines", "bench.floor:create_app()", at.env, at.workdir)
        resources.callback(baselines.stop)

        warm = deliveries(at.secret, -WARM_UP, WARM_UP)  # connections, caches and imports of every process
        _measured(receiver, f"{receiver.url}/webhooks/shopify", warm)
        _measured(baselines, f"{baselines.url}/floor", warm)
        results = [_round(number, receiver, baselines, at.secret, webhooks, threads) for number in range(rounds)]

        header = (f"{machine(at.database_url, at.redis_url, load)}; {settings_of(receiver.argv)} as in the Procfile; "
                  f"{rounds} rounds × {webhooks} {TOPIC} deliveries of {len(warm[0][0]) / 1000:.1f} kB, "
                  f"{threads} client threads")
        _report(results, header, _stored(at.database_url, at.redis_url))
