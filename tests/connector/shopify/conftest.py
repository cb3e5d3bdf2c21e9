"""Fixtures of the Shopify client tests: Shopify sandboxes over real HTTP, and shops of each test's own."""
from __future__ import annotations

import threading
import uuid

import pytest

from connector.shopify.client import ShopConnection
from tests.sandbox.shopify.shopify_helpers import sandbox_factory, start_sandbox


@pytest.fixture(scope="module")
def shopify_sandbox():
    """One Shopify sandbox for the module's tests."""
    box, server = start_sandbox()
    yield box
    threading.Thread(target=server.stop, daemon=True).start()


@pytest.fixture
def make_shopify():
    """``make(**sandbox settings)``: a Shopify sandbox of the test's own, stopped after it."""
    with sandbox_factory() as make:
        yield make


def new_shop(sandbox, prefix: str = "client", **fields) -> ShopConnection:
    """A sandbox shop with an app of its own, as the connector connects to it."""
    domain = f"{prefix}-{uuid.uuid4().hex[:8]}.myshopify.com"
    secret = "shpss_" + uuid.uuid4().hex
    response = sandbox.put_shop(domain, client_id=f"app-{domain[:12]}", client_secret=secret, webhook_url=None,
                                **fields)
    assert response.status_code == 201, response.text
    return ShopConnection(domain, f"app-{domain[:12]}", secret, "2026-01",
                          admin_base_url=f"{sandbox.url}/shops/{domain}")
