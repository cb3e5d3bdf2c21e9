"""The Admin GraphQL endpoint: Shopify's real schema, real validation, resolvers over the store.

Queries are parsed and validated against Shopify's published schema (so a misspelt field fails
here exactly as it would against a shop), charged to the cost bucket, then executed by
graphql-core with resolvers that read the in-memory store.  Objects are exposed as *views*:
dicts keyed by GraphQL field name whose values are plain values or callables taking the field
arguments.  A field the sandbox does not model answers an error naming it, rather than a guess.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import re
import threading
from functools import lru_cache
from pathlib import Path

from graphql import (GraphQLError, build_client_schema, build_schema, execute, get_named_type, get_operation_ast, parse,
                     validate)

from . import jsonio
from .bulk import BulkOperations, bulk_rule_errors
from .cost import CostCalculator
from .graphql_b2b import company_view, location_view
from .graphql_views import (CUSTOMER_SORT, ORDER_SORT, connection, customer_view, gid, order_view, parse_gid,
                            search_filter, sort_key_value)
from .installation import app_installation_view, webhook_subscriptions
from .merchant import Merchant
from .zones import utc, zone_fields

SDL_NAME = "admin_schema_unstable_2025-09.graphql"
INTROSPECTION_NAME = "admin_schema_2025-01.json.gz"
PACKAGED_SDL = Path(__file__).resolve().parent / "schema" / f"{SDL_NAME}.gz"

_schema = None
_schema_lock = threading.Lock()


def schema_file(explicit: str | None = None) -> Path:
    """Where the schema is: an explicit path or ``$MLC_SHOPIFY_SCHEMA`` (a file, or a folder holding
    the SDL or the gzipped introspection JSON) wins, so another API version can be tried without
    editing the package; otherwise the copy vendored in ``schema/``, which every clone has."""
    candidates: list[Path] = []
    for raw in (explicit, os.environ.get("MLC_SHOPIFY_SCHEMA")):
        if raw:
            p = Path(raw)
            candidates += [p / SDL_NAME, p / INTROSPECTION_NAME] if p.is_dir() else [p]
    candidates.append(PACKAGED_SDL)
    for p in candidates:
        if p.is_file():
            return p
    raise FileNotFoundError("Shopify schema not found; set MLC_SHOPIFY_SCHEMA to a schema file or folder "
                            f"(looked at {', '.join(map(str, candidates))})")


def get_schema(explicit: str | None = None):
    """Shopify's schema, built once per process on first use (it takes a second or two)."""
    global _schema
    with _schema_lock:
        if _schema is None:
            path = schema_file(explicit)
            if path.name.endswith(".json.gz") or path.suffix == ".json":
                opener = gzip.open if path.name.endswith(".gz") else open
                with opener(path, "rt", encoding="utf-8") as fh:
                    data = json.load(fh)
                _schema = build_client_schema(data.get("data", data), assume_valid=True)
            elif path.name.endswith(".gz"):
                with gzip.open(path, "rt", encoding="utf-8") as fh:
                    _schema = build_schema(fh.read(), assume_valid=True)
            else:
                _schema = build_schema(path.read_text(encoding="utf-8"), assume_valid=True)
        return _schema


def _page(type_name, objects, kind, sorts, view, *, query, sort_key, reverse, first, last, after, before):
    """One page of a searchable, sortable connection (``orders``, ``customers``), as Shopify pages."""
    keep = search_filter(query, kind)
    fn = sorts.get(sort_key, sorts["ID"])
    rows = sorted(((sort_key_value(fn, o), o) for o in objects if keep(o)), key=lambda r: r[0])
    page = connection(type_name, rows, first=first, last=last, after=after, before=before, reverse=reverse)
    for edge in page["edges"]:
        edge["node"] = view(edge["node"])
    page["nodes"] = [e["node"] for e in page["edges"]]
    return page


# ------------------------------------------------------------------------------------------ errors


#: graphql-core validation messages rewritten the way Shopify (graphql-ruby) words them, with its codes.
_RUBY_STYLE = [
    (re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\..*"),
     lambda m: (f"Field '{m['field']}' doesn't exist on type '{m['type']}'",
                {"code": "undefinedField", "typeName": m["type"], "fieldName": m["field"]})),
    (re.compile(r"Argument '(?P<type>\w+)\.(?P<field>\w+)\((?P<arg>\w+):\)' of type '.*' is required, but it was not provided\."),
     lambda m: (f"Field '{m['field']}' is missing required arguments: {m['arg']}",
                {"code": "missingRequiredArguments", "className": "Field", "name": m["field"], "arguments": m["arg"]})),
    (re.compile(r"Unknown argument '(?P<arg>\w+)' on field '(?P<type>\w+)\.(?P<field>\w+)'\."),
     lambda m: (f"Field '{m['field']}' doesn't accept argument '{m['arg']}'",
                {"code": "argumentNotAccepted", "name": m["field"], "typeName": "Field", "argumentName": m["arg"]})),
    (re.compile(r"Field '(?P<field>\w+)' of type '(?P<type>.+)' must have a selection of subfields\..*"),
     lambda m: (f"Field must have selections (field '{m['field']}' returns {m['type'].strip('![]')} but has no "
                f"selections. Did you mean '{m['field']} {{ ... }}'?)", {"code": "selectionMismatch",
                                                                       "nodeName": f"field '{m['field']}'"})),
]


def format_validation_error(err: GraphQLError) -> dict:
    """A validation error as Shopify words it (falls back to graphql-core's wording)."""
    out = format_error(err)
    for pattern, make in _RUBY_STYLE:
        m = pattern.fullmatch(err.message)
        if m:
            out["message"], out["extensions"] = make(m)
            break
    return out


def format_error(err: GraphQLError) -> dict:
    out = {"message": err.message}
    if err.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in err.locations]
    if err.path:
        out["path"] = list(err.path)
    if err.extensions:
        out["extensions"] = err.extensions
    return out


# ------------------------------------------------------------------------------------------ executor


@lru_cache(maxsize=256)
def _prepared(schema, query: str):
    """Parsing and validating a query is most of what answering it costs, and a client sends the
    same few queries again and again (the documents are not changed by executing them)."""
    try:
        document = parse(query)
    except GraphQLError as err:
        return None, [format_error(err)]
    errors = validate(schema, document)
    if errors:
        return None, [format_validation_error(e) for e in errors]
    return document, []


class GraphQLService:
    """Validates, prices and executes one Admin GraphQL request for one shop."""

    def __init__(self, merchant: Merchant, settings):
        self.merchant = merchant
        self.settings = settings
        self.bulk = BulkOperations(merchant.store, merchant.dispatcher, merchant.store.new_id)

    def schema(self):
        return get_schema(self.settings.schema_path)

    def prepare(self, query: str):
        """(document, errors): parse and validate against Shopify's schema."""
        return _prepared(self.schema(), query)

    def requested_cost(self, document, operation_name, variables) -> int:
        op = get_operation_ast(document, operation_name)
        if op is None:
            return 0
        return CostCalculator(self.schema(), mutation_cost=self.settings.mutation_cost).requested(document, op, variables)

    def execute(self, document, shop, variables, operation_name, *, client_id: str = "",
                base_url: str = "", locked: bool = True) -> tuple[dict | None, list[dict], int]:
        """``locked=False``: ``shop`` is a snapshot of the caller's own (a bulk operation's), read
        without holding the store's lock."""
        store = self.merchant.store
        context = {"actual": 0, "shop": shop}

        def resolve(source, info, **args):
            if not isinstance(source, dict):
                return getattr(source, info.field_name, None)
            if info.field_name not in source:
                raise GraphQLError(f"{info.parent_type.name}.{info.field_name} is not modelled by the "
                                   "Shopify sandbox")
            value = source[info.field_name]
            if callable(value):
                value = value(info, **args)
            if isinstance(value, str) and get_named_type(info.return_type).name == "DateTime":
                value = utc(value)  # GraphQL writes instants in UTC, REST in the shop's offset
            if isinstance(value, dict) and "__typename" in value:
                name = value["__typename"]
                if name.endswith("Connection"):
                    # 2, plus one per object the page returns, however it is selected (edges or nodes)
                    context["actual"] += 2 + len(value.get("edges") or value.get("nodes") or [])
                elif not name.endswith(("Edge", "PageInfo")) and not info.parent_type.name.endswith("Edge"):
                    context["actual"] += 1
            elif isinstance(value, list) and value and isinstance(value[0], dict) and "__typename" in value[0] \
                    and not value[0]["__typename"].endswith("Edge") and info.field_name != "nodes":
                context["actual"] += len(value)
            return value

        def type_resolver(value, info, abstract_type):
            return value.get("__typename") if isinstance(value, dict) else None

        root = self._root(shop, client_id, base_url)
        with store.lock if locked else contextlib.nullcontext():
            result = execute(self.schema(), document, root_value=root, variable_values=variables,
                             operation_name=operation_name, field_resolver=resolve, type_resolver=type_resolver)
        errors = [format_error(e) for e in result.errors or []]
        return result.data, errors, context["actual"]

    # ------------------------------------------------------------------ roots
    def _root(self, shop, client_id: str, base_url: str) -> dict:
        merchant = self.merchant
        bulk = self.bulk

        def bulk_view(op):
            return {"__typename": "BulkOperation", **{k: v for k, v in op.items() if not k.startswith("_")
                                                       and k not in ("shop", "client_id")}} if op else None

        def run_bulk(info, query, groupObjects=True):
            document, problems = bulk_rule_errors(self.schema(), query)
            if problems:
                return {"__typename": "BulkOperationRunQueryPayload", "bulkOperation": None,
                        "userErrors": [{"__typename": "BulkOperationUserError", "field": ["query"],
                                        "message": p, "code": "INVALID"} for p in problems]}
            def run():
                # As on Shopify, a bulk operation runs in the background: it reads a snapshot of
                # the shop, so the Admin API and the merchant go on answering while it runs
                # (holding the store's lock through thousands of orders would stall them).
                with self.merchant.store.lock:
                    snapshot = dataclasses.replace(shop, orders=jsonio.clone(shop.orders),
                                                   customers=jsonio.clone(shop.customers),
                                                   transactions=jsonio.clone(shop.transactions))
                return self.execute(document, snapshot, {}, None, locked=False)[:2]

            op, errors = bulk.start(shop, client_id, query, document, base_url, run)
            return {"__typename": "BulkOperationRunQueryPayload", "bulkOperation": bulk_view(op),
                    "userErrors": [{"__typename": "BulkOperationUserError", **e} for e in errors]}

        def txs(order):
            return shop.transactions.get(order["id"], [])

        def order(info, id):
            oid = parse_gid(id, "Order")
            o = shop.orders.get(oid) if oid else None
            return order_view(o, shop, txs(o)) if o else None

        def orders(info, query=None, sortKey="ID", reverse=False, first=None, last=None, after=None, before=None,
                   savedSearchId=None):
            return _page("OrderConnection", shop.orders.values(), "order", ORDER_SORT,
                         lambda o: order_view(o, shop, txs(o)), query=query, sort_key=sortKey, reverse=reverse,
                         first=first, last=last, after=after, before=before)

        def customer(info, id):
            cid = parse_gid(id, "Customer")
            return customer_view(shop.customers.get(cid), shop) if cid else None

        def customers(info, query=None, sortKey="ID", reverse=False, first=None, last=None, after=None, before=None):
            return _page("CustomerConnection", shop.customers.values(), "customer", CUSTOMER_SORT,
                         lambda c: customer_view(c, shop), query=query, sort_key=sortKey, reverse=reverse,
                         first=first, last=last, after=after, before=before)

        def refund(info, id):
            rid = parse_gid(id, "Refund")
            held_by = next((o for o in shop.orders.values() if any(r["id"] == rid for r in o.get("refunds", []))),
                           None) if rid else None
            if held_by is None:
                return None
            # the refund exactly as its order shows it, so both paths answer the same
            views = order_view(held_by, shop, txs(held_by))["refunds"](info)
            return next(v for v in views if v["id"] == gid("Refund", rid))

        def company(info, id):
            found = shop.companies.get(parse_gid(id, "Company"))
            return company_view(found, shop)

        def company_location(info, id):
            return location_view(shop.company_locations.get(parse_gid(id, "CompanyLocation")), shop)

        def node(info, id):
            for kind, fn in (("Order", order), ("Customer", customer), ("Refund", refund), ("Company", company),
                             ("CompanyLocation", company_location)):
                if parse_gid(id, kind):
                    return fn(info, id)
            op_id = parse_gid(id, "BulkOperation")
            return bulk_view(bulk.get(op_id, shop.domain)) if op_id else None

        def mark_as_paid(info, input):
            oid = parse_gid(input.get("id"), "Order")
            if oid is None or oid not in shop.orders:
                return {"__typename": "OrderMarkAsPaidPayload", "order": None,
                        "userErrors": [{"__typename": "UserError", "field": ["id"], "message": "Order does not exist"}]}
            stored, errors = merchant.mark_as_paid(shop, oid)
            o = shop.orders[oid]
            return {"__typename": "OrderMarkAsPaidPayload", "order": order_view(o, shop, txs(o)),
                    "userErrors": [{"__typename": "UserError", **e} for e in errors]}

        def manual_payment(info, id, amount=None, paymentMethodName=None, processedAt=None):
            oid = parse_gid(id, "Order")
            if oid is None or oid not in shop.orders:
                return {"__typename": "OrderCreateManualPaymentPayload", "order": None, "userErrors": [
                    {"__typename": "OrderCreateManualPaymentOrderCreateManualPaymentError", "field": ["id"],
                     "message": "Order is not found.", "code": "ORDER_NOT_FOUND"}]}
            o = shop.orders[oid]
            money = amount or {"amount": o["total_outstanding"], "currencyCode": o["currency"]}
            stored, errors = merchant.create_manual_payment(shop, oid, money["amount"], money["currencyCode"],
                                                            paymentMethodName, processedAt)
            o = shop.orders[oid]
            return {"__typename": "OrderCreateManualPaymentPayload", "order": order_view(o, shop, txs(o)),
                    "userErrors": [{"__typename": "OrderCreateManualPaymentOrderCreateManualPaymentError", **e}
                                   for e in errors]}

        def merge(info, customerOneId, customerTwoId, overrideFields=None):
            one, two = parse_gid(customerOneId, "Customer"), parse_gid(customerTwoId, "Customer")
            missing = [f for f, c in (("customerOneId", one), ("customerTwoId", two)) if c not in shop.customers]
            if missing or one == two:
                return {"__typename": "CustomerMergePayload", "job": None, "resultingCustomerId": None,
                        "userErrors": [{"__typename": "CustomerMergeUserError", "field": missing or ["customerTwoId"],
                                        "code": "INVALID_CUSTOMER_ID" if missing else "INVALID_CUSTOMER",
                                        "message": "Customer does not exist" if missing
                                        else "Customer cannot be merged with itself"}]}
            merged = merchant.merge_customers(shop, one, two)
            return {"__typename": "CustomerMergePayload", "resultingCustomerId": merged["admin_graphql_api_customer_kept_id"],
                    "job": {"__typename": "Job", "id": merged["admin_graphql_api_job_id"], "done": True, "query": None},
                    "userErrors": []}

        shop_view = {
            "__typename": "Shop", "id": gid("Shop", abs(hash(shop.domain)) % 10**11), "name": shop.name,
            "myshopifyDomain": shop.domain, "currencyCode": shop.currency, "taxesIncluded": shop.taxes_included,
            "email": f"owner@{shop.domain}", "contactEmail": f"owner@{shop.domain}",
            **zone_fields(shop.iana_timezone),
            "url": f"https://{shop.domain}", "enabledPresentmentCurrencies": [shop.currency],
            "orderNumberFormatPrefix": "#", "orderNumberFormatSuffix": "", "weightUnit": "KILOGRAMS",
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z", "description": None,
            "setupRequired": False, "checkoutApiSupported": True, "shopOwnerName": "Sandbox Owner",
        }
        return {"shop": shop_view, "order": order, "orders": orders, "refund": refund,
                "customer": customer, "customers": customers,
                "company": company, "companyLocation": company_location,
                "node": node, "nodes": lambda info, ids: [node(info, i) for i in ids],
                "orderMarkAsPaid": mark_as_paid, "orderCreateManualPayment": manual_payment, "customerMerge": merge,
                "bulkOperationRunQuery": run_bulk,
                "currentAppInstallation": app_installation_view(shop, self.settings),
                "webhookSubscriptions": lambda info, **args: webhook_subscriptions(shop, **args),
                "currentBulkOperation": lambda info, type="QUERY": bulk_view(bulk.current(shop.domain, client_id))
                if type == "QUERY" else None}
