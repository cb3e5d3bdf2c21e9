"""Fixtures for the Fusion sandbox tests: a fresh sandbox on a real port per test."""
from __future__ import annotations

import threading

import pytest

from fusion_helpers import FusionApi
from sandbox.fusion import FusionSandboxSettings, create_app
from sandbox.server import BackgroundServer


@pytest.fixture
def make_fusion():
    """Factory: ``make_fusion(**settings_overrides)`` starts a fresh pod and returns its helper."""
    servers = []

    def start(**overrides) -> FusionApi:
        settings = FusionSandboxSettings(**overrides)
        server = BackgroundServer(create_app(settings)).start()
        servers.append(server)
        return FusionApi(server.url, settings)
    yield start
    for server in servers:
        # shutdown() waits out serve_forever's 0.5 s poll; don't make every test pay for it
        threading.Thread(target=server.stop, daemon=True).start()


@pytest.fixture
def fusion(make_fusion) -> FusionApi:
    return make_fusion()


@pytest.fixture
def customer(fusion) -> dict:
    return fusion.create_customer()
