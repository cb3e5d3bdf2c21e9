"""``/healthz`` and ``/metrics`` on the admin app only; the public port answers ``/livez`` alone.
A scrape reads counts kept as events happen: no query, and whatever a topic holds cannot break
the exposition."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, text

from connector import metrics
from connector.config import Settings
from connector.db import get_engine, session_scope
from connector.services.setup import add_shop
from connector.shopify.webhooks import sign
from connector.vault import Vault, generate_key
from web.admin import create_app as create_admin_app
from web.app import create_app

KEY = generate_key()
NOWHERE = "postgresql://mlc@127.0.0.1:9/mlc"  # a real PostgreSQL URL on a port where nothing listens


def samples(response) -> dict[tuple[str, frozenset], float]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def inbox_gauge(scraped: dict, topic: str, state: str, queue: str = "") -> float | None:
    return scraped.get(("mlc_inbox_events", frozenset({"topic": topic, "queue": queue, "state": state}.items())))


def recounted_at(scraped: dict) -> float:
    return scraped[("mlc_metrics_recount_timestamp_seconds", frozenset())]


@pytest.fixture
def settings(migrated, redis_url) -> Settings:
    return Settings(database_url=migrated, redis_url=redis_url, encryption_keys=(KEY,))


@pytest.fixture
def admin(settings, redis_client):
    redis_client.delete(metrics.INBOX, metrics.STORED, metrics.FINISHED, metrics.BINDINGS, metrics.RECOUNTED,
                        metrics.RECOUNT_DUE)
    return create_admin_app(settings).test_client()


@pytest.fixture
def deliver(settings):
    """Deliveries of a topic of the test's own (no flow handles it: stored deferred, no task sent)."""
    domain, secret = f"adm-{uuid.uuid4().hex[:8]}.myshopify.com", f"shpss_{uuid.uuid4().hex}"
    with session_scope(settings.database_url) as session:
        add_shop(session, Vault([KEY]), domain=domain, client_id="app", client_secret=secret,
                 prefix=("M" + uuid.uuid4().hex[:7]).upper(), admin_base_url="http://127.0.0.1:9")
    receiver = create_app(settings).test_client()
    topic = "metrics/" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:12])

    def send(event_id: str) -> int:
        body = json.dumps({"id": 1, "event": event_id}).encode()  # the same event, the same body
        return receiver.post("/webhooks/shopify", data=body, headers={
            "X-Shopify-Shop-Domain": domain, "X-Shopify-Topic": topic, "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": datetime.now(timezone.utc).isoformat(),
            "X-Shopify-Hmac-Sha256": sign(secret, body)}).status_code
    send.topic = topic
    return send


class Statements:
    """Every SQL statement this process sends to the test database while the block runs."""

    def __init__(self, url: str):
        self.engine, self.seen = get_engine(url), []

    def _count(self, conn, cursor, statement, *args):
        self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


# --- off the public port --------------------------------------------------------------------------

def test_given_the_public_receiver_then_no_metrics_and_no_healthz_only_a_liveness_that_reads_nothing():
    receiver = create_app(Settings(database_url=NOWHERE, redis_url="redis://127.0.0.1:9/0",
                                   encryption_keys=(generate_key(),))).test_client()

    assert receiver.get("/metrics").status_code == 404
    assert receiver.get("/healthz").status_code == 404
    live = receiver.get("/livez")  # database and Redis both unreachable: not its business
    assert (live.status_code, live.get_json()) == (200, {"status": "ok"})


def test_given_database_unreachable_then_healthz_says_which_dependency_is_down(redis_url):
    settings = Settings(database_url=NOWHERE, redis_url=redis_url, encryption_keys=(generate_key(),))
    response = create_admin_app(settings).test_client().get("/healthz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"] == "ok" and checks["database"].startswith("error")


def test_given_redis_unreachable_then_metrics_answers_503(migrated):
    settings = Settings(database_url=migrated, redis_url="redis://127.0.0.1:9/0")
    assert create_admin_app(settings).test_client().get("/metrics").status_code == 503


# --- counts kept as events happen -----------------------------------------------------------------

def test_given_deliveries_then_counted_as_they_arrive_and_a_scrape_runs_no_query(admin, deliver, settings):
    first = samples(admin.get("/metrics"))  # Redis held nothing: counted once from the database
    assert recounted_at(first) > 0 and inbox_gauge(first, deliver.topic, "deferred") is None

    assert [deliver(e) for e in ("e1", "e2", "e3", "e1")] == [200] * 4  # the last one a duplicate
    with Statements(settings.database_url) as statements:
        scraped = samples(admin.get("/metrics"))

    assert statements == []
    assert inbox_gauge(scraped, deliver.topic, "deferred") == 3
    assert scraped[("mlc_inbox_stored_total", frozenset({"topic": deliver.topic}.items()))] == 3
    assert recounted_at(scraped) == recounted_at(first)  # from the counts, not a recount


def test_given_every_registered_topic_then_a_row_even_at_zero(admin):
    from connector.flows import FLOWS
    scraped = samples(admin.get("/metrics"))
    for flow in FLOWS:
        assert any(name == "mlc_inbox_events" and dict(labels)["topic"] == flow.topic
                   and dict(labels)["queue"] == flow.queue for name, labels in scraped)


def test_given_an_event_finished_then_it_moves_between_gauges_and_counts_as_finished(admin, settings):
    tally, topic = metrics.Tally(settings.redis_url), f"orders/t{uuid.uuid4().hex[:8]}"
    admin.get("/metrics")
    with session_scope(settings.database_url) as session:
        tally.moved(session, topic, None, "received")
        tally.moved(session, topic, None, "received")
    with session_scope(settings.database_url) as session:
        tally.moved(session, topic, "received", "done")
    with session_scope(settings.database_url) as session:  # rolled back: never counted
        session.execute(text("SELECT 1"))  # as the state change it counts would be
        tally.moved(session, topic, "received", "parked")
        session.rollback()

    scraped = samples(admin.get("/metrics"))

    assert (inbox_gauge(scraped, topic, "received"), inbox_gauge(scraped, topic, "done")) == (1, 1)
    assert inbox_gauge(scraped, topic, "parked") is None
    assert scraped[("mlc_inbox_finished_total", frozenset({"topic": topic, "state": "done"}.items()))] == 1


def test_given_a_topic_with_quotes_backslashes_and_a_newline_then_the_exposition_still_parses(admin, settings):
    topic = 'orders/"x"\\} evil{state="done"} 999\nmlc_bindings{kind="order"} 1'
    admin.get("/metrics")
    with session_scope(settings.database_url) as session:
        metrics.Tally(settings.redis_url).moved(session, topic, None, "received")

    scraped = samples(admin.get("/metrics"))

    assert inbox_gauge(scraped, topic, "received") == 1
    assert not any(name == "mlc_bindings" and dict(labels).get("kind") == "order" and value == 1
                   and dict(labels).get("state") is None for (name, labels), value in scraped.items())


def test_given_redis_emptied_then_the_next_scrape_counts_again_from_the_database(admin, deliver, redis_client):
    assert [deliver(e) for e in ("e1", "e2")] == [200, 200]
    redis_client.delete(metrics.INBOX, metrics.STORED, metrics.RECOUNTED, metrics.RECOUNT_DUE)

    scraped = samples(admin.get("/metrics"))

    assert inbox_gauge(scraped, deliver.topic, "deferred") == 2
    assert ("mlc_inbox_stored_total", frozenset({"topic": deliver.topic}.items())) not in scraped  # counters restart
