"""The receiver as the internet meets it: gunicorn as the Procfile runs it (the test stack's ``web``
process, ``cli.stack``), sent what an attacker or a broken sender would send.

Every bad input gets its status and never a 5xx (Shopify retries a 5xx for hours; an attacker
learns from one); nothing of it reaches the inbox; a signed one that is refused is recorded in the
audit trail (``webhook.malformed``, ``webhook.refused``), an unsigned one is not (anyone could fill
the trail). Then the rules that only the body's signature can be trusted for: a body already
stored is a duplicate whatever its headers say, ``X-Shopify-Triggered-At`` must be recent, and the
previous client secret verifies only within the rotation window. Shopify's compliance webhooks,
which have no top-level ``id``, are taken as they are really sent.
"""
from __future__ import annotations

import hashlib
import json
import re
import select
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, update
from sqlalchemy import select as sql_select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import AuditEvent, InboxEvent, InboxState, Shop
from connector.shopify.webhooks import sign
from tests.support import TestShop, eventually

LIMIT = 5 * 1024 * 1024  # MLC_WEBHOOK_MAX_BYTES as the stack runs it: the production default
TOPIC = "products/update"  # stored deferred: no worker acts on what these tests send


@pytest.fixture(scope="module")
def target(stack) -> TestShop:
    return TestShop.create(stack, prefix=("S" + uuid.uuid4().hex[:7]).upper())


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def body_of(marker: str, **fields) -> bytes:
    return json.dumps({"id": 4242, "title": "probe", "marker": marker, **fields}).encode()


def headers_for(shop: TestShop, body: bytes, *, topic: str = TOPIC, secret: str | None = None,
                **overrides: str | None) -> dict[str, str]:
    """Shopify's headers for ``body``; an override of None leaves the header out."""
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop.domain,
               "X-Shopify-API-Version": "2026-01", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
               "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-Triggered-At": now(),
               "X-Shopify-Hmac-Sha256": sign(secret or shop.secret, body)}
    names = {name.lower(): name for name in headers}
    for key, value in overrides.items():
        name = names.get(key.replace("_", "-").lower(), key)
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


def post(stack, headers: dict, body: bytes) -> int:
    return requests.post(f"{stack.urls['receiver']}/webhooks/shopify", data=body, headers=headers, timeout=30).status_code


def raw_post(stack, headers: dict, body: bytes, *, chunked: bool, declared_length: int | None = None) -> int:
    """A POST on a socket of its own, so that a body can be chunked or its length lied about, and
    the sending stops as soon as the server has answered (it answers before reading the rest)."""
    url = urlsplit(stack.urls["receiver"])
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = ["POST /webhooks/shopify HTTP/1.1", f"Host: {url.netloc}", "Connection: close",
                *(f"{name}: {value}" for name, value in headers.items()),
                "Transfer-Encoding: chunked" if chunked else f"Content-Length: {declared_length or len(body)}"]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        step = 64 * 1024
        frames = [body[i:i + step] for i in range(0, len(body), step)]
        if chunked:
            frames = [b"%x\r\n%s\r\n" % (len(f), f) for f in frames] + [b"0\r\n\r\n"]
        for frame in frames:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while b"\r\n" not in answer:
            part = sock.recv(4096)
            if not part:
                break
            answer += part
    return int(answer.split(b" ", 2)[1])


def stored_with(marker: str) -> int:
    """Inbox rows whose body carries ``marker``, whatever shop or topic they were stored under."""
    with session_scope(load_settings().database_url) as session:
        return session.scalar(sql_select(func.count()).select_from(InboxEvent)
                              .where(InboxEvent.body.contains(marker)))


def recorded(shop: TestShop, body: bytes) -> list[str]:
    """The audit actions that name this exact body (by its hash)."""
    digest = hashlib.sha256(body).hexdigest()
    with session_scope(load_settings().database_url) as session:
        rows = session.scalars(sql_select(AuditEvent).join(Shop, Shop.id == AuditEvent.shop_id)
                               .where(Shop.domain == shop.domain, AuditEvent.action.like("webhook.%")))
        return [row.action for row in rows if row.detail.get("body_sha256") == digest]


# -- the bad inputs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    status: int
    headers: dict = field(default_factory=dict)     # overrides of Shopify's headers (None: left out)
    body: bytes | None = None                       # None: a well-formed body of its own
    signed: bool = True                             # signed with the shop's secret (else as given)
    topic: str = TOPIC
    send: str = "requests"                          # or "raw" (a socket of its own), or "chunked"
    declared: int | None = None                     # the Content-Length said, if not the body's
    record: str = ""                                # the audit action a signed refusal leaves


HOURS_AGO = lambda hours: (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()  # noqa: E731
DEEP = b"[" * 5000 + b"]" * 5000
CASES = [
    # unsigned headers that are not of Shopify's shape: 400, nothing stored or recorded
    Case("topic missing", 400, {"X-Shopify-Topic": None}),
    Case("topic of 500 characters", 400, topic="orders/" + "x" * 493),
    Case("topic with quotes (a /metrics label)", 400, topic='orders/create"} evil{x="'),
    Case("topic with a space", 400, topic="orders/create now"),
    Case("topic in capitals", 400, topic="ORDERS/CREATE"),
    Case("topic without a separator", 400, topic="orders"),
    Case("topic walking up a path", 400, topic="../admin/orders"),
    Case("no event id and no webhook id", 400, {"X-Shopify-Event-Id": None, "X-Shopify-Webhook-Id": None}),
    Case("webhook id of 500 characters", 400, {"X-Shopify-Webhook-Id": "w" * 500}),
    Case("event id with quotes and spaces", 400, {"X-Shopify-Event-Id": '1" OR "1"="1'}),
    Case("shop domain missing", 400, {"X-Shopify-Shop-Domain": None}),
    Case("shop domain not on myshopify.com", 400, {"X-Shopify-Shop-Domain": "evil.example.com"}),
    Case("shop domain of 300 characters", 400, {"X-Shopify-Shop-Domain": "a" * 286 + ".myshopify.com"}),
    Case("shop domain with SQL in it", 400, {"X-Shopify-Shop-Domain": "x';drop table shops;--.myshopify.com"}),
    Case("Triggered-At that is no time", 400, {"X-Shopify-Triggered-At": "yesterday"}),
    Case("Triggered-At without its offset", 400, {"X-Shopify-Triggered-At": "2026-12-01T10:00:00"}),
    Case("Triggered-At missing", 400, {"X-Shopify-Triggered-At": None}),
    Case("API version that is none", 400, {"X-Shopify-API-Version": "2026-01'; --"}),
    # not signed by the shop: 401, nothing stored or recorded
    Case("no signature", 401, {"X-Shopify-Hmac-Sha256": None}),
    Case("signature that is not base64", 401, {"X-Shopify-Hmac-Sha256": "%%%not-base64%%%"}),
    Case("signed with another secret", 401, signed=False),
    Case("a shop nobody configured", 401, {"X-Shopify-Shop-Domain": "nobody-here.myshopify.com"}),
    Case("empty body", 401, body=b""),
    Case("bad signature and a topic of the wrong shape", 401, topic="ORDERS", signed=False),
    Case("a compliance webhook with a bad HMAC (Shopify's app check)", 401, topic="customers/redact", signed=False,
         headers={"X-Shopify-Triggered-At": None, "X-Shopify-Event-Id": None, "X-Shopify-API-Version": None}),
    # too large, however it comes: 413 before the rest is read
    Case("Content-Length over the limit", 413, body=b" " * (LIMIT + 1), send="raw"),
    Case("Content-Length claiming more than is sent", 413, body=b"{}", send="raw", declared=LIMIT + 1),
    Case("chunked body over the limit", 413, body=b" " * (LIMIT + 1), send="chunked"),
    # signed bodies that are not Shopify's payloads: 400, recorded as malformed
    Case("JSON nested 5,000 deep", 400, body=DEEP, record="webhook.malformed"),
    Case("JSON nested 100 deep", 400, body=b'{"a":' * 100 + b"1" + b"}" * 100, record="webhook.malformed"),
    Case("body that is not UTF-8", 400, body=b'{"id": 1, "title": "\xff\xfe"}', record="webhook.malformed"),
    Case("a JSON array", 400, body=b'[{"id": 1}]', record="webhook.malformed"),
    Case("an id that is an object", 400, body=b'{"id": {"$gt": 0}}', record="webhook.malformed"),
    Case("an id of 40 digits", 400, body=b'{"id": "' + b"9" * 40 + b'"}', record="webhook.malformed"),
    Case("JSON with trailing garbage", 400, body=b'{"id": 1} <script>', record="webhook.malformed"),
    Case("no id on an ordinary topic", 400, body=b'{"title": "no id"}', record="webhook.malformed"),
    Case("a redact naming another shop", 400, topic="shop/redact", record="webhook.malformed",
         body=b'{"shop_id": 1, "shop_domain": "someone-else.myshopify.com"}'),
    # signed and well-formed, but not fresh: 400, recorded as refused
    Case("Triggered-At 7 hours ago", 400, {"X-Shopify-Triggered-At": HOURS_AGO(7)}, record="webhook.refused"),
    Case("Triggered-At an hour ahead", 400, {"X-Shopify-Triggered-At": HOURS_AGO(-1)}, record="webhook.refused"),
]


def test_there_are_at_least_25_bad_inputs():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_given_a_bad_input_then_its_status_nothing_stored_and_no_5xx(stack, target, case):
    marker = uuid.uuid4().hex
    body = body_of(marker) if case.body is None else case.body.replace(b'"id": 1', f'"id": 1, "m": "{marker}"'.encode())
    headers = headers_for(target, body, topic=case.topic, secret=None if case.signed else "shpss_not_the_one",
                          **case.headers)

    if case.send == "requests":
        status = post(stack, headers, body)
    else:
        status = raw_post(stack, headers, body, chunked=case.send == "chunked", declared_length=case.declared)

    assert status == case.status and status < 500
    assert stored_with(marker) == 0 and len([r for r in target.inbox() if r.body.encode() == body]) == 0
    assert recorded(target, body) == ([case.record] if case.record else [])


def test_given_the_attack_then_metrics_still_parse_and_health_answers(stack, target):
    quoted = body_of(uuid.uuid4().hex)
    post(stack, headers_for(target, quoted, topic='orders/create"} evil{x="'), quoted)

    metrics = requests.get(f"{stack.urls['admin']}/metrics", timeout=30)  # off the public port
    health = requests.get(f"{stack.urls['admin']}/healthz", timeout=30)

    sample = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="([^"\\\n]|\\.)*",?)*\})? -?[0-9.e+]+')
    broken = [line for line in metrics.text.splitlines() if not line.startswith("#") and not sample.fullmatch(line)]
    assert (metrics.status_code, broken, health.status_code) == (200, [], 200)


def test_given_a_topic_stored_before_these_checks_then_its_metrics_label_is_escaped():
    from prometheus_client import CollectorRegistry, generate_latest

    from connector import metrics
    from web.admin import _Families
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(metrics.Counts({('orders/x"} evil{a="\\', "done"): 1}, {}, {}, {}, 0)))

    assert 'mlc_inbox_events{queue="",state="done",topic="orders/x\\"} evil{a=\\"\\\\"} 1.0' in \
        generate_latest(registry).decode().splitlines()


# -- the rules only the signed body can be trusted for ---------------------------------------------

def test_given_a_stored_body_sent_again_with_fresh_headers_then_a_duplicate_and_stored_once(stack, target):
    body = body_of(uuid.uuid4().hex)
    first = requests.post(f"{stack.urls['receiver']}/webhooks/shopify", data=body,
                          headers=headers_for(target, body), timeout=30)

    replay = requests.post(f"{stack.urls['receiver']}/webhooks/shopify", data=body, timeout=30, headers=headers_for(
        target, body, **{"X-Shopify-Event-Id": "replayed-1", "X-Shopify-Webhook-Id": "replayed-1",
                         "X-Shopify-API-Version": "2026-04"}))

    assert (first.json()["status"], replay.status_code, replay.json()["status"]) == ("accepted", 200, "duplicate")
    assert [r.body.encode() for r in target.inbox()].count(body) == 1


def test_given_a_delivery_retried_three_hours_after_it_was_triggered_then_still_accepted(stack, target):
    body = body_of(uuid.uuid4().hex)  # Shopify retries for 4 hours, with the first try's Triggered-At

    assert post(stack, headers_for(target, body, **{"X-Shopify-Triggered-At": HOURS_AGO(3)}), body) == 200
    assert stored_with(json.loads(body)["marker"]) == 1


def test_given_a_chunked_body_under_the_limit_then_accepted(stack, target):
    body = body_of(uuid.uuid4().hex)

    assert raw_post(stack, headers_for(target, body), body, chunked=True) == 200
    assert stored_with(json.loads(body)["marker"]) == 1


def test_given_the_secret_rotated_then_the_previous_one_verifies_within_the_window(stack):
    shop = TestShop.create(stack, prefix=("R" + uuid.uuid4().hex[:7]).upper())
    previous = shop.secret
    shop.secret = "shpss_" + uuid.uuid4().hex
    shop.configure(shop.prefix)  # `shops add` with the new secret: the rotation starts now
    body = body_of(uuid.uuid4().hex)

    assert post(stack, headers_for(shop, body, secret=previous), body) == 200


def test_given_the_rotation_window_passed_then_the_previous_secret_is_refused_and_the_new_one_taken(stack):
    shop = TestShop.create(stack, prefix=("R" + uuid.uuid4().hex[:7]).upper())
    previous = shop.secret
    shop.secret = "shpss_" + uuid.uuid4().hex
    shop.configure(shop.prefix)
    with session_scope(load_settings().database_url) as session:  # as if the hour had passed
        session.execute(update(Shop).where(Shop.domain == shop.domain)
                        .values(secret_rotated_at=datetime.now(timezone.utc) - timedelta(hours=1, minutes=1)))
    forged, genuine = body_of(uuid.uuid4().hex), body_of(uuid.uuid4().hex)

    assert post(stack, headers_for(shop, forged, secret=previous), forged) == 401
    assert post(stack, headers_for(shop, genuine), genuine) == 200
    assert stored_with(json.loads(forged)["marker"]) == 0


# -- Shopify's mandatory compliance webhooks, in their real shape ----------------------------------

def compliance_bodies(shop: TestShop, marker: str) -> dict[str, dict]:
    customer = {"id": 191167, "email": f"{marker}@example.com", "phone": "555-625-1199"}
    return {
        "customers/data_request": {"shop_id": 954889, "shop_domain": shop.domain, "orders_requested": [299938],
                                   "customer": customer, "data_request": {"id": 9999}},
        "customers/redact": {"shop_id": 954889, "shop_domain": shop.domain, "customer": customer,
                             "orders_to_redact": [299938, 280263, 220458]},
        "shop/redact": {"shop_id": 954889, "shop_domain": shop.domain, "marker": marker},
    }


@pytest.mark.parametrize("without_triggered_at", [False, True], ids=["with Triggered-At", "without Triggered-At"])
def test_given_the_compliance_webhooks_in_their_real_shape_then_200_stored_and_processed(
        stack, without_triggered_at):
    shop = TestShop.create(stack, prefix=("C" + uuid.uuid4().hex[:7]).upper())  # shop/redact erases its data
    marker = uuid.uuid4().hex
    extra = {"X-Shopify-Triggered-At": None, "X-Shopify-Event-Id": None} if without_triggered_at else {}
    statuses, rows = {}, {}
    for topic, payload in compliance_bodies(shop, marker).items():  # one at a time: a redact erases
        body = json.dumps(payload).encode()                          # the bodies of requests still waiting
        statuses[topic] = post(stack, headers_for(shop, body, topic=topic, **extra), body)
        rows[topic] = eventually(lambda: next((r for r in shop.inbox() if r.topic == topic
                                               and r.state != InboxState.received), None))

    assert statuses == {"customers/data_request": 200, "customers/redact": 200, "shop/redact": 200}
    assert {topic: (r.state, r.resource_id) for topic, r in rows.items()} == {
        "customers/data_request": (InboxState.done, "191167"), "customers/redact": (InboxState.done, "191167"),
        "shop/redact": (InboxState.done, "954889")}
    assert not [r for r in shop.inbox() if marker in r.body]  # erased: the redacts' own bodies too
