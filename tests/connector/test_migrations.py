"""Migrations that fill new columns from what a running installation already holds."""
from __future__ import annotations

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
