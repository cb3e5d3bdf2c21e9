"""``POST /webhooks/shopify``: verify, store once, answer fast, then hand the work to Celery."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError

from connector.db import session_scope
from connector.services import inbox
from connector.services.context import Services
from workers import dispatch  # the web process only sends tasks; it never runs them

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/webhooks/shopify")
def shopify():
    raw = request.get_data(cache=False)  # the exact bytes Shopify signed, before anything parses them
    h = request.headers
    delivery = inbox.Delivery(
        shop_domain=h.get("X-Shopify-Shop-Domain", "").strip().lower(),
        topic=h.get("X-Shopify-Topic", "").strip(),
        event_id=h.get("X-Shopify-Event-Id", "").strip(),
        webhook_id=h.get("X-Shopify-Webhook-Id", "").strip(),
        api_version=h.get("X-Shopify-API-Version", "").strip(),
        triggered_at=h.get("X-Shopify-Triggered-At", "").strip(),
        signature=h.get("X-Shopify-Hmac-Sha256", ""),
        raw_body=raw,
    )
    services: Services = current_app.extensions["mlc"]
    try:
        with session_scope(services.settings.database_url) as session:
            accepted = inbox.accept(session, current_app.extensions["mlc.webhook_keys"], delivery)
            if accepted.flow is not None:
                dispatch.send_after_commit(session, accepted.inbox_id, delivery.topic)
    except inbox.Unauthorized as exc:
        log.warning("webhook refused: %s (shop %r, topic %r)", exc, delivery.shop_domain, delivery.topic)
        return jsonify(error="unauthorized"), 401
    except inbox.Malformed as exc:
        log.warning("malformed webhook from %r: %s", delivery.shop_domain, exc)
        return jsonify(error="malformed", detail=str(exc)), 400
    except DBAPIError:
        log.exception("database unavailable; Shopify will retry the delivery")
        return jsonify(error="unavailable"), 503
    if not accepted.created:
        return jsonify(status="duplicate"), 200
    return jsonify(status="accepted", id=accepted.inbox_id), 200

