"""``POST /webhooks/shopify``: verify, store once, answer fast, then hand the work to Celery.

The answers are what Shopify acts on: 2xx is delivered (accepted or a duplicate); anything else is
retried for 4 hours. 413 and 400 say the delivery can never be taken as it is, 401 that it was not
signed by the shop, 503 that it may be taken later.
"""
from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connector import logs
from connector.db import once_more_if_disconnected, session_scope
from connector.services import inbox
from connector.services.context import Services
from web.body import TooLarge, read_body
from web.group_commit import GroupCommit, Interrupted
from web.gunicorn_logs import CORRELATION_ENVIRON

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/webhooks/shopify")
def shopify():
    # the fields bound here name every line of this delivery, the task's message header, and
    # gunicorn's access line (web.gunicorn_logs reads them from the environ after the response)
    with logs.bind() as correlation:
        request.environ[CORRELATION_ENVIRON] = correlation
        return _receive(correlation)


def _receive(correlation: dict):
    services: Services = current_app.extensions["mlc"]
    refusals: logs.RefusalLog = current_app.extensions["mlc.refusals"]
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
    # Refusals are logged through the RefusalLog (MLC_LOG_REFUSALS_LIMIT per window, shop and
    # reason): anyone can send them, and a flood must not become a flood of lines. Header values
    # are unsigned: quoted with %r, and bounded.
    shop, topic = delivery.shop_domain[:255], delivery.topic[:255]
    keys, window = current_app.extensions["mlc.webhook_keys"], current_app.extensions["mlc.webhook_window"]

    def admit() -> inbox.Admitted:  # a session only for a shop whose keys are not held, or a refusal
        return inbox.admit(partial(session_scope, services.settings.database_url), keys, delivery, window)

    try:
        admitted = once_more_if_disconnected(admit)
        writer: GroupCommit = current_app.extensions["mlc.inbox_writer"]
        accepted = writer.store(admitted, delivery.shop_domain, correlation)
    except inbox.InvalidHeader as exc:  # unsigned: logged without the header's value
        refusals.refused(shop, "invalid_header", "webhook refused: %s", exc)
        return jsonify(error="invalid header", detail=str(exc)), 400
    except inbox.Unauthorized as exc:
        refusals.refused(shop, str(exc).replace(" ", "_"), "webhook refused: %s (shop %r, topic %r)", exc, shop, topic)
        return jsonify(error="unauthorized"), 401
    except inbox.Malformed as exc:
        refusals.refused(shop, "malformed", "malformed webhook from %r: %s", shop, exc)
        return jsonify(error="malformed", detail=str(exc)), 400
    except inbox.Refused as exc:
        refusals.refused(shop, "outside_window", "webhook refused from %r (topic %r): %s", shop, topic, exc)
        return jsonify(error="refused", detail=str(exc)), 400
    except DBAPIError:
        log.exception("database unavailable; Shopify will retry the delivery")
        return jsonify(error="unavailable"), 503
    except PoolTimeout:  # every connection of the pool busy for as long as Shopify waits
        log.warning("no database connection free in time; Shopify will retry the delivery")
        return jsonify(error="unavailable"), 503
    except Interrupted as exc:  # its batch's commit was stopped, or the commits ahead took too long
        log.warning("webhook not confirmed stored: %s; Shopify will retry the delivery (answered "
                    "duplicate if it was stored after all)", exc)
        return jsonify(error="unavailable"), 503
    if not accepted.created:  # a retry of Shopify's, or a signed body sent again: logged as sparingly
        refusals.refused(shop, "duplicate", "webhook duplicate from %r (topic %r): already stored", shop, topic,
                         level=logging.INFO)
        return jsonify(status="duplicate"), 200
    # gunicorn's access line names the delivery (inbox id, shop, topic, event id, GID): this one
    # would repeat it on every delivery (MLC_LOG_LEVEL=DEBUG shows it, as where no access log is kept)
    log.debug("webhook accepted")
    return jsonify(status="accepted", id=accepted.inbox_id), 200


def too_large():
    refusals: logs.RefusalLog = current_app.extensions["mlc.refusals"]
    shop = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()[:255]
    refusals.refused(shop, "too_large", "webhook refused from %r: the body is over MLC_WEBHOOK_MAX_BYTES", shop)
    return jsonify(error="too large", detail="the body is over MLC_WEBHOOK_MAX_BYTES"), 413
