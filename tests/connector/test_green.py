"""``connector.green`` and the engine under gevent, in a process that gevent has patched as
gunicorn's gevent worker does (the test process itself stays unpatched)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

ENGINE_UNDER_GEVENT = """
import json, sys
from gevent import monkey
monkey.patch_all()
from connector import green
green.patch()
import psycopg2.extensions
from connector.db import get_engine
engine = get_engine(sys.argv[1])
print(json.dumps({"active": green.active(), "pool_size": engine.pool.size(), "pre_ping": engine.pool._pre_ping,
                  "psycopg_waits_cooperatively": psycopg2.extensions.get_wait_callback() is not None}))
"""


def engine_under_gevent(url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", ENGINE_UNDER_GEVENT, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_given_gevent_then_sqlite_has_one_connection_that_greenlets_take_in_turn(tmp_path):
    seen = engine_under_gevent(f"sqlite:///{tmp_path / 'green.db'}")
    assert seen["active"] and seen["psycopg_waits_cooperatively"]
    assert seen["pool_size"] == 1


def test_given_gevent_then_postgresql_connections_are_not_pinged_on_checkout(migrated):
    if not migrated.startswith("postgresql"):
        pytest.skip("the PostgreSQL engine: DATABASE_URL is not PostgreSQL")
    seen = engine_under_gevent(migrated)
    assert seen["active"] and not seen["pre_ping"]


def test_given_no_gevent_then_green_is_inactive_and_the_engine_as_before(tmp_path):
    from connector import green
    from connector.db import get_engine
    assert not green.active()
    assert get_engine(f"sqlite:///{tmp_path / 'threads.db'}").pool.size() > 1
