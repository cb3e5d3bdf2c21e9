"""The two baselines of the receiver benchmark, served by gunicorn like the receiver itself.

``POST /floor`` is the durable floor: the least a receiver that loses nothing must do. It verifies
the HMAC, commits one ``INSERT … ON CONFLICT DO NOTHING`` and, for a new row, makes one ``LPUSH``:
no shop, no secret store, no ORM, no Celery. ``POST /bare`` reads the body and answers: what
Flask and gunicorn cost alone. Neither ever serves Shopify; ``bench/receiver.py`` starts this app
next to ``web.wsgi:app`` (as ``gunicorn 'bench.floor:create_app()'``) and compares them in one
run.
"""
from __future__ import annotations

import os

from flask import Flask, jsonify, request
from redis import Redis
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Engine

from connector.db import driver_url
from connector.shopify.webhooks import verify

QUEUE = "bench:floor"

metadata = MetaData()
#: The same dedup key and the same body as the inbox, and nothing else.
floor_inbox = Table(
    "bench_floor_inbox", metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("shop", String(255), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("shop", "topic", "event_id"),
)

INSERT = text("INSERT INTO bench_floor_inbox (shop, topic, event_id, body) "
              "VALUES (:shop, :topic, :event_id, :body) ON CONFLICT DO NOTHING RETURNING id")


def engine(database_url: str) -> Engine:
    """A plain pool: no pre-ping and no ORM, the cheapest way SQLAlchemy commits a row."""
    from sqlalchemy import create_engine, event
    url = driver_url(database_url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=5, max_overflow=5)
    sqlite = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(sqlite, "connect")
    def _wal(dbapi_connection, _record):  # as the connector's engine: concurrent writers queue
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    return sqlite


def create_app() -> Flask:
    db = engine(os.environ["DATABASE_URL"])
    redis = Redis.from_url(os.environ["REDIS_URL"])
    secret = os.environ["BENCH_FLOOR_SECRET"]
    app = Flask("bench-floor")

    @app.post("/floor")
    def floor():
        raw = request.get_data(cache=False)
        h = request.headers
        if not verify(raw, h.get("X-Shopify-Hmac-Sha256"), [secret]):
            return jsonify(error="unauthorized"), 401
        with db.begin() as connection:
            inbox_id = connection.execute(INSERT, {
                "shop": h.get("X-Shopify-Shop-Domain", ""), "topic": h.get("X-Shopify-Topic", ""),
                "event_id": h.get("X-Shopify-Event-Id", ""), "body": raw.decode()}).scalar()
        if inbox_id is None:
            return jsonify(status="duplicate"), 200
        redis.lpush(QUEUE, inbox_id)
        return jsonify(status="accepted", id=inbox_id), 200

    @app.post("/bare")
    def bare():
        request.get_data(cache=False)
        return jsonify(status="ok"), 200

    return app

