"""Every query the product sends stays under Shopify's single-query limit (1000 points), as the
Shopify sandbox prices it over HTTP with Shopify's cost rules and schema.

The queries are found, not listed: every ``*_QUERY`` string of a ``connector.shopify`` module, so
a query added later is priced too.
"""
from __future__ import annotations

import importlib
import pkgutil

import pytest
import requests
from graphql import parse

import connector.shopify
from connector.shopify.budget import MAX_QUERY_COST
from tests.connector.shopify.conftest import new_shop


def product_queries() -> dict[str, str]:
    found = {}
    for module in pkgutil.iter_modules(connector.shopify.__path__):
        mod = importlib.import_module(f"connector.shopify.{module.name}")
        for name, value in vars(mod).items():
            if name.endswith("_QUERY") and isinstance(value, str):
                found[f"{module.name}.{name}"] = value
    return found


QUERIES = product_queries()


def variables_for(query: str) -> dict:
    """Values of the query's declared variables: an id for ``ID``, nothing for what may be null."""
    values = {}
    for definition in parse(query).definitions:
        for var in getattr(definition, "variable_definitions", None) or ():
            type_name = getattr(getattr(var.type, "type", var.type), "name", None)
            required = var.type.kind == "non_null_type"
            kind = type_name.value if type_name else "String"
            if kind == "ID":
                values[var.variable.name.value] = "gid://shopify/Order/1"
            elif required:
                values[var.variable.name.value] = {"Int": 10, "Boolean": False}.get(kind, "x")
    return values


@pytest.fixture(scope="module")
def priced():
    from tests.sandbox.shopify.shopify_helpers import start_sandbox
    sandbox, server = start_sandbox()
    connection = new_shop(sandbox, prefix="costs")
    token = requests.post(f"{connection.base_url}/admin/oauth/access_token", timeout=10,
                          json={"grant_type": "client_credentials", "client_id": connection.client_id,
                                "client_secret": connection.client_secret}).json()["access_token"]
    costs = {}
    for name, query in QUERIES.items():
        body = requests.post(f"{connection.base_url}/admin/api/2026-01/graphql.json", timeout=30,
                             headers={"X-Shopify-Access-Token": token},
                             json={"query": query, "variables": variables_for(query)}).json()
        problems = [e for e in body.get("errors") or [] if "not found" not in str(e.get("message", "")).lower()]
        costs[name] = (body["extensions"]["cost"]["requestedQueryCost"], problems)
    server.stop()
    return costs


def test_the_product_has_queries_to_price():
    assert {"client.PING_QUERY", "orders.TRANSACTIONS_QUERY", "orders.REFUNDS_QUERY"} <= set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_query_is_valid_and_costs_less_than_the_single_query_limit(priced, name):
    requested, problems = priced[name]
    assert problems == []
    assert 0 < requested < MAX_QUERY_COST, f"{name} requests {requested} points"
