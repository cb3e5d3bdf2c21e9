"""What changed in a shop lately, as Admin GraphQL search lists it: reconciliation's first read.

Orders and customers updated after an instant (``updated_at:>'…'``, oldest first by
``UPDATED_AT``), followed page by page with their cursors. Each row carries only what tells
whether the connector has seen that version (the id and ``updatedAt``; an order's refunds with
their ids): the full object is read only for what is missing or stale
(:mod:`connector.shopify.order_payload`). A page of orders requests 2 + 25 × 31 = 777 points, of
customers 102: all below Shopify's single-query limit of 1,000.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from connector.shopify.client import ShopifyClient

ORDER_PAGE = 25
#: ``Order.refunds`` is a plain list: the listing reads at most this many per order (an order
#: with more is read whole by :func:`connector.shopify.order_payload.read_order` anyway).
REFUNDS_LISTED = 30
LISTING_PAGE = 100

ORDERS_QUERY = f"""
query UpdatedOrders($query: String!, $after: String) {{
  orders(first: {ORDER_PAGE}, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{ id legacyResourceId updatedAt refunds(first: {REFUNDS_LISTED}) {{ id legacyResourceId createdAt }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""



def _listing(operation: str, field: str, sort_key: str) -> str:
    """A search listing only ids and ``updatedAt``: 2 + 100 points a page."""
    return f"""
query {operation}($query: String!, $after: String) {{
  {field}(first: {LISTING_PAGE}, after: $after, query: $query, sortKey: {sort_key}) {{
    nodes {{ id legacyResourceId updatedAt }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


CUSTOMERS_QUERY = _listing("UpdatedCustomers", "customers", "UPDATED_AT")
#: The orders a day's receivables should hold (``ml-connector reconcile``).
PROCESSED_QUERY = _listing("ProcessedOrders", "orders", "PROCESSED_AT")


@dataclass(frozen=True)
class Listed:
    """One object as the search lists it."""

    id: str            # numeric, as REST and the bindings write it
    gid: str
    updated_at: str    # GraphQL's DateTime; a refund's creation time


@dataclass(frozen=True)
class ListedOrder(Listed):
    refunds: tuple[Listed, ...] = ()
    #: The whole order when the listing read it (a backfill's bulk file): nothing left to read.
    whole: dict | None = field(default=None, compare=False, hash=False, repr=False)


def updated_since(instant: datetime) -> str:
    """The search term for objects updated after ``instant``, as Shopify's docs write it."""
    return f"updated_at:>'{_stamp(instant)}'"


def _stamp(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def orders_updated_since(client: ShopifyClient, instant: datetime) -> Iterator[ListedOrder]:
    for node in _pages(client, ORDERS_QUERY, "orders", updated_since(instant)):
        yield ListedOrder(id=str(node["legacyResourceId"]), gid=node["id"], updated_at=node["updatedAt"],
                          refunds=tuple(Listed(str(r["legacyResourceId"]), r["id"], r.get("createdAt") or "")
                                        for r in node.get("refunds") or []))


def customers_updated_since(client: ShopifyClient, instant: datetime) -> Iterator[Listed]:
    for node in _pages(client, CUSTOMERS_QUERY, "customers", updated_since(instant)):
        yield Listed(id=str(node["legacyResourceId"]), gid=node["id"], updated_at=node["updatedAt"])


def _pages(client: ShopifyClient, query: str, field: str, search: str) -> Iterator[dict]:
    after = None
    while True:
        page = client.graphql(query, {"query": search, "after": after})[field]  # throttled: the client waits
        yield from page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def orders_processed_between(client: ShopifyClient, start: datetime, end: datetime) -> Iterator[Listed]:
    """The orders processed in [start, end), oldest first: what a day's receivables should hold."""
    term = f"processed_at:>='{_stamp(start)}' processed_at:<'{_stamp(end)}'"
    for node in _pages(client, PROCESSED_QUERY, "orders", term):
        yield ListedOrder(id=str(node["legacyResourceId"]), gid=node["id"], updated_at=node["updatedAt"])

