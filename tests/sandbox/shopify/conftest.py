"""Fixtures for the Shopify sandbox tests: a sandbox and a webhook receiver, both over real HTTP."""
from __future__ import annotations

import threading
import uuid

import pytest
from shopify_helpers import Receiver, sandbox_factory, start_sandbox

from sandbox.server import BackgroundServer


def _stop(server: BackgroundServer) -> None:
    """Stop in the background: werkzeug's shutdown waits out a 0.5 s poll, which adds up."""
    threading.Thread(target=server.stop, daemon=True).start()


@pytest.fixture
def sandbox():
    box, server = start_sandbox()
    yield box
    _stop(server)


@pytest.fixture
def make_sandbox():
    with sandbox_factory() as make:
        yield make


@pytest.fixture
def receiver():
    rec = Receiver()
    server = BackgroundServer(rec).start()
    rec.url = server.url + "/webhooks"
    rec.base = server.url
    yield rec
    _stop(server)


@pytest.fixture
def shop(sandbox, receiver) -> str:
    """A fresh shop whose webhooks go to ``receiver``; client secret ``app-secret``."""
    domain = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    r = sandbox.put_shop(domain, client_id="app-id", client_secret="app-secret", webhook_url=receiver.url,
                         currency="USD", taxes_included=False)
    assert r.status_code == 201, r.text
    return domain
