"""``ml-connector demo --once``: what a new user runs first must work and tell the truth."""
from __future__ import annotations

import json
import os
import subprocess
import sys

DEMO_JSON_KEYS = {"receiver_url", "shopify_url", "shop_domain", "shopify_client_id", "webhook_secret",
                  "fusion_url", "fusion_token_url", "fusion_client_id", "fusion_client_secret",
                  "fusion_scope", "flower_url", "database_url", "redis_url", "pids"}


def test_demo_once_sends_orders_matches_every_total_and_exits_zero(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}  # embedded defaults
    result = subprocess.run([sys.executable, "-m", "cli.main", "demo", "--once", "--orders", "6"], cwd=tmp_path,
                            env=dict(env, COLUMNS="200"), capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "totals matched to the cent: 6/6" in result.stdout
    info = json.loads((tmp_path / ".demo" / "demo.json").read_text())
    assert DEMO_JSON_KEYS <= set(info)
    assert {"web", "beat", "flower", "worker-invoices", "fusion-sandbox", "shopify-sandbox"} <= set(info["pids"])
