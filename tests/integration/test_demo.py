"""``ml-connector demo``: what a new user runs first must work and tell the truth, and the CLI
must work against it from another terminal while it runs."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest

from cli.demo import HISTORY  # the orders of the US store's history, backfilled

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

DEMO_JSON_KEYS = {"receiver_url", "shopify_url", "shop_domain", "shopify_client_id", "webhook_secret",
                  "fusion_url", "fusion_token_url", "fusion_client_id", "fusion_client_secret",
                  "fusion_scope", "flower_url", "database_url", "redis_url", "pids"}
#: What the merchant does after placing the orders, as the demo labels it.
ACTIONS = ("paid part", "paid the rest", "captured the authorization", "edit: + 2 × Mug", "edit: Mug 2 → 1",
           "refund: 1 ×", "and the shipping", "refund: everything left", "cancelled",
           "with its share of the duty")


#: s: the demo serves after about 90 s on an idle 2-core machine, and after about 140 s beside the
#: suite's two other xdist processes' stacks; in one CI run it had not served after 300 s and was
#: killed here as hung, which showed only as a missing check.json
SERVES_WITHIN = 420


@contextmanager
def running_demo(cwd, env):
    """``ml-connector demo`` until it serves: what it printed up to "Everything keeps running".
    SIGTERM on the way out, and it must then exit 0. A demo that neither serves nor stops is
    killed after SERVES_WITHIN (a hang, not a slow run); one that stopped or was killed before it
    served fails here, with what it printed."""
    stderr = (cwd / "demo.stderr").open("w+")
    demo = subprocess.Popen([sys.executable, "-m", "cli.main", "demo"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=stderr)
    watchdog = threading.Timer(SERVES_WITHIN, demo.kill)
    watchdog.start()
    lines = []
    try:
        for line in demo.stdout:
            lines.append(line)
            if "Everything keeps running" in line:
                break
        watchdog.cancel()
        stderr.flush()
        printed = (cwd / "demo.stderr").read_text()[-3000:]
        if not lines or "Everything keeps running" not in lines[-1]:
            why = (f"killed: it did not serve within {SERVES_WITHIN} s" if demo.wait(timeout=60) == -signal.SIGKILL
                   else f"stopped with exit code {demo.returncode} before it served")
            pytest.fail(f"the demo {why}\n" + "".join(lines)[-6000:] + printed)
        yield "".join(lines), printed
    finally:
        watchdog.cancel()
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)
        demo.stdout.read()
        code = demo.wait(timeout=120)
        stderr.close()
    assert code == 0, (cwd / "demo.stderr").read_text()[-3000:]


@pytest.mark.timeout(SERVES_WITHIN + 180)  # and the CLI against it
def test_demo_books_payments_edits_refunds_a_cancellation_and_a_lost_webhook_and_every_order_holds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}  # embedded defaults
    # The Shopify sandbox answers each GraphQL query in Python under one lock: on this 2-core machine,
    # beside the suite's two other xdist processes' stacks, one of the reconciliation report's reads
    # took over the default 30 s (real Shopify answers in well under a second)
    env["MLC_HTTP_READ_TIMEOUT"] = "120"
    with running_demo(tmp_path, dict(env, COLUMNS="220", PYTHONUNBUFFERED="1")) as (stdout, stderr):
        the_demo_books_every_order_and_the_cli_reads_it(tmp_path, env, stdout, stderr)


def the_demo_books_every_order_and_the_cli_reads_it(tmp_path, env, stdout, stderr):
    output = stdout[-6000:] + stderr

    checks = json.loads((tmp_path / ".demo" / "check.json").read_text())
    # 24 generated, the EU store's cross-border and B2B orders, the history, the order whose webhooks were lost
    assert len(checks) == 27 + HISTORY, output
    # Every order: Fusion's documents match Shopify to the cent, and no event is left deferred,
    # parked or dead (the reasons are printed under the table when one is).
    assert [c["reasons"] for c in checks if not c["ok"]] == [], output
    assert "Everything keeps running" in stdout, output
    assert f"invariants hold: {27 + HISTORY}/{27 + HISTORY}" in stdout
    # The US store's history, placed before the connector was installed, came in by a backfill
    [backfilled] = [line for line in stdout.splitlines() if "│ demo-furniture.myshopify.com" in line
                    and "complete" in line]
    assert f"│ {HISTORY} " in backfilled, backfilled
    # and a receipt a person entered in Fusion marked its order paid in Shopify, once (its check,
    # one receipt per payment, holds with the others)
    [pushed] = [c for c in checks if any("marked paid in Shopify" in a for a in c["actions"])]
    assert pushed["ok"] and len(pushed["receipts"]) == 1, pushed
    # An order whose webhooks never arrived was found by the Shopify reconciliation and invoiced,
    # once, like the others
    [healed] = [c for c in checks if any("found by the Shopify reconciliation" in a for a in c["actions"])]
    assert healed["ok"] and healed["invoice"], healed  # (3): one invoice
    assert f"{healed['name']} in Fusion: invoiced" in stdout, output
    # and the reconciliation report over the demo's days finds Shopify and Fusion the same
    [command] = re.findall(r"ml-connector reconcile --from (\S+) --to (\S+)", stdout)
    assert "everything matches" in stdout, output
    # `ml-connector fit` ran first, on the sandboxes and the demo's mapping (both shops): it fits
    assert "fit: demo-furniture-eu.myshopify.com" in stdout and "fits: " in stdout, output
    assert "does not fit" not in stdout, stdout[:8000]

    done = [action for c in checks for action in c["actions"]]
    assert not [a for a in done if "REFUSED" in a], output
    for action in ACTIONS:
        assert any(action in a for a in done), f"no {action!r} in {done}"
    for shop in ("DEMO", "DEMOEU"):
        assert sum(len(c["actions"]) for c in checks if c["shop"] == shop) >= 8, output
    assert all(any(c[kind] for c in checks) for kind in ("debit_memos", "credit_memos", "receipts")), output

    info = json.loads((tmp_path / ".demo" / "demo.json").read_text())
    assert DEMO_JSON_KEYS <= set(info)
    assert {"web", "beat", "flower", "worker-invoices", "fusion-sandbox", "shopify-sandbox"} <= set(info["pids"])

    # The European store's cross-border order: its duty and fee invoiced, a share of the duty credited
    [cross_border] = [c for c in checks if any("share of the duty" in a for a in c["actions"])]
    assert cross_border["ok"] and cross_border["credit_memos"], cross_border

    # .demo/env: the CLI in another terminal reads the demo's database with the demo's keys
    env_file = tmp_path / ".demo" / "env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".demo").stat().st_mode) == 0o700  # no one else may even list it
    demo_env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    demo_env = {key: shlex.split(value)[0] for key, value in demo_env.items()}
    assert {"DATABASE_URL", "REDIS_URL", "MLC_ENCRYPTION_KEYS", "MLC_MAPPING_FILE"} <= set(demo_env)
    timeline = subprocess.run([sys.executable, "-m", "cli.main", "timeline", str(cross_border["order_id"]),
                               "--shop", info["shop_domains"][1]], check=False, cwd=tmp_path,
                              env=dict(env, COLUMNS="220", **demo_env), capture_output=True, text=True, timeout=60)
    assert timeline.returncode == 0, timeline.stdout + timeline.stderr
    assert "refunds/create" in timeline.stdout, timeline.stdout
    # and the reconciliation report from that terminal: every day of the demo matches, exit 0
    report = subprocess.run([sys.executable, "-m", "cli.main", "reconcile", "--from", command[0], "--to", command[1],
                             "--json"], check=False, cwd=tmp_path, env=dict(env, **demo_env), capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stdout[-4000:] + report.stderr[-2000:]
    figures = json.loads(report.stdout)
    assert figures["matches"] and not figures["problems"] and not figures["errors"], figures
    assert sum(day["orders"]["count"] for day in figures["days"]) == len(checks), figures
    # and `ml-connector fit` from that terminal checks the shops' webhooks against the demo's receiver
    assert demo_env["MLC_PUBLIC_URL"] == info["receiver_url"]
