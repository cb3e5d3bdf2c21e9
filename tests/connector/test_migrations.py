"""Migrations that fill new columns from what a running installation already holds."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from connector.db import driver_url
from connector.migrate import upgrade

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def database(tmp_path):
    from cli.stack import private_database
    with private_database(tmp_path / "migrations.db", "mlc_migrations") as url:
        yield url


def test_given_stored_deliveries_then_0007_hashes_each_body_once_per_shop_and_topic(database):
    upgrade(database, "0006")
    engine = create_engine(driver_url(database))
    with engine.begin() as db:
        db.execute(text("INSERT INTO shops (id, domain, client_id, api_version, admin_base_url, transaction_prefix,"
                        " created_at) VALUES (1, 'm.myshopify.com', 'a', '2026-01', '', 'M', :now)"), {"now": NOW})
        for id_, topic, event, body in ((1, "orders/create", "e1", '{"id": 1}'), (2, "orders/create", "e2", '{"id": 1}'),
                                        (3, "orders/paid", "e3", '{"id": 1}'), (4, "orders/create", "e4", '{"id": 2}')):
            db.execute(text("INSERT INTO inbox_events (id, shop_id, topic, event_id, webhook_id, api_version,"
                            " triggered_at, resource_id, body, state, attempts, last_error, received_at)"
                            " VALUES (:id, 1, :topic, :event, '', '', '', '1', :body, 'done', 1, '', :now)"),
                       {"id": id_, "topic": topic, "event": event, "body": body, "now": NOW})

    upgrade(database, "0007")

    with engine.connect() as db:
        hashes = dict(db.execute(text("SELECT id, body_sha256 FROM inbox_events ORDER BY id")).all())
    digest = {body: hashlib.sha256(body.encode()).hexdigest() for body in ('{"id": 1}', '{"id": 2}')}
    # the second copy of a body on one topic keeps no hash: the unique index could not be built
    assert hashes == {1: digest['{"id": 1}'], 2: None, 3: digest['{"id": 1}'], 4: digest['{"id": 2}']}
    engine.dispose()


def test_given_a_shop_that_kept_a_previous_secret_then_0006_dates_its_rotation_by_that_credential(database):
    upgrade(database, "0005")
    engine = create_engine(driver_url(database))
    stored = NOW - timedelta(minutes=20)
    with engine.begin() as db:
        for id_, domain in ((1, "rotated.myshopify.com"), (2, "never.myshopify.com")):
            db.execute(text("INSERT INTO shops (id, domain, client_id, api_version, admin_base_url,"
                            " transaction_prefix, created_at) VALUES (:id, :domain, 'a', '2026-01', '', :prefix, :now)"),
                       {"id": id_, "domain": domain, "prefix": f"P{id_}", "now": NOW})
        db.execute(text("INSERT INTO credentials (scope, name, ciphertext, updated_at) VALUES"
                        " ('shop:rotated.myshopify.com', 'previous_client_secret', :c, :at),"
                        " ('shop:rotated.myshopify.com', 'client_secret', :c, :now),"
                        " ('shop:never.myshopify.com', 'client_secret', :c, :now)"),
                   {"c": b"x", "at": stored, "now": NOW})

    upgrade(database, "0006")

    with engine.connect() as db:
        rotated = dict(db.execute(text("SELECT domain, secret_rotated_at FROM shops")).all())
    assert rotated["never.myshopify.com"] is None
    at = rotated["rotated.myshopify.com"]
    at = datetime.fromisoformat(at) if isinstance(at, str) else at
    assert at.replace(tzinfo=at.tzinfo or timezone.utc) == stored
    engine.dispose()
