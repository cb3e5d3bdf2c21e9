"""Fixtures: a fresh Fusion sandbox per test, and the connector's client talking to it over
OAuth exactly as a worker does."""
from __future__ import annotations

import pytest

from connector.fusion.client import FusionClient
from tests.connector.fusion.fusion_pods import FusionApi, Pods, client_for


@pytest.fixture
def pods():
    started = Pods()
    yield started
    started.stop_all()


@pytest.fixture
def pod(pods) -> FusionApi:
    return pods.start()


@pytest.fixture
def client(pod) -> FusionClient:
    return client_for(pod)


@pytest.fixture
def customer(pod) -> dict:
    return pod.create_customer()
