"""How each queue's worker runs in production: its pool and how many tasks it runs at once.

One place for the Procfile, ``deploy/``, the demo and the tests (``ml-connector worker QUEUE``),
so that what the demo shows is what production does. A task spends its time waiting on Shopify
and Fusion, not computing, so the default pool is threads: one process per queue keeps as many
calls in flight as it has threads, in the memory of one process. Celery enforces no time limit
on threads; every HTTP call has its own timeouts and every lock and claim its own lease, which
is what bounds a stuck task.
"""
from __future__ import annotations

import os

from connector.config import Settings

#: Threads per queue on one host: 92 calls in flight when every queue is busy, 72 on the order
#: queues alone (invoices and customers; some of an order's threads wait on Shopify, the database
#: or an order lock, so 64 keep about 50 calls to Fusion in flight).
THREADS = {"invoices": 64, "credit_memos": 16, "customers": 8, "fusion_poll": 4}
#: SQLite (the demo's embedded database) takes one writer at a time: more threads only queue on it.
SQLITE_THREADS = 4


def concurrency(settings: Settings, queue: str) -> int:
    """MLC_CONCURRENCY_<QUEUE>, else the default: the threads above (at most SQLITE_THREADS on
    SQLite), or one process per core for prefork (processes cost memory, not waiting time)."""
    if queue in settings.worker_concurrency:
        return settings.worker_concurrency[queue]
    if settings.worker_pool == "prefork":
        return os.cpu_count() or 1
    threads = THREADS.get(queue, 4)
    return min(threads, SQLITE_THREADS) if settings.database_url.startswith("sqlite") else threads


def worker_argv(settings: Settings, queue: str) -> list[str]:
    """The arguments of ``celery worker`` for ``queue``. ``--quiet``: no start-up banner, which
    would break a log of one JSON object a line (``MLC_LOG_FORMAT``); the worker logs its
    queues, pool and readiness as log lines.

    No ``--events``: task events (three Redis publishes per task, and their JSON) are sent only
    while a Flower watches. Flower turns them on in every worker when it starts and every 5 s
    after (its ``enable_events``, on by default), so its task views are as before; with no Flower
    running, a worker spends that CPU on orders (BENCHMARKS.md, "Worker CPU per order")."""
    return ["--quiet", "worker", "--queues", queue, "--pool", settings.worker_pool,
            "--concurrency", str(concurrency(settings, queue)),
            "--hostname", f"{queue}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
            "--loglevel", settings.log_level]
