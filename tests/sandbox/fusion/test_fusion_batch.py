"""Batch requests on the version root (rest.md §6.4): sequential, all-or-nothing."""
from decimal import Decimal

from fusion_helpers import FSCM

BATCH = "/fscmRestApi/resources/11.13.18.05"
BATCH_TYPE = {"Content-Type": "application/vnd.oracle.adf.batch+json"}


def _count_invoices(fusion) -> int:
    return fusion.json(fusion.rest("GET", f"{FSCM}/receivablesInvoices", params={"totalResults": "true"}))["totalResults"]


def test_batch_runs_the_parts_in_order(fusion, customer):
    # given two invoice payloads and a look-up
    first, second = fusion.invoice_body(customer), fusion.invoice_body(customer)
    parts = [{"id": "p1", "path": "/receivablesInvoices", "operation": "create", "payload": first},
             {"id": "p2", "path": "/receivablesInvoices", "operation": "create", "payload": second},
             {"id": "p3", "path": "/setIdSets?q=SetCode='US1_SET'", "operation": "get"}]
    # when they are posted as one batch
    resp = fusion.rest("POST", BATCH, json={"parts": parts}, headers=BATCH_TYPE)
    # then every part answers, in order, with its item
    assert resp.status_code == 200, resp.text
    body = fusion.json(resp)
    assert [p["id"] for p in body["parts"]] == ["p1", "p2", "p3"]
    assert body["parts"][0]["payload"]["TransactionNumber"] == first["TransactionNumber"]
    assert body["parts"][0]["payload"]["EnteredAmount"] == Decimal("39.00")
    assert body["parts"][2]["payload"]["items"][0]["SetCode"] == "US1_SET"
    assert _count_invoices(fusion) == 2


def test_a_failing_part_rolls_the_whole_batch_back(fusion, customer):
    # given a good invoice and one with an unknown transaction type
    good = fusion.invoice_body(customer)
    bad = fusion.invoice_body(customer, TransactionType="Nope")
    parts = [{"id": "ok", "path": "/receivablesInvoices", "operation": "create", "payload": good},
             {"id": "broken", "path": "/receivablesInvoices", "operation": "create", "payload": bad}]
    # when the batch is posted
    resp = fusion.rest("POST", BATCH, json={"parts": parts}, headers=BATCH_TYPE)
    # then only the failing part is listed, with its error, and nothing was created
    assert resp.status_code == 400
    [part] = resp.json()["parts"]
    assert part["id"] == "broken" and part["payload"]["o:errorDetails"][0]["o:errorPath"] == "/TransactionType"
    assert _count_invoices(fusion) == 0


def test_batch_update_with_if_match(fusion, customer):
    inv = fusion.create_invoice(customer)
    indicator = next(l for l in inv["links"] if l["rel"] == "self")["properties"]["changeIndicator"]
    path = f"/receivablesInvoices/{inv['CustomerTransactionId']}"
    part = {"id": "u", "path": path, "operation": "update", "ifMatch": indicator,
            "payload": {"PaymentTerms": "30 NET"}}
    resp = fusion.rest("POST", BATCH, json={"parts": [part]}, headers=BATCH_TYPE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["parts"][0]["preconditionSucceeded"] is True
    # the same indicator is stale now
    again = fusion.rest("POST", BATCH, json={"parts": [dict(part, payload={"PaymentTerms": "IMMEDIATE"})]},
                        headers=BATCH_TYPE)
    assert again.status_code == 412 and again.json()["parts"][0]["preconditionSucceeded"] is False


def test_batch_needs_parts(fusion):
    assert fusion.rest("POST", BATCH, json={"parts": []}, headers=BATCH_TYPE).status_code == 400
    assert fusion.rest("POST", BATCH, json={"parts": [{"id": "x", "path": "/a", "operation": "merge"}]},
                       headers=BATCH_TYPE).status_code == 400
