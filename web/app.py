"""The Flask app factory of the public port: the webhook receiver and its liveness probe. Views
stay thin. ``/healthz`` and ``/metrics`` are the admin app's (:mod:`web.admin`), on a port of
their own."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge

from connector.config import Settings, load_settings
from connector.logs import RefusalLog, configure_logging
from connector.services.context import Services
from connector.services.inbox import Window
from connector.services.shop_keys import WebhookKeys
from web.group_commit import GroupCommit


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask("ml-connector")
    # Werkzeug's bound on every route, one byte past the limit: web.body reads that byte to prove a
    # body is over it (at the limit itself, Werkzeug would refuse a chunked body that ends there).
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook_max_bytes + 1
    services = app.extensions["mlc"] = Services(settings)
    # built now: a wrong MLC_ENCRYPTION_KEYS fails at start-up, not on the first webhook
    app.extensions["mlc.webhook_keys"] = WebhookKeys(services.vault, settings.shop_cache_ttl_seconds,
                                                     settings.secret_rotation_window_seconds)
    app.extensions["mlc.webhook_window"] = Window.of(settings)
    app.extensions["mlc.inbox_writer"] = GroupCommit(settings.database_url, services.tally)
    app.extensions["mlc.refusals"] = RefusalLog(logging.getLogger("web.views.webhooks"), settings.log_refusals_limit,
                                                settings.log_refusals_window_seconds, flush_at_exit=True)

    from web.views import health, webhooks
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_error_handler(RequestEntityTooLarge, lambda _exc: webhooks.too_large())
    logging.getLogger(__name__).info("receiver ready")
    return app
