"""``GET /livez`` on the public port: the receiver answers, and nothing more.

For the load balancer or orchestrator in front of the receiver, which must probe the port that
serves Shopify (the admin app is another process and cannot speak for this one). It reads no
database and no Redis and says nothing about them: ``/healthz`` and ``/metrics``, which do, are
served by the admin app (:mod:`web.admin`) on a port of their own.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez():
    return jsonify(status="ok")
