"""A database and a Redis database of the benchmark's own, left as they were found afterwards.

With ``DATABASE_URL`` set to PostgreSQL, the benchmark measures production's database: it creates
a database of its own on that server and drops it at the end. Without it, a SQLite file. With
``REDIS_URL`` set, that Redis database must be empty: the receiver sends real Celery messages,
and a worker listening there would try to process events of a database it cannot see.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from redis import Redis


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    from cli.stack import private_database
    with private_database(workdir / "bench.db", "mlc_bench") as url:
        yield url


@contextmanager
def redis(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL", "")
    if not configured:
        from cli.stack import start_embedded_redis
        process, url = start_embedded_redis(workdir)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
        return
    client = Redis.from_url(configured)
    if client.dbsize():
        raise SystemExit(f"the Redis database in REDIS_URL holds {client.dbsize()} keys: give the benchmark an "
                         "empty one (e.g. redis://127.0.0.1:6379/5); its messages must reach no worker")
    try:
        yield configured
    finally:
        keys = list(client.scan_iter(count=1000))
        if keys:
            client.delete(*keys)  # only the benchmark's own: the database was empty before it
        client.close()
