"""Engines and sessions. One engine per process and URL; short transactions per unit of work.

Under gevent (the receiver's gunicorn workers, :mod:`connector.green`) greenlets share the
engine: SQLite gets one connection, which they take in turn (its busy wait would block every
greenlet of the process), and PostgreSQL connections are not pinged on checkout (one more round
trip on every delivery); a connection found dropped is retried once instead
(:func:`once_more_if_disconnected`). Elsewhere (workers, beat, the admin app, the CLI) a connection
is pinged on checkout only when it sat unused in the pool for :data:`PING_AFTER_IDLE` seconds or
more: a busy worker checks a connection out for each of its short transactions, dozens per order,
and a ``SELECT 1`` before each was one round trip in three (BENCHMARKS.md, "Worker CPU per
order"). A connection that died while in use fails its statement instead, which invalidates the
whole pool (SQLAlchemy's reaction to a disconnect): the task's attempt fails as any database
outage does and is retried, and the next checkouts get new connections.

A database error never carries the values it was about: the statement's bound parameters are
hidden (``hide_parameters``), and PostgreSQL's ``DETAIL`` line, which quotes a conflicting key or
a whole failing row, is cut from the message. Those values are webhook data, names and emails
among them, and an error message ends up in logs and in an inbox row's ``last_error``.
"""
from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from connector import green

log = logging.getLogger(__name__)
_AFTER_COMMIT = "mlc_after_commit"
T = TypeVar("T")
#: Seconds a pooled connection may sit unused before it is pinged on its next checkout.
PING_AFTER_IDLE = 5.0
_IDLE_SINCE = "mlc_idle_since"


def driver_url(url: str) -> str:
    """``postgresql://`` (the form every platform hands out) with the driver we ship, psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    url = driver_url(url)
    greenlets = green.active()
    if url.startswith("sqlite"):
        one_at_a_time = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if greenlets else {}
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **one_at_a_time)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Several processes (web, workers, beat) share the file: WAL lets readers run beside
            # the writer, and the busy timeout makes writers queue instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # Let SQLAlchemy, not the driver, begin transactions, so SAVEPOINTs work …
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            # … and take the write lock up front: a deferred transaction that later writes fails
            # at once (no busy wait) when another process committed in between.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    from connector.config import load_settings
    settings = load_settings()
    # Under gevent, more commits than the pool has connections wait for one; past 5 s Shopify has
    # stopped waiting for the answer, so the wait ends then (the receiver answers 503). The receiver
    # itself commits one batch of deliveries at a time per process (web.group_commit), whose other
    # deliveries wait there, for at most its WAIT_SECONDS.
    waits = {"pool_timeout": 5} if greenlets else {}
    engine = create_engine(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                           hide_parameters=True, **waits)
    event.listen(engine, "handle_error", _without_detail)
    if not greenlets:
        ping_when_idle(engine)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE) -> None:
    """SQLAlchemy's pre-ping, for connections that sat in the pool ``idle_seconds`` or more: a
    connection the server dropped meanwhile (a restart, a fail-over, an idle timeout) is replaced
    before it is used, and one in steady use costs no round trip."""

    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("the pooled connection was found dropped") from exc  # the pool reconnects
            raise


_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)


def _without_detail(context) -> None:
    """PostgreSQL's ``DETAIL:`` line quotes values ("Key (shopify_id)=(email:…)", "Failing row
    contains (…)"): cut from the driver's exception and from SQLAlchemy's, which quotes it."""
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc is not None and len(exc.args) == 1 and isinstance(exc.args[0], str):
            exc.args = (_DETAIL.sub("DETAIL:  (hidden: it quotes values)", exc.args[0]),)


def once_more_if_disconnected(work: Callable[[], T]) -> T:
    """``work()``, run again once if the database connection it used was found dropped (a
    restarted or failed-over server): the pool has discarded its connections, and the unit of work
    is run whole again on a new one. For a delivery that is safe: its transaction was rolled back,
    or, if the commit itself was lost in flight, the second run finds the row and answers
    "duplicate" (the inbox sweeper sends any task that was never sent)."""
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("the database connection was dropped; trying once more on a new one")
        return work()


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A transaction: commit on success, roll back on any exception."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def before_remote_call(session: Session) -> None:
    """End the open transaction before talking to Shopify or Fusion.

    A transaction must never stay open across a slow remote call: on SQLite it holds the
    database's write lock (the receiver would stall), and on PostgreSQL it pins a connection.
    """
    session.commit()


@contextmanager
def no_open_transaction(session: Session) -> Iterator[None]:
    """Leave the block with the session's transaction ended: committed, or rolled back on error.

    Put inside a lock's ``with``: the transaction ends before the lock is released, so a
    SQLite write lock is never held while Redis is called.
    """
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    else:
        session.commit()


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed; forget it on a rollback.

    This is how work leaves the process (a Celery task, above all): a task sent before its row
    is committed can run before the row exists, or for a row that is then rolled back. An action
    that fails is logged and dropped; what it was meant to start must be recoverable from the
    committed rows (the inbox sweeper re-sends any event that stays waiting).
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def pending_after_commit(session: Session) -> list[Callable[[], None]]:
    """The actions waiting for this transaction's commit, in order (a rollback forgets them): one
    action may take another's work along, so both leave the process in one round trip."""
    return session.info.get(_AFTER_COMMIT, [])


def take_after_commit(session: Session) -> list[Callable[[], None]]:
    """The actions waiting for this transaction's commit, now the caller's to run once it has
    committed (and to drop if it does not): a commit made for several requests answers them all
    first, and leaves their work after (``web.group_commit``)."""
    return session.info.pop(_AFTER_COMMIT, [])


def run_actions(actions: list[Callable[[], None]]) -> None:
    """Run actions taken from a committed transaction, as its commit would have."""
    for action in actions:
        try:
            action()
        except Exception:  # committed already: the work is recoverable, the caller's success stands
            log.exception("an action after commit failed; the committed state lets it be redone")


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    run_actions(session.info.pop(_AFTER_COMMIT, []))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: the outer transaction goes on
        return
    session.info.pop(_AFTER_COMMIT, None)
