"""Test fixtures: real PostgreSQL or SQLite, real Redis, real worker processes, real HTTP.

A fresh database per test run (PostgreSQL: a new database on the server in ``DATABASE_URL``;
otherwise a SQLite file); unit tests of the database layer run inside a transaction that is rolled
back. Integration tests share one running stack and stay apart by using a shop of their own.
"""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from connector.config import DEFAULT_MAPPING_FILE
from tests.support import FUSION_CLIENT, PARKING_SHOP, Fusion, TestShop

# The tests flush it: never point them at a database that holds real data. Two runs at once on one
# server need a database each (MLC_TEST_REDIS_DB), or they take each other's tasks and keys; so do
# the workers of one run under pytest-xdist (gw0 takes the base, gw1 the next, …).
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
TEST_REDIS_DB = (int(os.environ.get("MLC_TEST_REDIS_DB", "9")) + _XDIST_WORKER) % 16


def pytest_collection_modifyitems(items):
    """Modules marked ``long_running`` first, each in its own order. Under xdist with
    ``--no-loadscope-reorder`` (the Makefile's) each goes to a worker at the start and the short
    modules fill in around them: xdist's own order, by number of tests, started the one-test
    demo and backfill modules last, and the run waited two minutes on one worker."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    from cli.stack import private_database
    with private_database(tmp_path_factory.mktemp("db") / "mlc-test.db", "mlc_test") as url:
        yield url


@pytest.fixture(scope="session")
def migrated(database_url):
    from connector.migrate import upgrade
    upgrade(database_url)
    return database_url


@pytest.fixture
def db_session(migrated):
    """A session whose work is rolled back after the test (savepoints let the code commit)."""
    from connector.db import get_engine
    engine = get_engine(migrated)
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """The test Redis, flushed: a database of the server in REDIS_URL, or an embedded server."""
    import redis
    configured = os.environ.get("REDIS_URL", "")
    if not configured:
        from cli.stack import start_embedded_redis
        process, url = start_embedded_redis(tmp_path_factory.mktemp("redis"))
        yield url
        process.terminate()
        process.wait(timeout=10)
        return
    parsed = urlsplit(configured)
    url = f"redis://{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}/{TEST_REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    yield url


@pytest.fixture
def redis_client(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, migrated, redis_url):
    from cli.stack import Stack
    workdir = tmp_path_factory.mktemp("stack")
    # the packaged mapping and the session shops' own policies, in a file of the run's own: a test
    # may add its shop's overrides (tests.support.add_shop_mapping), which the workers read on their next event
    mapping = workdir / "mapping.toml"
    mapping.write_text(_test_mapping())
    instance = Stack(workdir, database_url=migrated, redis_url=redis_url,
                     fusion_sandbox=FUSION_CLIENT, shopify_sandbox={"time_scale": 0.001},
                     extra_env={"MLC_INBOX_SWEEP_INTERVAL": "2", "MLC_INBOX_STALE_AFTER": "3",
                                "MLC_RETRY_BACKOFF_MAX": "2", "MLC_HTTP_READ_TIMEOUT": "3",
                                "MLC_LOCK_TIMEOUT": "5", "MLC_CREATE_LEASE": "10",
                                "MLC_TASK_TIME_LIMIT": "25", "MLC_DEPENDENCY_WAIT": "2",
                                "MLC_PRIVACY_EXPORT_DIR": str(workdir / "privacy-exports"),
                                "MLC_MAPPING_FILE": str(mapping),
                                # the tests send the Fusion polls they count (tests/integration/test_fusion_poll.py)
                                **dict.fromkeys(("MLC_FUSION_POLL_INVOICES", "MLC_FUSION_POLL_CREDIT_MEMOS",
                                                 "MLC_FUSION_POLL_RECEIPTS", "MLC_FUSION_POLL_ACCOUNTS"), "3600"),
                                # and run the reconciliations they count (tests/integration/test_reconcile.py):
                                # tests that hold webhooks back on purpose are not reconciled behind their backs
                                "MLC_SHOPIFY_RECONCILE_EVERY": "3600"})
    instance.start()
    try:
        instance.wait_for_workers()
        _configure_fusion(instance)
        yield instance
    finally:
        instance.stop()


#: The one shop of the run whose orders without an email bill a person per phone number
#: (``tests/integration/test_phone_guest_orders.py``); every other shop has the packaged mapping.
PHONE_SHOP = f"tphone-{uuid.uuid4().hex[:6]}.myshopify.com"


def _test_mapping() -> str:
    """The packaged mapping, and the session's shops with policies of their own: one that parks
    closed-period documents, one that bills guests without email to a party per phone number."""
    return DEFAULT_MAPPING_FILE.read_text() + "".join(
        f'\n[shops."{domain}".{section}]\n{setting}\n' for domain, section, setting in (
            (PARKING_SHOP, "dates", 'closed_period = "park"'),
            (PHONE_SHOP, "customers", 'guest_without_email = "phone_party"')))


@pytest.fixture(scope="session")
def phone_shop(stack):
    """The shop with ``[customers] guest_without_email = "phone_party"``."""
    return TestShop.create(stack, prefix="TPHONE", domain=PHONE_SHOP)


def _configure_fusion(stack) -> None:
    from connector.config import load_settings
    from connector.db import session_scope
    from connector.services.context import Services
    from connector.services.setup import set_fusion
    fusion = stack.urls["fusion_sandbox"]
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        set_fusion(session, services.vault, base_url=fusion, token_url=f"{fusion}/oauth2/v1/token",
                   client_id=FUSION_CLIENT["client_id"], scope=FUSION_CLIENT["scope"],
                   secret=FUSION_CLIENT["client_secret"])


@pytest.fixture
def fusion(stack):
    """The Fusion sandbox; any fault a test switches on is switched off after it."""
    client = Fusion(stack.urls["fusion_sandbox"])
    yield client
    client.clear_faults()


@pytest.fixture
def shop(stack, request):
    """A shop of this test's own, known to the Shopify sandbox and to the connector."""
    return TestShop.create(stack, prefix=("T" + uuid.uuid4().hex[:7]).upper())
