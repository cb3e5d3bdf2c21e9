"""``POST /webhooks/shopify``: verify, store once, answer fast, then hand the work to Celery.

The answers are what Shopify acts on: 2xx is delivered (accepted or a duplicate); anything else is
retried for 4 hours. 413 and 400 say the delivery can never be taken as it is, 401 that it was not
signed by the shop, 503 that it may be taken later.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector.db import once_more_if_disconnected, session_scope
from connector.services import inbox
from connector.services.context import Services
from web.body import TooLarge, read_body
from workers import dispatch  # the web process only sends tasks; it never runs them

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/webhooks/shopify")
def shopify():
    services: Services = current_app.extensions["mlc"]
    try:  # the exact bytes Shopify signed, before anything parses them, and never more than the limit
        raw = read_body(services.settings.webhook_max_bytes)
    except TooLarge:
        return too_large()
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
    keys, window = current_app.extensions["mlc.webhook_keys"], current_app.extensions["mlc.webhook_window"]

    def store() -> inbox.Accepted:
        with session_scope(services.settings.database_url) as session:
            accepted = inbox.accept(session, keys, delivery, window, services.tally)
            if accepted.flow is not None:
                dispatch.send_after_commit(session, accepted.inbox_id, delivery.topic)
        return accepted

    try:
        accepted = once_more_if_disconnected(store)
    except inbox.InvalidHeader as exc:  # unsigned: logged without the header's value
        log.warning("webhook refused: %s", exc)
        return jsonify(error="invalid header", detail=str(exc)), 400
    except inbox.Unauthorized as exc:
        log.warning("webhook refused: %s (shop %r, topic %r)", exc, delivery.shop_domain, delivery.topic)
        return jsonify(error="unauthorized"), 401
    except inbox.Malformed as exc:
        log.warning("malformed webhook from %r: %s", delivery.shop_domain, exc)
        return jsonify(error="malformed", detail=str(exc)), 400
    except inbox.Refused as exc:
        log.warning("webhook refused from %r (topic %r): %s", delivery.shop_domain, delivery.topic, exc)
        return jsonify(error="refused", detail=str(exc)), 400
    except DBAPIError:
        log.exception("database unavailable; Shopify will retry the delivery")
        return jsonify(error="unavailable"), 503
    except PoolTimeout:  # every connection of the pool busy for as long as Shopify waits
        log.warning("no database connection free in time; Shopify will retry the delivery")
        return jsonify(error="unavailable"), 503
    if not accepted.created:
        return jsonify(status="duplicate"), 200
    return jsonify(status="accepted", id=accepted.inbox_id), 200


def too_large():
    return jsonify(error="too large", detail="the body is over MLC_WEBHOOK_MAX_BYTES"), 413
