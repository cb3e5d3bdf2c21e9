"""Shopify bulk query operations: a whole listing for the price of one mutation and a few polls.

A backfill needs every order created since a date: paging ``orders`` costs a request (and about
100 points) per hundred orders, while ``bulkOperationRunQuery`` lists them all in one JSONL file
that Shopify writes in the background. The file's URL is signed and public (no token goes with
it), and stays valid for a week: a backfill that stops and starts again reads the same file.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterator

from connector.http import new_session
from connector.shopify import order_payload
from connector.shopify.client import ShopifyClient, ShopifyError
from connector.shopify.search import Listed, ListedOrder

#: How often the operation's status is asked while Shopify writes the file.
POLL_SECONDS = 1.0
#: How long a bulk operation may take before the backfill gives up (it can be run again).
MAX_WAIT_SECONDS = 3600.0

RUN_MUTATION = """
mutation BackfillListing($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}"""

CURRENT_QUERY = """
query BackfillStatus {
  currentBulkOperation { id status errorCode objectCount url }
}"""


class BulkFailed(ShopifyError):
    """Shopify refused the bulk query, or the operation ended without a file."""


@dataclass(frozen=True)
class Operation:
    id: str
    status: str
    url: str | None = None


def orders_created_since_query(since: date) -> str:
    """The bulk query listing each order created on or after ``since``, whole (the fields a
    webhook's body is rebuilt from, :data:`order_payload.BULK_ORDER_FIELDS`): the backfill then
    reads nothing more of an order over GraphQL but its refunds. The file is free of the cost
    bucket, where reading each order costs about a hundred points."""
    return ("{ orders(query: \"created_at:>='" + since.isoformat() + "T00:00:00Z'\", sortKey: ID) "
            "{ edges { node { " + order_payload.BULK_ORDER_FIELDS + " } } } }")


def customers_created_since_query(since: date) -> str:
    """The bulk query listing each customer created on or after ``since``, whole (what its
    ``customers/create`` webhook's body is rebuilt from)."""
    return ("{ customers(query: \"created_at:>='" + since.isoformat() + "T00:00:00Z'\", sortKey: ID) "
            "{ edges { node { " + order_payload.CUSTOMER_FIELDS + " } } } }")


def listed_customers(lines: list[dict]) -> Iterator[tuple[Listed, dict]]:
    """The customers of a listing's JSONL, each with its whole GraphQL customer."""
    for node in lines:
        if "__parentId" not in node and "/Customer/" in str(node.get("id")):
            yield Listed(str(node["legacyResourceId"]), node["id"], node.get("updatedAt") or ""), node


def start(client: ShopifyClient, query: str) -> Operation:
    """Start the operation (one mutation: 10 points)."""
    answer = client.graphql(RUN_MUTATION, {"query": query})["bulkOperationRunQuery"]
    if answer.get("userErrors"):
        raise BulkFailed(f"{client.connection.domain}: bulk query refused: "
                         + "; ".join(str(e.get("message")) for e in answer["userErrors"]))
    op = answer["bulkOperation"]
    return Operation(op["id"], op["status"])


def wait(client: ShopifyClient, operation_id: str, *, poll_seconds: float = POLL_SECONDS,
         max_wait: float = MAX_WAIT_SECONDS, heartbeat: Callable[[], None] | None = None) -> Operation:
    """The operation once it is done; BulkFailed if it failed, was replaced, or took too long.
    ``heartbeat`` is called at each poll (the backfill's checkpoint says it is still running)."""
    def current() -> dict | None:
        found = client.graphql(CURRENT_QUERY, {})["currentBulkOperation"]
        if not found or found["id"] != operation_id:
            raise BulkFailed(f"{client.connection.domain}: bulk operation {operation_id} is no longer the current one")
        return found
    return _poll(client, current, poll_seconds, max_wait, heartbeat)


NODE_QUERY = """
query BackfillOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}"""


def resume(client: ShopifyClient, operation_id: str, *, poll_seconds: float = POLL_SECONDS,
           max_wait: float = MAX_WAIT_SECONDS, heartbeat: Callable[[], None] | None = None) -> Operation:
    """An operation started by an earlier, interrupted run, once it is done (read by its id: it
    need not be the shop's current one). Before API 2026-01 Shopify runs one bulk query per app and
    shop at a time, so while it runs a new one would be refused; since, a new one would list it
    all again. BulkFailed if it failed, expired or is gone: then a new one may be started."""
    def by_id() -> dict | None:
        found = client.graphql(NODE_QUERY, {"id": operation_id}).get("node")
        if not found or not found.get("status"):
            raise BulkFailed(f"{client.connection.domain}: bulk operation {operation_id} is gone")
        return found
    return _poll(client, by_id, poll_seconds, max_wait, heartbeat)


def _poll(client: ShopifyClient, read: Callable[[], dict], poll_seconds: float, max_wait: float,
          heartbeat: Callable[[], None] | None) -> Operation:
    deadline = time.monotonic() + max_wait
    while True:
        if heartbeat:
            heartbeat()
        current = read()
        if current["status"] == "COMPLETED":
            return Operation(current["id"], current["status"], current.get("url"))
        if current["status"] not in ("CREATED", "RUNNING"):
            raise BulkFailed(f"{client.connection.domain}: bulk operation {current['status'].lower()}"
                             f" ({current.get('errorCode') or 'no error code'})")
        if time.monotonic() > deadline:
            raise BulkFailed(f"{client.connection.domain}: bulk operation still {current['status'].lower()}")
        time.sleep(poll_seconds)


def download(url: str | None, timeout: float = 60.0) -> list[dict]:
    """The JSONL file's objects (none when Shopify wrote no file: nothing matched). ShopifyError
    when it cannot be read (expired, gone): the caller starts a new operation."""
    if not url:
        return []
    with new_session() as session:
        response = session.get(url, timeout=timeout)
    if response.status_code != 200:
        raise ShopifyError(f"bulk result file: HTTP {response.status_code}")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


#: Which connection of an order a child line of the JSONL belongs to, by its GID or ``__typename``.
_CHILDREN = (("lineItems", lambda line: "/LineItem/" in str(line.get("id"))),
             ("shippingLines", lambda line: "/ShippingLine/" in str(line.get("id"))),
             ("discountApplications", lambda line: str(line.get("__typename", "")).endswith("Application")))


def listed_orders(lines: list[dict]) -> Iterator[ListedOrder]:
    """The orders of a listing's JSONL, in the order Shopify wrote them (by id). A file of whole
    orders (:func:`orders_created_since_query`) gives each its ``whole`` GraphQL order, its child
    lines gathered back into its connections' ``nodes``; a file of ids only (an older listing's
    checkpoint) leaves the orders to be read one by one."""
    orders: dict[str, dict] = {}
    for node in lines:
        parent = node.get("__parentId")
        if parent is not None:
            order = orders.get(parent)
            if order is not None:
                connection = next((name for name, match in _CHILDREN if match(node)), None)
                if connection is not None:
                    child = {k: v for k, v in node.items() if k != "__parentId"}
                    order.setdefault(connection, {"nodes": []})["nodes"].append(child)
            continue
        if "/Order/" in str(node.get("id")):
            orders[node["id"]] = node
    for node in orders.values():
        whole = None
        if "totalPriceSet" in node:
            whole = {**node, **{name: node.get(name) or {"nodes": []} for name, _ in _CHILDREN}}
        yield ListedOrder(id=str(node["legacyResourceId"]), gid=node["id"], updated_at=node["updatedAt"],
                          refunds=tuple(Listed(str(r["legacyResourceId"]), r["id"], r.get("createdAt") or "")
                                        for r in node.get("refunds") or []), whole=whole)
