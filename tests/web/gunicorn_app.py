"""The WSGI app tests/web/test_gunicorn_logs.py has gunicorn serve: it names a correlation, as the
receiver does for a webhook it stored (a module of its own, so gunicorn's worker imports little)."""
from __future__ import annotations

CORRELATION = {"inbox_id": 42, "shop": "acme.myshopify.com", "gid": "gid://shopify/Order/7"}


def app(environ, start_response):
    environ["mlc.correlation"] = dict(CORRELATION)
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"stored"]
