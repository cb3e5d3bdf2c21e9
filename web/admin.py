"""The admin app: ``GET /healthz`` (is each dependency reachable?) and ``GET /metrics``
(Prometheus), on a port of their own, never on the receiver's public one.

The Procfile runs it as ``admin``: ``gunicorn 'web.admin:create_app()'`` on ``127.0.0.1`` and
``MLC_ADMIN_PORT``. A scrape reads counts kept in Redis as events happen (:mod:`connector.metrics`):
no query runs but the periodic recount.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connector import flows, metrics
from connector.config import Settings, load_settings
from connector.db import get_engine, session_scope
from connector.logs import configure_logging
from connector.models import InboxState
from connector.services.context import Services

bp = Blueprint("admin", __name__)
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask("ml-connector-admin")
    app.extensions["mlc"] = Services(settings)
    app.register_blueprint(bp)
    return app


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
def prometheus():
    services: Services = current_app.extensions["mlc"]
    try:
        try:
            with session_scope(services.settings.database_url) as session:
                metrics.recount_if_due(services.redis, session, services.settings.metrics_recount_seconds)
        except SQLAlchemyError as exc:  # the counts kept as events happened are still worth showing
            log.warning("metrics: recount failed (%s); serving the counts Redis holds", type(exc).__name__)
        counts = metrics.read(services.redis)
    except RedisError as exc:
        return Response(f"redis unavailable: {type(exc).__name__}\n", status=503, mimetype="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(counts))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _Families:
    """The exposition of one scrape's counts (prometheus_client escapes every label value)."""

    def __init__(self, counts: metrics.Counts):
        self.counts = counts

    def collect(self):
        c = self.counts
        inbox = GaugeMetricFamily("mlc_inbox_events", "Inbox events by topic, queue and state.",
                                  labels=["topic", "queue", "state"])
        rows = dict(c.inbox)
        for flow in flows.FLOWS:  # a zero row for every registered topic, as `ml-connector status` shows
            if not any(topic == flow.topic for topic, _ in rows):
                rows[(flow.topic, InboxState.received.value)] = 0
        for (topic, state), count in sorted(rows.items()):
            inbox.add_metric([topic, _queue(topic), state], count)
        yield inbox

        stored = CounterMetricFamily("mlc_inbox_stored", "Inbox events the receiver stored, by topic.",
                                     labels=["topic"])
        for topic, count in sorted(c.stored.items()):
            stored.add_metric([topic], count)
        yield stored

        finished = CounterMetricFamily("mlc_inbox_finished",
                                       "Inbox events that finished processing, by topic and the state they ended in.",
                                       labels=["topic", "state"])
        for (topic, state), count in sorted(c.finished.items()):
            finished.add_metric([topic, state], count)
        yield finished

        bindings = GaugeMetricFamily("mlc_bindings", "Bindings by kind and state, at the last recount.",
                                     labels=["kind", "state"])
        for (kind, state), count in sorted(c.bindings.items()):
            bindings.add_metric([kind, state], count)
        yield bindings

        yield GaugeMetricFamily("mlc_metrics_recount_timestamp_seconds",
                                "When the gauges were last counted again from the database (unix time).",
                                value=c.recounted)


def _queue(topic: str) -> str:
    flow = flows.for_topic(topic)
    return flow.queue if flow else ""
