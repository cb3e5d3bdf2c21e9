"""The receiver with 200 stalled clients: gunicorn as the Procfile runs it (the test stack's ``web``
process, ``web/gunicorn_conf.py``), on loopback.

Each stalled client sends a delivery's headers and the first bytes of its body, then nothing. With
the old 2 workers × 4 threads, eight of them held every thread and nothing else was answered; the
gevent workers serve each connection in a greenlet, so a real signed delivery and the liveness
probe are still answered and the delivery stored. No timing is asserted: the socket timeout only
keeps the test from hanging when the receiver does not answer.
"""
from __future__ import annotations

import json
import socket
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import InboxEvent, Shop
from connector.shopify.webhooks import sign
from tests.support import TestShop

STALLED = 200
TOPIC = "products/update"  # stored deferred: no worker acts on it
TIMEOUT = 60  # s: generous; only there so that a receiver that never answers fails the test


@pytest.fixture(scope="module")
def target(stack) -> TestShop:
    return TestShop.create(stack, prefix=("W" + uuid.uuid4().hex[:7]).upper())


def signed(shop: TestShop, body: bytes, event_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Shopify-Topic": TOPIC, "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-API-Version": "2026-01", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id, "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
            "X-Shopify-Hmac-Sha256": sign(shop.secret, body)}


def stall(receiver: str, shop: TestShop, resources: ExitStack) -> socket.socket:
    """A connection that sends a delivery's headers and 10 of its 1,000 body bytes, then waits."""
    url = urlsplit(receiver)
    sock = resources.enter_context(socket.create_connection((url.hostname, url.port), timeout=TIMEOUT))
    body = b"{" + b" " * 998 + b"}"
    head = ["POST /webhooks/shopify HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in signed(shop, body, str(uuid.uuid4())).items())]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:10])
    return sock


def stored(shop: TestShop, event_id: str) -> int:
    with session_scope(load_settings().database_url) as session:
        return session.scalar(select(func.count()).select_from(InboxEvent).join(Shop, Shop.id == InboxEvent.shop_id)
                              .where(Shop.domain == shop.domain, InboxEvent.event_id == event_id))


def test_given_200_stalled_connections_then_a_delivery_and_the_probe_are_answered(stack, target):
    receiver = stack.urls["receiver"]
    with ExitStack() as resources:
        # given: 200 clients that sent their headers and stalled in the body
        stalled = [stall(receiver, target, resources) for _ in range(STALLED)]

        # when: Shopify delivers, and the load balancer probes
        event_id = str(uuid.uuid4())
        body = json.dumps({"id": 8_100_001, "title": "slow-connections probe"}).encode()
        delivery = requests.post(f"{receiver}/webhooks/shopify", data=body, headers=signed(target, body, event_id),
                                 timeout=TIMEOUT)
        probe = requests.get(f"{receiver}/livez", timeout=TIMEOUT)

        # then: both are answered while every stalled client is still connected
        assert delivery.status_code == 200, delivery.text
        assert delivery.json()["status"] == "accepted"
        assert probe.status_code == 200
        assert stored(target, event_id) == 1
        assert len(stalled) == STALLED
