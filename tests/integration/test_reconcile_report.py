"""``ml-connector reconcile``: the report reads both systems and finds what Fusion lacks or holds
differently (a lost webhook, an invoice deleted or paid by a person in Fusion); ``--heal`` fixes
what the connector can."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import requests

from tests.factories import new_order
from tests.integration.test_fusion_poll import pay_in_fusion
from tests.support import Fusion, TestShop, eventually


def report(shop, *args: str, day: str = "") -> tuple[int, dict]:
    """``ml-connector reconcile --json`` over ``day`` (today by default), as a process of its own:
    (exit code, report)."""
    today = day or datetime.now(timezone.utc).date().isoformat()
    done = subprocess.run([sys.executable, "-m", "cli.main", "reconcile", "--from", today, "--to", today,
                           "--shop", shop.domain, "--json", *args], capture_output=True, text=True, timeout=120,
                          # the sandbox's GraphQL runs under one lock: beside the suite's other stacks
                          # one read has taken over 30 s (real Shopify answers in well under one)
                          env={**os.environ, "COLUMNS": "300", "MLC_HTTP_READ_TIMEOUT": "120"})
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def verdicts(body: dict) -> dict[str, str]:
    return {p["order_id"]: p["verdict"] for p in body["problems"]}


def test_given_an_order_whose_webhooks_were_lost_then_the_report_finds_it_and_heal_books_it(shop):
    # given one order booked as usual and one whose webhooks never arrived
    booked = shop.place_order(dict(new_order(), financial_status="paid"))
    lost = shop.place_order(dict(new_order(), financial_status="paid"), deliver=False)
    assert eventually(lambda: shop.holds(booked), timeout=60)

    # when the report runs, then it finds the lost one missing, and says the day differs
    code, body = report(shop)
    assert code == 1 and verdicts(body) == {str(lost["id"]): "missing"}, body
    [day] = body["days"]
    assert (day["orders"]["count"], day["invoices"]["count"], day["payments"]["count"], day["receipts"]["count"]) \
        == (2, 1, 2, 1)

    # when it runs with --heal, then the order is enqueued, booked, and the next report matches
    code, body = report(shop, "--heal")
    assert code == 1 and any("enqueued order" in h for h in body["problems"][0]["healed"]), body
    assert eventually(lambda: shop.holds(lost), timeout=60), shop.invariants(lost)
    code, body = report(shop)
    assert body["errors"] == []  # a system the report could not read says so, in full
    assert code == 0 and body["matches"] and body["problems"] == [], body
    [day] = body["days"]
    assert day["orders"] == day["invoices"] and day["payments"] == day["receipts"], day


def test_given_an_invoice_deleted_and_one_paid_by_a_person_in_fusion_then_the_report_finds_both(shop, fusion):
    # given two invoiced orders
    deleted, paid = (shop.place_order(new_order()) for _ in range(2))
    assert eventually(lambda: shop.holds(deleted) and shop.holds(paid), timeout=60)
    assert report(shop)[0] == 0

    # when a person deletes one invoice in Fusion (made incomplete first, as Fusion requires) and
    # pays the other there
    [invoice] = shop.fusion_invoices(deleted)
    delete_invoice(fusion, invoice)
    [other] = shop.fusion_invoices(paid)
    pay_in_fusion(fusion, other)

    # then the report finds the first missing and the second different, and exits 1
    code, body = report(shop)
    assert code == 1 and verdicts(body) == {str(deleted["id"]): "missing", str(paid["id"]): "different"}, body
    [reasons] = [p["reasons"] for p in body["problems"] if p["order_id"] == str(paid["id"])]
    assert any(r.startswith("(2) open balance in Fusion 0") for r in reasons), reasons


def delete_invoice(fusion: Fusion, invoice: dict) -> None:
    url = f"{fusion.url}{Fusion.INVOICES}/{invoice['CustomerTransactionId']}"
    headers = {"Authorization": f"Bearer {fusion.token()}", "REST-Framework-Version": "4"}
    response = requests.patch(url, json={"InvoiceStatus": "Incomplete"}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    response = requests.delete(url, headers=headers, timeout=10)
    assert response.status_code == 204, response.text


def test_given_a_new_york_shop_then_the_report_cuts_its_days_at_new_york_midnight(stack):
    # given a New York shop with an order at 23:30 local on 31 January and one at 00:30 local on
    # 1 February (both on 1 February in UTC), both invoiced
    shop = TestShop.create(stack, prefix=("T" + uuid.uuid4().hex[:7]).upper(), iana_timezone="America/New_York")
    january, february = (shop.place_order(dict(new_order(), processed_at=stamp, created_at=stamp))
                         for stamp in ("2026-01-31T23:30:00-05:00", "2026-02-01T00:30:00-05:00"))
    assert eventually(lambda: shop.holds(january) and shop.holds(february), timeout=60)

    # when the report runs over 31 January, then over 1 February
    days = {}
    for day in ("2026-01-31", "2026-02-01"):
        code, body = report(shop, day=day)
        assert code == 0 and body["problems"] == [], body
        days[day] = [(d["day"], d["orders"]["count"], d["invoices"]["count"]) for d in body["days"]]

    # then each day holds the order of its local date, and its invoice
    assert days == {"2026-01-31": [("2026-01-31", 1, 1)], "2026-02-01": [("2026-02-01", 1, 1)]}
