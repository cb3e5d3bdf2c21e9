"""What can go wrong talking to Shopify, by what the caller should do about it."""
from __future__ import annotations


class ShopifyError(RuntimeError):
    """Shopify could not be reached or answered an error: worth another try later."""


class ShopifyAuthError(ShopifyError):
    """Shopify refused the app's credentials."""


class ReauthorizationRequired(ShopifyAuthError):
    """The shop's token is revoked (the app was uninstalled, a refresh token was refused): nothing
    is sent to the shop until a fresh token is installed (``ml-connector shops token``)."""


class ShopifyThrottled(ShopifyError):
    """The shop's cost budget would need longer than ``MLC_SHOPIFY_MAX_WAIT`` to allow the call."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class QueryTooCostly(ShopifyError):
    """A query over Shopify's single-query limit (1000 points): a defect of the query, never cured
    by waiting."""
