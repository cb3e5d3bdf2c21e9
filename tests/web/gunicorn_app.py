"""The WSGI app tests/web/test_gunicorn_logs.py has gunicorn serve: it names a correlation, as the
receiver does for a webhook it stored (a module of its own, so gunicorn's worker imports little)."""
from __future__ import annotations

CORRELATION = {"inbox_id": 42, "shop": "acme.myshopify.com", "gid": "gid://shopify/Order/7"}


def app(environ, start_response):
    if environ["PATH_INFO"] == "/fail":
        raise RuntimeError("the app failed")  # gunicorn logs the request's URI with the traceback
    environ["mlc.correlation"] = dict(CORRELATION)
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"stored"]
