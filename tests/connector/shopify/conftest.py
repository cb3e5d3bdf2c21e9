"""The Shopify sandbox the client tests talk to over HTTP, one per module."""
from __future__ import annotations

import threading

import pytest

from tests.sandbox.shopify.shopify_helpers import start_sandbox


@pytest.fixture(scope="module")
def shopify_sandbox():
    box, server = start_sandbox()
    yield box
    threading.Thread(target=server.stop, daemon=True).start()
