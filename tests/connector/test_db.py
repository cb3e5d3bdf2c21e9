"""Work leaves the process only after the transaction that made it valid has committed."""
from __future__ import annotations

from sqlalchemy import text

from connector.db import after_commit, get_sessionmaker


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
