"""Work leaves the process only after the transaction that made it valid has committed."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from connector.db import (
    after_commit,
    driver_url,
    get_engine,
    get_sessionmaker,
    once_more_if_disconnected,
    ping_when_idle,
)
from connector.models import Binding, BindingKind, Shop
from tests.support import eventually


def test_given_an_action_after_commit_then_it_runs_once_the_transaction_commits(migrated):
    ran = []
    with get_sessionmaker(migrated)() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("sent"))
        assert ran == []  # not while the row may still be rolled back

        session.commit()
        session.commit()  # a later commit does not send it again

    assert ran == ["sent"]


def test_given_a_rollback_then_the_action_is_dropped(migrated):
    ran = []
    with get_sessionmaker(migrated)() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("sent"))
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()

    assert ran == []


def test_given_a_failing_action_then_the_commit_stands_and_the_next_action_still_runs(migrated):
    ran = []

    def broker_down():
        raise ConnectionError("broker unreachable")

    with get_sessionmaker(migrated)() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, broker_down)
        after_commit(session, lambda: ran.append("second"))
        session.commit()  # does not raise: the row is committed, the sweeper re-sends

    assert ran == ["second"]


def test_given_a_savepoint_after_the_action_then_it_waits_for_the_outer_commit(migrated):
    ran = []
    with get_sessionmaker(migrated)() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("sent"))
        with session.begin_nested():  # released: not the end of the transaction
            session.execute(text("SELECT 1"))
        assert ran == []
        try:
            with session.begin_nested():  # rolled back: the outer transaction goes on
                raise ValueError("a race lost inside a savepoint")
        except ValueError:
            pass
        session.commit()

    assert ran == ["sent"]


@pytest.mark.parametrize("violation", ["unique", "not null"])
def test_given_a_constraint_violation_then_the_error_quotes_none_of_the_values(db_session, violation):
    # a guest customer's binding is keyed "email:<address>": webhook data, personal data
    email = f"email:pii-{uuid.uuid4().hex[:8]}@example.com"
    shop = Shop(domain=f"{uuid.uuid4().hex[:8]}.myshopify.com", client_id="app",
                transaction_prefix="P" + uuid.uuid4().hex[:6].upper())
    db_session.add(shop)
    db_session.flush()
    rows = [Binding(shop_id=shop.id, kind=BindingKind.customer, shopify_id=email),
            Binding(shop_id=shop.id, kind=None if violation == "not null" else BindingKind.customer,
                    shopify_id=email)]

    with pytest.raises(IntegrityError) as raised:
        with db_session.begin_nested():
            for row in rows[1:] if violation == "not null" else rows:
                db_session.add(row)
                db_session.flush()

    message = str(raised.value)
    assert "pii-" not in message and "pii-" not in str(raised.value.orig), message
    assert "[SQL parameters hidden due to hide_parameters=True]" in message


def test_given_a_dropped_connection_then_the_work_runs_once_more_on_a_new_one(migrated):
    if not migrated.startswith("postgresql"):
        pytest.skip("a server that drops a connection: PostgreSQL")
    # given: a pool without pre-ping, as under gevent, whose one connection the server dropped
    engine = create_engine(driver_url(migrated), pool_size=1, max_overflow=0)
    with engine.connect() as connection:
        dropped = connection.scalar(text("SELECT pg_backend_pid()"))
    with get_engine(migrated).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})

    def gone() -> bool:  # a transaction of its own: pg_stat_activity is a snapshot per transaction
        with get_engine(migrated).connect() as admin:
            return not admin.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": dropped})

    assert eventually(gone)
    runs = []

    def work() -> int:
        runs.append(1)
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_backend_pid()"))

    # when
    backend = once_more_if_disconnected(work)

    # then: the first run failed on the dropped connection, the second ran on a new one
    assert len(runs) == 2 and backend != dropped
    engine.dispose()


def test_given_an_error_that_is_no_dropped_connection_then_the_work_is_not_run_again(migrated):
    runs = []

    def work() -> None:
        runs.append(1)
        with get_engine(migrated).connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError):
        once_more_if_disconnected(work)
    assert runs == [1]


def test_given_a_connection_dropped_while_it_sat_idle_then_the_next_checkout_gets_a_new_one(migrated):
    if not migrated.startswith("postgresql"):
        pytest.skip("a server that drops a connection: PostgreSQL")
    # given: a worker's pool (pinged when idle; here from the first idle moment on), whose one
    # connection the server dropped while it sat in the pool
    engine = create_engine(driver_url(migrated), pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds=0)
    with engine.connect() as connection:
        dropped = connection.scalar(text("SELECT pg_backend_pid()"))
    with get_engine(migrated).connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})

    def gone() -> bool:
        with get_engine(migrated).connect() as admin:
            return not admin.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": dropped})

    assert eventually(gone)

    # when: the next unit of work checks a connection out
    with engine.connect() as connection:
        backend = connection.scalar(text("SELECT pg_backend_pid()"))

    # then: it ran on a new connection, without an error
    assert backend != dropped
    engine.dispose()

