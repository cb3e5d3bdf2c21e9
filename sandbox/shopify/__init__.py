"""Shopify sandbox: a faithful, in-memory simulator of the parts of Shopify the connector uses.

``create_app(settings)`` returns a Flask app serving the OAuth token endpoint, Admin GraphQL
(validated against Shopify's real schema, cost-throttled), signed webhook delivery with retries,
and the ``/_sandbox`` scenario API used by tests and the demo.
"""
from .app import create_app
from .settings import ShopifySandboxSettings

__all__ = ["create_app", "ShopifySandboxSettings"]
