"""``POST /webhooks/shopify`` on the real database and Redis: each delivery stored once, and Shopify
answered by what happened to it."""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connector.config import Settings
from connector.db import session_scope
from connector.models import AuditEvent, InboxEvent, InboxState, Shop
from connector.services import inbox
from connector.services.setup import add_shop
from connector.shopify.webhooks import sign
from connector.vault import Vault, generate_key
from web.app import create_app

KEY = generate_key()
TOPIC = "customers/update"  # sent to a worker; should one run (a full test run), it only books a customer


@dataclass
class TestShop:
    __test__ = False

    domain: str
    secret: str
    database_url: str

    def rotate(self, secret: str) -> None:
        with session_scope(self.database_url) as session:
            add_shop(session, Vault([KEY]), domain=self.domain, client_id="app", client_secret=secret)
        self.secret = secret

    def inbox(self) -> list[InboxEvent]:
        with session_scope(self.database_url) as session:
            return list(session.scalars(select(InboxEvent).join(Shop).where(Shop.domain == self.domain)))

    def audit(self, action: str) -> list[AuditEvent]:
        with session_scope(self.database_url) as session:
            return list(session.scalars(select(AuditEvent).join(Shop).where(Shop.domain == self.domain,
                                                                            AuditEvent.action == action)))


@pytest.fixture
def shop(migrated) -> TestShop:
    domain = f"rx-{uuid.uuid4().hex[:8]}.myshopify.com"
    secret = "shpss_first_" + uuid.uuid4().hex  # two shops may not share a secret
    with session_scope(migrated) as session:  # an Admin API nobody listens on: nothing leaves the machine
        add_shop(session, Vault([KEY]), domain=domain, client_id="app", client_secret=secret,
                 prefix=("W" + uuid.uuid4().hex[:7]).upper(), admin_base_url="http://127.0.0.1:9")
    return TestShop(domain, secret, migrated)


@pytest.fixture
def receiver(migrated, redis_url):
    from workers.app import app
    app.conf.broker_url = redis_url  # the tasks it sends go to the test Redis, never to REDIS_URL's
    settings = Settings(database_url=migrated, redis_url=redis_url, encryption_keys=(KEY,),
                        shop_cache_ttl_seconds=3600)
    return create_app(settings).test_client()


def customer(customer_id: int = 4711) -> bytes:
    return json.dumps({"id": customer_id, "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
                       "email": f"rx-{customer_id}@example.com", "first_name": "Ana", "last_name": "Silva"}).encode()


def deliver(receiver, shop: TestShop, body: bytes, *, event_id: str = "", secret: str = ""):
    return receiver.post("/webhooks/shopify", data=body, headers={
        "X-Shopify-Shop-Domain": shop.domain, "X-Shopify-Topic": TOPIC, "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()), "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
        "X-Shopify-Hmac-Sha256": sign(secret or shop.secret, body)})


def test_given_a_new_delivery_then_200_and_stored_waiting_for_its_worker(receiver, shop):
    response = deliver(receiver, shop, customer())

    assert response.status_code == 200 and response.get_json()["status"] == "accepted"
    [row] = shop.inbox()
    assert (row.id, row.topic, row.state, row.body.encode()) == (
        response.get_json()["id"], TOPIC, InboxState.received, customer())


def test_given_the_same_delivery_ten_times_at_once_then_one_row_and_nine_answers_duplicate(receiver, shop):
    event_id, body = str(uuid.uuid4()), customer()

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: deliver(receiver, shop, body, event_id=event_id), range(10)))

    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.get_json()["status"] for r in responses) == ["accepted"] + ["duplicate"] * 9
    assert len(shop.inbox()) == 1


def test_given_a_bad_signature_or_an_unknown_shop_then_401_and_nothing_stored(receiver, shop):
    forged = deliver(receiver, shop, customer(), secret="not-the-app-secret")
    stranger = deliver(receiver, TestShop("stranger.myshopify.com", "x", shop.database_url), customer())

    assert (forged.status_code, stranger.status_code) == (401, 401)
    assert shop.inbox() == []


def test_given_a_signed_malformed_body_then_400_recorded_and_not_stored(receiver, shop):
    response = deliver(receiver, shop, b'{"id": 1, "email": ')

    assert response.status_code == 400
    assert shop.inbox() == []
    assert "not JSON" in shop.audit("webhook.malformed")[0].detail["reason"]


def test_given_a_topic_whose_body_has_a_gid_and_no_id_then_stored_not_refused(receiver, shop):
    # a bulk operation's end (bulk_operations/finish) names it by GID alone: a 400 would have
    # Shopify retry it for hours, and hold a backfill's shop "busy" all that time
    body = json.dumps({"admin_graphql_api_id": "gid://shopify/BulkOperation/1100000000001", "status": "completed",
                       "type": "query", "error_code": None}).encode()
    response = receiver.post("/webhooks/shopify", data=body, headers={
        "X-Shopify-Shop-Domain": shop.domain, "X-Shopify-Topic": "bulk_operations/finish",
        "X-Shopify-API-Version": "2026-01", "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
        "X-Shopify-Hmac-Sha256": sign(shop.secret, body)})

    assert response.status_code == 200, response.get_json()
    [row] = shop.inbox()
    assert (row.topic, row.resource_id) == ("bulk_operations/finish", "1100000000001")


def test_given_the_secret_rotated_then_the_next_webhook_with_the_new_one_is_accepted_at_once(receiver, shop):
    assert deliver(receiver, shop, customer(1)).status_code == 200  # the receiver now holds the first secret
    shop.rotate("shpss_second_" + uuid.uuid4().hex)

    response = deliver(receiver, shop, customer(2))  # well within MLC_SHOP_CACHE_TTL (an hour here)

    assert response.status_code == 200
    assert len(shop.inbox()) == 2


def test_given_the_broker_unreachable_then_200_and_the_event_left_to_the_sweeper(receiver, shop, monkeypatch):
    from workers.app import app
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:9/0")  # nothing listens there

    with ThreadPoolExecutor(max_workers=1) as pool:  # a thread publishes to the broker of its first send
        response = pool.submit(deliver, receiver, shop, customer()).result()

    # answered after the send gave up (its retry policy: tests/workers/test_publish.py)
    assert response.status_code == 200
    [row] = shop.inbox()
    assert (row.state, row.enqueued_at) == (InboxState.received, None)
    with session_scope(shop.database_url) as session:  # what the sweeper sends again, once stale
        assert (row.id, TOPIC) in inbox.stale(session, older_than_seconds=0, limit=1_000_000)


@pytest.fixture
def small_receiver(migrated, redis_url):
    """A receiver whose body limit is 1 KiB, to try the bound to the byte."""
    settings = Settings(database_url=migrated, redis_url=redis_url, encryption_keys=(KEY,), webhook_max_bytes=1024)
    return create_app(settings).test_client()


def padded(size: int) -> bytes:
    body = json.dumps({"id": 1, "pad": ""}).encode()
    return body.replace(b'""', b'"' + b"x" * (size - len(body)) + b'"')


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
def test_given_a_body_at_the_limit_then_taken_and_one_byte_over_then_413(small_receiver, shop, chunked):
    def send(body: bytes):
        headers = {"X-Shopify-Shop-Domain": shop.domain, "X-Shopify-Topic": TOPIC,
                   "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
                   "X-Shopify-Hmac-Sha256": sign(shop.secret, body)}
        if not chunked:
            return small_receiver.post("/webhooks/shopify", data=body, headers=headers)
        import io  # a stream with no length, ended by the server: what gunicorn hands over for chunked
        return small_receiver.post("/webhooks/shopify", input_stream=io.BytesIO(body),
                                   headers={**headers, "Transfer-Encoding": "chunked"},
                                   environ_overrides={"wsgi.input_terminated": True})

    at_limit, over = send(padded(1024)), send(padded(1025))

    assert (at_limit.status_code, over.status_code) == (200, 413)
    assert over.get_json()["error"] == "too large"
    assert [row.body.encode() for row in shop.inbox()] == [padded(1024)]
