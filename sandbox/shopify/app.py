"""The Flask app factory: wires the store, token issuer, webhook dispatcher and GraphQL service."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from flask import Flask

from . import admin_api, scenario
from .cost import Buckets
from .graphql_api import GraphQLService, get_schema
from .merchant import Merchant
from .settings import ShopifySandboxSettings
from .store import Store
from .tokens import Tokens
from .webhooks import Dispatcher


def create_app(settings: ShopifySandboxSettings | None = None) -> Flask:
    settings = settings or ShopifySandboxSettings()
    app = Flask("sandbox.shopify")
    store = Store()
    dispatcher = Dispatcher(settings, on_exhausted=store.remove_webhook_subscription)
    merchant = Merchant(store, dispatcher, settings.rest_refund_shipping_tax, settings.refund_duties_in_transactions,
                        settings.merge_keeps, settings.rest_payment_terms_type_case)
    app.extensions["shopify_sandbox"] = SimpleNamespace(
        settings=settings, store=store, dispatcher=dispatcher, merchant=merchant,
        tokens=Tokens(settings), buckets=Buckets(settings.bucket_size, settings.restore_rate),
        graphql=GraphQLService(merchant, settings))
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(scenario.bp)

    if settings.preload_schema:
        threading.Thread(target=_warm_schema, args=(settings.schema_path,), daemon=True,
                         name="shopify-schema").start()

    @app.errorhandler(404)
    def not_found(_err):
        return admin_api.respond(admin_api.NOT_FOUND, 404)

    @app.errorhandler(405)
    def not_allowed(_err):
        return admin_api.respond({"errors": "Method Not Allowed"}, 405)

    @app.get("/_sandbox/health")
    def health():
        return {"ok": True, "shops": len(store.shops)}

    return app


def _warm_schema(path):
    try:
        get_schema(path)
    except Exception:  # noqa: BLE001 - the first GraphQL request will report it
        pass
