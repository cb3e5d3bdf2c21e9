"""A database and a Redis database of the benchmark's own, left as they were found afterwards.

With ``DATABASE_URL`` set to PostgreSQL, the benchmark measures production's database: it creates
a database of its own on that server and drops it at the end. Without it, a SQLite file. With
``REDIS_URL`` set, that Redis database must be empty: the receiver sends real Celery messages,
and a worker listening there would try to process events of a database it cannot see.

A benchmark that stops and restarts its servers (``bench chaos``) must never touch the shared
ones: it runs a PostgreSQL cluster of its own (:class:`PostgresCluster`) and an embedded Redis
(:class:`EmbeddedRedis`), each on a free port, and removes both at the end.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from redis import Redis

#: Where initdb, pg_ctl and postgres are; MLC_PG_BIN overrides it.
PG_BIN = Path(os.environ.get("MLC_PG_BIN", "/usr/local/bin"))


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    from cli.stack import private_database
    with private_database(workdir / "bench.db", "mlc_bench") as url:
        yield url


@contextmanager
def redis(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL", "")
    if not configured:
        with EmbeddedRedis(workdir) as server:
            yield server.url
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


class EmbeddedRedis:
    """A Redis of the benchmark's own (``cli.stack.start_embedded_redis``), which it may stop and
    start again on the same port: what it held is gone, as after a crash of a Redis that keeps
    nothing on disk."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.port: int | None = None

    def start(self) -> "EmbeddedRedis":
        from cli.stack import start_embedded_redis
        self.process, self.url = start_embedded_redis(self.workdir, self.port)
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class PostgresCluster:
    """A PostgreSQL cluster of the benchmark's own: ``initdb`` in a temporary directory, served
    on a free port of 127.0.0.1 with trust authentication, stopped and started with ``pg_ctl``,
    removed at the end. As root, its programs run as the ``postgres`` user (PostgreSQL refuses
    root), on a directory that user owns."""

    def __init__(self, max_connections: int = 300):
        from cli.stack import free_port
        self.max_connections = max_connections
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="mlc-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        command = [str(PG_BIN / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-2000:]}")

    def init(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections={self.max_connections}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown: every session is cut off, as when the server goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> "PostgresCluster":
        try:
            self.init().start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
