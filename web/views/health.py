"""``GET /healthz`` (is each dependency reachable?) and ``GET /metrics`` (Prometheus text)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from connector.db import get_engine, session_scope
from connector.services import status
from connector.services.context import Services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    services: Services = current_app.extensions["mlc"]
    checks = {"database": _check(lambda: _ping_db(services)),
              "redis": _check(lambda: services.redis.ping())}
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503


def _ping_db(services: Services) -> None:
    with get_engine(services.settings.database_url).connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # reported, not raised: health must answer even when all is down
        return f"error: {type(exc).__name__}"


@bp.get("/metrics")
def metrics():
    services: Services = current_app.extensions["mlc"]
    lines = ["# HELP mlc_inbox_events Inbox events by topic, queue and state.",
             "# TYPE mlc_inbox_events gauge"]
    with session_scope(services.settings.database_url) as session:
        lines += [f"mlc_inbox_events{_labels(topic=row.topic, queue=row.queue, state=row.state)} {row.count}"
                  for row in status.inbox_counts(session)]
        lines += ["# HELP mlc_bindings Bindings by kind and state.", "# TYPE mlc_bindings gauge"]
        lines += [f"mlc_bindings{_labels(kind=kind, state=state)} {count}"
                  for kind, state, count in status.binding_counts(session)]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def _labels(**labels: str) -> str:
    """Label values escaped as the text format asks: a topic is stored as Shopify's header gave
    it, and one with a quote (older rows) must not end the value and break the whole scrape."""
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{name}="{escape(str(value))}"' for name, value in labels.items()) + "}"
