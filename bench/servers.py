"""Gunicorn exactly as the Procfile runs the receiver, for any app the benchmark compares.

The command is read from the Procfile's ``web`` line (its settings are in ``web/gunicorn_conf.py``),
so a change there changes what is measured: the receiver and its baselines always run on the
production settings. ``options`` override some for a comparison (``bench slow`` runs the old
threads configuration beside it).
"""
from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from cli import lifecycle
from cli.stack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PROCFILE_APP = "web.wsgi:app"


def procfile_command(app: str, port: int, options: tuple[str, ...] = ()) -> list[str]:
    """The Procfile's web command with its defaults (``${VAR:-default}``), on ``port``, serving
    ``app``, with ``options`` before the app (gunicorn's command line overrides its config module)."""
    line = next(entry.split(":", 1)[1] for entry in (ROOT / "Procfile").read_text().splitlines()
                if entry.startswith("web:"))
    argv = shlex.split(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line))
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    at = argv.index(PROCFILE_APP)
    argv[at:at + 1] = [*options, app]
    if argv[0] == "gunicorn":
        argv[0] = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    return argv


def settings_of(argv: list[str]) -> str:
    """The workers and what each serves at once, from the config module and the command line."""
    from web import gunicorn_conf

    def option(name: str, default):
        return argv[argv.index(name) + 1] if name in argv else default

    workers = option("--workers", gunicorn_conf.workers)
    worker_class = option("--worker-class", gunicorn_conf.worker_class)
    if worker_class == "gevent":
        return f"gunicorn gevent, {workers} workers × {option('--worker-connections', gunicorn_conf.worker_connections)} connections"
    return f"gunicorn {worker_class}, {workers} workers × {option('--threads', 1)} threads"


class Server:
    """One gunicorn, its output in ``<workdir>/<name>.log``."""

    def __init__(self, name: str, app: str, env: dict[str, str], workdir: Path, options: tuple[str, ...] = ()):
        self.name, self.port = name, free_port()
        self.argv = procfile_command(app, self.port, options)
        self.log = Path(workdir) / f"{name}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.log, "ab") as log:
            self.process = lifecycle.spawn(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_for_port(self.port, process=self.process, name=name)
        except BaseException:
            self.stop()
            raise

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (user and system)."""
        master = psutil.Process(self.process.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [master, *master.children(recursive=True)])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
