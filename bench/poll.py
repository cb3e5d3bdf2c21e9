"""The idle Fusion poll: what one poll of every resource costs when nothing changed in Fusion.

A private stack (beat's own polls an hour apart, so only the polls sent here run) with invoices
the connector made; one poll reads them, then the measured poll finds nothing new. Its requests
are counted where Fusion would count them, at the sandbox (``/_sandbox/stats``), against the
baseline of one request per resource; the ratio is the figure.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import requests
from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import PollWatermark

RESOURCES = ("invoices", "credit_memos", "receipts", "customer_accounts")
QUIET = {f"MLC_FUSION_POLL_{name}": "3600" for name in ("INVOICES", "CREDIT_MEMOS", "RECEIPTS", "ACCOUNTS")}


def _poll_all(timeout: float = 60.0) -> float:
    """One poll of each resource by the fusion_poll worker; its wall time in seconds."""
    from workers.app import app
    started, clock = datetime.now(timezone.utc), time.monotonic()
    for resource in RESOURCES:
        app.send_task(f"mlc.fusion.poll_{resource}", queue="fusion_poll")
    deadline = clock + timeout
    while time.monotonic() < deadline:
        with session_scope(load_settings().database_url) as session:
            done = session.scalars(select(PollWatermark).where(PollWatermark.polled_at >= started)).all()
        if len(done) == len(RESOURCES):
            return time.monotonic() - clock
        time.sleep(0.05)
    raise SystemExit("the polls did not finish in time")


def run(stack, orders: int = 20) -> None:
    from bench.pipeline import add_shop, synced
    fusion = stack.urls["fusion_sandbox"]
    domain, _ = add_shop(stack, "poll")
    requests.post(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{domain}/orders/generate",
                  json={"count": orders, "seed": 7}, timeout=300).raise_for_status()
    deadline = time.monotonic() + 300
    while synced(domain) < orders and time.monotonic() < deadline:
        time.sleep(0.1)
    settled = None  # wait until the orders' payments stop reaching Fusion too
    while time.monotonic() < deadline:
        now = requests.get(f"{fusion}/_sandbox/stats", timeout=10).json()
        if now == settled:
            break
        settled = now
        time.sleep(2)
    _poll_all()  # reads what the orders made (and the worker gets its token)
    before = requests.get(f"{fusion}/_sandbox/stats", timeout=10).json()
    seconds = _poll_all()
    after = requests.get(f"{fusion}/_sandbox/stats", timeout=10).json()
    spent = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    total, baseline = sum(spent.values()), len(RESOURCES)
    print(f"idle Fusion poll of {len(RESOURCES)} resources after {orders} orders: {total} requests "
          f"(baseline one per resource: {baseline}), ratio {total / baseline:.2f}, {seconds * 1000:.0f} ms")
    for key, count in sorted(spent.items()):
        print(f"  {key}: {count}")
