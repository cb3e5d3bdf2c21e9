"""Bulk query operations: JSONL with __parentId, polling, the finish webhook, Shopify's rules."""
from __future__ import annotations

import json
import time

import requests

from tests.factories import reference_order


RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status }
           userErrors { field message } } }"""
BULK_QUERY = """{ orders(query: "updated_at:>='2020-01-01'") { edges { node { id name
    currentTotalPriceSet { shopMoney { amount currencyCode } }
    lineItems { edges { node { id sku quantity } } } } } } }"""


def test_bulk_query_produces_jsonl_with_parent_ids(sandbox, shop, receiver):
    # given two orders of two lines each
    for _ in range(2):
        sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order(customer=None))
    token = sandbox.token(shop)
    # when a bulk query is run and polled until done
    started = sandbox.graphql(shop, token, RUN, {"q": BULK_QUERY}).json()["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["id"].startswith("gid://shopify/BulkOperation/")
    poll = "{ currentBulkOperation(type: QUERY) { id status objectCount rootObjectCount url } }"
    for _ in range(100):
        op = sandbox.graphql(shop, token, poll).json()["data"]["currentBulkOperation"]
        if op["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    # then the file holds each order followed by its lines, which point at it
    assert (op["objectCount"], op["rootObjectCount"]) == ("6", "2")
    lines = [json.loads(x) for x in requests.get(op["url"], timeout=5).text.splitlines()]
    assert lines[0]["name"] == "#1001" and "lineItems" not in lines[0]
    assert lines[0]["currentTotalPriceSet"] == {"shopMoney": {"amount": "66.74", "currencyCode": "USD"}}
    assert [x.get("__parentId") for x in lines[1:3]] == [lines[0]["id"]] * 2
    assert lines[3]["name"] == "#1002" and lines[4]["__parentId"] == lines[3]["id"]
    sandbox.wait_idle()
    finish = receiver.webhooks("bulk_operations/finish")
    assert finish and json.loads(finish[0]["body"])["status"] == "completed"


def test_bulk_query_without_connection_is_refused(sandbox, shop):
    token = sandbox.token(shop)
    body = sandbox.graphql(shop, token, RUN, {"q": "{ shop { name } }"}).json()
    errors = body["data"]["bulkOperationRunQuery"]["userErrors"]
    assert errors and "connection" in errors[0]["message"] and errors[0]["field"] == ["query"]
