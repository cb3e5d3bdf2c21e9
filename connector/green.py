"""The receiver under gevent: what must change when greenlets, not threads, serve requests.

gunicorn's gevent worker (``web/gunicorn_conf.py``) monkey-patches the standard library, so
sockets (Redis, HTTP), locks and ``threading.local`` become cooperative. psycopg2 is a C library
and would still block the whole process on every query: :func:`patch` gives it psycogreen's wait
callback, so a greenlet waiting on PostgreSQL lets the others run. SQLite cannot wait
cooperatively at all (its busy timeout sleeps inside C): under gevent :mod:`connector.db` gives
it one connection per process, which greenlets take in turn.
"""
from __future__ import annotations

import sys


def active() -> bool:
    """Whether gevent has patched this process's sockets (a gevent worker, after its start)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def patch() -> None:
    """Make psycopg2 cooperative: called in each gevent worker before it opens a connection."""
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()
