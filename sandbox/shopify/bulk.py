"""Bulk query operations: ``bulkOperationRunQuery`` → a JSONL file, ``__parentId`` for children.

The bulk query is validated like any query, checked against Shopify's bulk rules (at least one
connection, at most five, connections nested at most two deep, no top-level ``node``/``nodes``),
then run on a background thread, on a snapshot of the shop (the Admin API keeps answering), without page limits: connections without ``first`` return
everything.  Each node of the outer connection becomes one JSONL line; nodes of nested
connections become lines of their own carrying ``"__parentId"`` and follow their parent.  When
done the operation is COMPLETED with ``url`` pointing at ``/_sandbox/bulk/{id}.jsonl`` and
``bulk_operations/finish`` is sent.
"""
from __future__ import annotations

import contextvars
import threading
from datetime import datetime, timezone

from graphql import FieldNode, GraphQLObjectType, get_operation_ast, parse, validate

from . import jsonio

#: True while a bulk query runs: connections without first/last then return every item.
UNBOUNDED = contextvars.ContextVar("shopify_bulk_unbounded", default=False)
MAX_CONCURRENT = 5


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def bulk_rule_errors(schema, query: str) -> tuple[object | None, list[str]]:
    """(document, errors) for a bulk query: GraphQL validity plus Shopify's bulk restrictions."""
    try:
        document = parse(query)
    except Exception as exc:  # noqa: BLE001 - a syntax error is reported as a user error
        return None, [f"Invalid bulk query: {exc}"]
    errors = [e.message for e in validate(schema, document)]
    if errors:
        return None, errors
    op = get_operation_ast(document)
    if op is None or op.operation.value != "query":
        return None, ["Bulk queries must be a single query operation."]
    count = 0
    problems: list[str] = []

    def walk(selection_set, parent, depth):
        nonlocal count
        for sel in selection_set.selections if selection_set else ():
            if not isinstance(sel, FieldNode):
                continue
            name = sel.name.value
            field = parent.fields.get(name) if hasattr(parent, "fields") else None
            if field is None:
                continue
            t = field.type
            while hasattr(t, "of_type"):
                t = t.of_type
            if parent is schema.query_type and name in ("node", "nodes"):
                problems.append("Bulk queries cannot use the top-level node or nodes fields.")
            is_conn = isinstance(t, GraphQLObjectType) and t.name.endswith("Connection")
            if is_conn:
                count += 1
                if depth + 1 > 2:
                    problems.append("Bulk queries cannot contain connections nested more than two levels deep.")
            walk(sel.selection_set, t, depth + (1 if is_conn else 0))

    walk(op.selection_set, schema.query_type, 0)
    if count == 0:
        problems.append("Bulk queries must contain at least one connection.")
    if count > 5:
        problems.append("Bulk queries cannot contain more than 5 connections.")
    return (document if not problems else None), problems


def _connection_nodes(value) -> list | None:
    if isinstance(value, dict):
        if isinstance(value.get("edges"), list):
            return [e.get("node") for e in value["edges"] if isinstance(e, dict)]
        if isinstance(value.get("nodes"), list):
            return value["nodes"]
    return None


def flatten(data: dict) -> tuple[list[dict], int]:
    """JSONL objects in Shopify's order (parent, then its children), and the root object count."""
    lines: list[dict] = []
    roots = 0

    def emit(node: dict, parent_id: str | None):
        own, children = {}, []
        for key, value in node.items():
            nodes = _connection_nodes(value)
            if nodes is not None:
                children.append(nodes)
            else:
                own[key] = value
        if parent_id is not None:
            own["__parentId"] = parent_id
        lines.append(own)
        for nodes in children:
            for child in nodes:
                if isinstance(child, dict):
                    emit(child, node.get("id"))

    for value in (data or {}).values():
        nodes = _connection_nodes(value)
        if nodes is None:
            continue
        for node in nodes:
            if isinstance(node, dict):
                roots += 1
                emit(node, None)
    return lines, roots


class BulkOperations:
    """The bulk operations of every shop, and their result files."""

    def __init__(self, store, dispatcher, new_id):
        self.store, self.dispatcher, self.new_id = store, dispatcher, new_id
        self._ops: dict[int, dict] = {}
        self._files: dict[int, bytes] = {}
        self._lock = threading.Lock()
        #: Shops whose operations stay RUNNING until released (``/_sandbox/shops/{shop}/bulk``): a
        #: test's stand-in for a listing Shopify takes minutes to write. ``polls``: how often each
        #: shop's operations were asked about (currentBulkOperation, node).
        self._release = threading.Condition(self._lock)
        self.held: set[str] = set()
        self.polls: dict[str, int] = {}

    def hold(self, shop_domain: str, held: bool) -> dict:
        with self._lock:
            (self.held.add if held else self.held.discard)(shop_domain)
            self._release.notify_all()
            return {"held": shop_domain in self.held, "polls": self.polls.get(shop_domain, 0)}

    def get(self, op_id: int, shop_domain: str) -> dict | None:
        with self._lock:
            self.polls[shop_domain] = self.polls.get(shop_domain, 0) + 1
            op = self._ops.get(op_id)
            return dict(op) if op and op["shop"] == shop_domain else None

    def current(self, shop_domain: str, client_id: str) -> dict | None:
        with self._lock:
            self.polls[shop_domain] = self.polls.get(shop_domain, 0) + 1
            mine = [op for op in self._ops.values() if op["shop"] == shop_domain and op["client_id"] == client_id]
            return dict(mine[-1]) if mine else None

    def file(self, op_id: int) -> bytes | None:
        with self._lock:
            return self._files.get(op_id)

    def start(self, shop, client_id: str, query: str, document, base_url: str, run) -> tuple[dict | None, list[dict]]:
        """Register and start an operation; ``run()`` executes the query and returns its data."""
        with self._lock:
            running = [op for op in self._ops.values()
                       if op["shop"] == shop.domain and op["client_id"] == client_id
                       and op["status"] in ("CREATED", "RUNNING")]
            if len(running) >= MAX_CONCURRENT:
                return None, [{"field": None, "code": "OPERATION_IN_PROGRESS",
                               "message": "A bulk query operation for this app and shop is already in progress: "
                                          + running[0]["id"]}]
            op_id = self.new_id("BulkOperation")
            op = {"id": f"gid://shopify/BulkOperation/{op_id}", "_id": op_id, "shop": shop.domain,
                  "client_id": client_id, "status": "CREATED", "type": "QUERY", "query": query,
                  "createdAt": _now(), "completedAt": None, "errorCode": None, "objectCount": "0",
                  "rootObjectCount": "0", "fileSize": None, "url": None, "partialDataUrl": None}
            self._ops[op_id] = op
            snapshot = dict(op)

        def work():
            with self._lock:
                op["status"] = "RUNNING"
                self._release.wait_for(lambda: shop.domain not in self.held)
            try:
                token = UNBOUNDED.set(True)
                try:
                    data, errors = run()
                finally:
                    UNBOUNDED.reset(token)
                lines, roots = flatten(data)
                body = b"".join(jsonio.dumps(line) + b"\n" for line in lines)
                with self._lock:
                    self._files[op_id] = body
                    op.update(status="COMPLETED" if not errors else "FAILED",
                              errorCode=None if not errors else "INTERNAL_SERVER_ERROR",
                              objectCount=str(len(lines)), rootObjectCount=str(roots),
                              fileSize=str(len(body)) if lines else None,
                              url=f"{base_url}/_sandbox/bulk/{op_id}.jsonl" if lines else None,
                              completedAt=_now())
            except Exception:  # noqa: BLE001 - any crash is a failed operation, as on Shopify
                with self._lock:
                    op.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=_now())
            payload = {"admin_graphql_api_id": op["id"], "completed_at": op["completedAt"],
                       "created_at": op["createdAt"], "error_code": op["errorCode"] and op["errorCode"].lower(),
                       "status": op["status"].lower(), "type": "query"}
            self.dispatcher.fire(shop, [("bulk_operations/finish", payload)])

        threading.Thread(target=work, daemon=True, name=f"bulk-{op_id}").start()
        return snapshot, []
