"""What the engineers who run the connector touch: the CLI, health, metrics, Flower, and secrecy."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from connector import audit
from connector.config import load_settings
from connector.db import session_scope
from connector.models import AuditEvent, Credential
from connector.services.context import Services
from connector.services.status import inbox_counts
from tests.factories import new_order
from tests.support import FUSION_CLIENT, eventually


def cli(*args, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, COLUMNS="250", **(env or {})))


@pytest.fixture
def operator_db(tmp_path):
    """A connector database of the test's own: ``ping`` checks every configured shop, and the
    shared one holds other tests' shops (some unknown to the sandbox, like cli-test's)."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'operator.db'}"}
    upgraded = cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    return env


def configure_as_operator(stack, shop, env: dict, fusion_secret: str) -> None:
    added = cli("shops", "add", shop.domain, "--client-id", shop.client_id, "--prefix", shop.prefix,
                "--admin-url", f"{stack.urls['shopify_sandbox']}/shops/{shop.domain}", "--secret-stdin",
                stdin=shop.secret + "\n", env=env)
    assert added.returncode == 0, added.stdout + added.stderr
    pod = cli("fusion", "set", "--base-url", stack.urls["fusion_sandbox"],
              "--token-url", f"{stack.urls['fusion_sandbox']}/oauth2/v1/token",
              "--client-id", FUSION_CLIENT["client_id"], "--scope", FUSION_CLIENT["scope"],
              "--secret-stdin", stdin=fusion_secret + "\n", env=env)
    assert pod.returncode == 0, pod.stdout + pod.stderr


def ping_rows(stdout: str) -> dict[str, str]:
    """``{system: result}`` from ping's table (continuation lines of a wrapped detail skipped)."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if len(cells) == 3 and cells[0] and cells[0] != "system":
            rows[cells[0]] = cells[1]
    return rows


def test_given_shop_added_with_secret_on_stdin_then_stored_encrypted_and_never_echoed(stack):
    secret = "shpss_cli_secret_1234567890"

    result = cli("shops", "add", "cli-test.myshopify.com", "--client-id", "cli-app", "--secret-stdin",
                 "--admin-url", stack.urls["shopify_sandbox"], stdin=secret + "\n")

    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    with session_scope(load_settings().database_url) as session:
        row = session.scalar(select(Credential).where(Credential.scope == "shop:cli-test.myshopify.com"))
        assert row is not None and secret.encode() not in row.ciphertext


def test_given_shop_and_pod_configured_then_ping_says_both_work(stack, shop, operator_db):
    configure_as_operator(stack, shop, operator_db, FUSION_CLIENT["client_secret"])

    result = cli("ping", env=operator_db)

    assert ping_rows(result.stdout) == {f"Shopify {shop.domain}": "ok", "Fusion": "ok"}, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_wrong_fusion_secret_then_ping_says_fusion_fails(stack, shop, operator_db):
    configure_as_operator(stack, shop, operator_db, "wrong-secret")

    result = cli("ping", env=operator_db)

    assert ping_rows(result.stdout) == {f"Shopify {shop.domain}": "ok", "Fusion": "FAILED"}, result.stdout
    assert result.returncode == 1, result.stdout + result.stderr


def test_healthz_and_metrics_are_on_the_admin_port_and_not_on_the_public_one(stack):
    for path in ("/healthz", "/metrics"):
        assert requests.get(f"{stack.urls['receiver']}{path}", timeout=10).status_code == 404
    assert requests.get(f"{stack.urls['receiver']}/livez", timeout=10).status_code == 200

    response = requests.get(f"{stack.urls['admin']}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert requests.get(f"{stack.urls['admin']}/metrics", timeout=10).status_code == 200


def scrape_inbox(stack) -> tuple[Counter, float]:
    """``mlc_inbox_events`` by (topic, state), and when the gauges were last counted from the database."""
    response = requests.get(f"{stack.urls['admin']}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    gauges = Counter({(s.labels["topic"], s.labels["state"]): s.value for s in families["mlc_inbox_events"].samples})
    return gauges, families["mlc_metrics_recount_timestamp_seconds"].samples[0].value


def database_inbox() -> Counter:
    with session_scope(load_settings().database_url) as session:
        return Counter({(row.topic, row.state): row.count for row in inbox_counts(session)})


def test_metrics_count_the_pipeline_as_it_works_without_counting_the_database_again(stack, shop):
    scrape_inbox(stack)  # counted from the database now, should Redis hold nothing yet

    def quiet():  # a scrape between two equal readings of the database: the pair agrees
        first, (gauges, recounted), second = database_inbox(), scrape_inbox(stack), database_inbox()
        return first == second and (gauges, recounted, first)
    before, recounted, in_database = eventually(quiet)

    order = shop.place_order(new_order())
    assert eventually(lambda: shop.fusion_invoices(order))

    def moved_alike():  # what the gauges moved by is what the database's counts moved by
        now, _ = scrape_inbox(stack)
        now.subtract(before)
        moved = database_inbox()
        moved.subtract(in_database)
        return +now == +moved and -now == -moved and +moved
    assert eventually(moved_alike), (scrape_inbox(stack), database_inbox())
    assert scrape_inbox(stack)[1] == recounted  # kept as the events happened: no recount in between


def test_flower_needs_its_basic_auth(stack):
    stack.wait_http(stack.urls["flower"])
    assert requests.get(stack.urls["flower"], timeout=10).status_code == 401
    authed = requests.get(stack.urls["flower"], auth=(stack.flower_user, stack.flower_password), timeout=10)
    assert authed.status_code == 200


def test_no_secret_reaches_an_audit_row_or_a_log_line(stack, shop):
    order = shop.place_order(new_order())
    assert eventually(lambda: shop.fusion_invoices(order))
    secrets = [shop.secret, FUSION_CLIENT["client_secret"]]

    keyring = Services(load_settings()).keyring
    with session_scope(load_settings().database_url) as session:  # sealed personal fields opened too
        audit_text = " ".join(str(audit.opened(session, keyring, a)) for a in session.scalars(select(AuditEvent)))
    logs = " ".join(p.read_text(errors="replace") for p in stack.logs.glob("*.log"))

    for secret in secrets:
        assert secret not in audit_text and secret not in logs
    assert "Bearer ey" not in audit_text and "Bearer ey" not in logs
