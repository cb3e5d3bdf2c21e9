"""Knobs of the Shopify sandbox.

Everything Shopify does not publish (retry intervals, bucket sizes, token lifetimes) is a guess,
so each guess lives here where a test or the demo can change it instead of in the code.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ShopifySandboxSettings:
    #: Multiplies every webhook retry delay (tests use e.g. 0.001 so 8 retries take milliseconds).
    time_scale: float = 1.0
    #: Lifetime of client-credentials tokens; third parties report 86399 s (reference §4.4).
    token_ttl_seconds: int = 86399
    #: Lifetime of expiring offline access tokens (3600 s per the 2025-12 changelog, §4.2).
    expiring_token_ttl_seconds: int = 3600
    #: Lifetime of the rotating refresh tokens that come with expiring offline tokens (90 days).
    refresh_token_ttl_seconds: int = 90 * 24 * 3600
    #: Since 2026-08-28 a used refresh token stays valid until its replacement is used (§4.2).
    #: False gives the stricter older behaviour: any second use is ``invalid_grant``.
    refresh_grace_until_replacement_used: bool = True
    #: Default API version of new shops' webhooks (``X-Shopify-API-Version``).
    api_version: str = "2026-01"
    #: Versions the GraphQL endpoint serves; anything else falls forward to the oldest stable one.
    supported_api_versions: tuple[str, ...] = ("2025-10", "2026-01", "2026-04", "2026-07",
                                                "2026-10", "unstable")
    #: Shopify waits 1 s to connect and 5 s in all for the receiver's answer (§1.3).
    webhook_connect_timeout_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    #: 8 retries over about 4 hours; the intervals are not published, these are a plausible series.
    max_retries: int = 8
    retry_delays_seconds: tuple[float, ...] = (60, 120, 300, 600, 1200, 2400, 3600, 4800)
    #: Shopify deletes an Admin-API subscription whose deliveries keep failing through the retry
    #: cycle (§1.3, M).  When on, a webhook that exhausts its retries removes the shop's
    #: subscription: nothing more goes to ``webhook_url`` until the shop is PUT again.
    remove_subscription_after_failed_retries: bool = False
    #: Whether REST refunds (``refunds/create``, an order's ``refunds[]``) show ``tax_amount_set`` on
    #: ``refund_shipping_lines``.  Shopify's REST reference lists only ``id``, ``shipping_line``,
    #: ``shipping_line_id`` and ``subtotal_amount_set``, so the sandbox leaves it out; the shipping
    #: tax is served by GraphQL (``RefundShippingLine.taxAmountSet``).  Only as sure as those docs:
    #: True shows the key, for trying a connector against a Shopify that does send it.
    rest_refund_shipping_tax: bool = False
    #: Whether the money a refund gives back (its ``transactions``) includes the duties and
    #: additional fees it refunds (``refund_duties``, ``refund_additional_fees``).  Shopify documents
    #: refunding duties (``refundDuties``) and that a refund's transactions are its money, but
    #: publishes no sample of a refund with duties and its transaction, so this is a reading (L):
    #: False gives back the lines and shipping only, leaving the duties' money unpaid (the order's
    #: ``total_outstanding`` goes negative), for trying a connector against that other reading.
    refund_duties_in_transactions: bool = True
    #: Which customer survives ``customerMerge(customerOneId, customerTwoId)``: "second" (the
    #: reading of Shopify's example, where ``resultingCustomerId`` is customer two) or "first".
    #: The ``customers/merge`` webhook body is not published in what the sandbox follows either: it
    #: sends ``admin_graphql_api_customer_kept_id``, ``admin_graphql_api_customer_deleted_id``,
    #: ``admin_graphql_api_job_id``, ``status`` and ``errors`` (L). Both are unconfirmed.
    merge_keeps: str = "second"
    #: Threads that POST webhooks.
    #: The case of ``payment_terms.payment_terms_type`` on a REST order (``lower``: "net"; ``upper``:
    #: "NET", GraphQL's enum). The reference's samples hold no B2B order, so it is [L] (companies.py).
    rest_payment_terms_type_case: str = "lower"
    delivery_threads: int = 8
    #: GraphQL leaky bucket per (app, shop): Standard plan figures (§3.2).
    restore_rate: float = 100.0
    bucket_size: float = 2000.0
    #: HTTP status of a THROTTLED answer: 200, as Shopify's GraphQL answers (§3.2, H for the body,
    #: M for the status); 429 (with ``Retry-After``) for trying a client against the other reading.
    throttled_http_status: int = 200
    #: Single-query limit; above it the answer is MAX_COST_EXCEEDED.
    max_query_cost: int = 1000
    #: Requested cost of a mutation field (Shopify: "about 10").
    mutation_cost: int = 10
    #: Where the SDL / introspection schema lives; None = $MLC_SHOPIFY_SCHEMA, else the vendored copy.
    schema_path: str | None = None
    #: Build the GraphQL schema on a background thread at start-up (it takes a second or two).
    preload_schema: bool = True
    #: Scopes granted to tokens.
    scopes: str = "read_orders,write_orders,read_customers,read_all_orders,read_customer_merge"
    #: First order number of a new shop (Shopify starts at #1001).
    first_order_number: int = 1001
    #: Base URL clients use to reach the sandbox (bulk result ``url``); None = worked out per request.
    public_url: str | None = None
