"""The Flask app factory: the webhook receiver, health and metrics. Views stay thin."""
from __future__ import annotations

import logging

from flask import Flask

from connector.config import Settings, load_settings
from connector.logs import configure_logging
from connector.services.context import Services
from connector.services.shop_keys import WebhookKeys

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask("ml-connector")
    app.config["MAX_CONTENT_LENGTH"] = MAX_WEBHOOK_BYTES
    services = app.extensions["mlc"] = Services(settings)
    # built now: a wrong MLC_ENCRYPTION_KEYS fails at start-up, not on the first webhook
    app.extensions["mlc.webhook_keys"] = WebhookKeys(services.vault, settings.shop_cache_ttl_seconds,
                                                     settings.secret_rotation_window_seconds)

    from web.views import health, webhooks
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    logging.getLogger(__name__).info("receiver ready")
    return app
