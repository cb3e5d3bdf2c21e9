"""``ml-connector fit`` against the running stack: the sandboxes and the default mapping fit; a
mapping that names what the pod lacks, a missing subscription or a missing privilege does not,
and the failing check is named with its fix."""
from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner

from cli.main import cli
from connector.config import DEFAULT_MAPPING_FILE, reset_settings


@pytest.fixture
def fit(stack, monkeypatch):
    """``fit(shop, *args, **env)`` runs the command as an operator would, with MLC_PUBLIC_URL set to
    the receiver and ``env`` on top; answers (exit code, output)."""
    def run(shop, *args, **env):
        monkeypatch.setenv("MLC_PUBLIC_URL", stack.urls["receiver"])
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        result = CliRunner().invoke(cli, ["fit", "--shop", shop.domain, *args])
        return result.exit_code, result.output
    yield run
    reset_settings()


def _checks(output: str) -> dict[str, dict]:
    return {r["check"]: r for r in json.loads(output)}


def test_given_the_sandboxes_and_the_default_mapping_when_fit_runs_then_every_check_passes(fit, shop):
    code, output = fit(shop, "--json")
    checks = _checks(output)
    assert code == 0, [c for c in checks.values() if c["status"] == "fail"]
    assert {c["status"] for c in checks.values()} <= {"ok", "unknown"}
    for ok in ("fusion.connection", "fusion.business_unit", "fusion.transaction_source",
               "fusion.transaction_type.debit_memo", "fusion.memo_lines.shipping", "fusion.receipt_methods.gift_card",
               "fusion.tax.rate", "fusion.gl.revenue", "fusion.gl.refund_adjustments.restock",
               "fusion.conversion_rate_type", "fusion.refunds.clearing_activity", "fusion.source_system",
               "fusion.reference_set",
               "fusion.access.invoices", "fusion.access.customer_accounts", "shopify.scopes.read_all_orders",
               "shopify.webhooks.refunds/create", "shopify.webhooks.address"):
        assert checks[ok]["status"] == "ok", checks[ok]
    # what the pod cannot tell is said, not guessed
    assert checks["fusion.access.credit_memo_service"]["status"] == "unknown"
    assert checks["shopify.webhooks.compliance"]["status"] == "unknown"


def test_given_a_memo_line_the_pod_lacks_then_fit_fails_naming_it_and_its_fix(fit, shop, tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(DEFAULT_MAPPING_FILE.read_text().replace('shipping = "Freight"', 'shipping = "Shipping"'))
    code, output = fit(shop, "--json", MLC_MAPPING_FILE=str(mapping))
    checks = _checks(output)
    assert code == 1
    failing = [c for c in checks.values() if c["status"] == "fail"]
    assert [c["check"] for c in failing] == ["fusion.memo_lines.shipping"]
    assert failing[0]["detail"] == "no memo line 'Shipping' in Fusion"
    assert "Manage Standard Memo Lines" in failing[0]["fix"] and "[memo_lines] shipping" in failing[0]["fix"]


def test_given_a_missing_webhook_subscription_then_fit_fails_with_the_subscription_to_make(fit, shop, stack):
    # given the shop's app no longer subscribes to refunds/create
    from connector import flows
    topics = [f.topic for f in flows.FLOWS if f.kind.value != "refund"]
    requests.put(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}", json={"webhook_topics": topics},
                 timeout=10).raise_for_status()
    # when fit runs, as the checklist an operator reads
    code, output = fit(shop)
    # then it fails, naming the topic and the subscription to create
    assert code == 1
    assert "shopify.webhooks.refunds/create" in output and "no subscription to refunds/create" in output
    assert "✗ shopify.webhooks.refunds/create" in output and "fix: subscribe" in output and "REFUNDS_CREATE" in output
    assert "does not fit" in output
    code, output = fit(shop, "--json")
    assert [c["check"] for c in json.loads(output) if c["status"] == "fail"] == ["shopify.webhooks.refunds/create"]


def test_given_the_user_lacks_the_credit_memo_privilege_then_fit_names_it(fit, shop, fusion):
    fusion.fault(kind="403", path_prefix="/fscmRestApi/resources/11.13.18.05/receivablesCreditMemos")
    code, output = fit(shop, "--json")
    failing = [c for c in json.loads(output) if c["status"] == "fail"]
    assert code == 1
    assert [c["check"] for c in failing] == ["fusion.access.credit_memos"]
    assert "HTTP 403" in failing[0]["detail"] and "AR_MANAGE_RECEIVABLES_TRANSACTIONS_PRIV" in failing[0]["fix"]


def test_given_no_public_url_then_the_address_is_unknown_and_said_so(fit, shop, monkeypatch):
    code, output = fit(shop, "--json", MLC_PUBLIC_URL="")
    address = _checks(output)["shopify.webhooks.address"]
    assert code == 0 and address["status"] == "unknown"
    assert "MLC_PUBLIC_URL is not set" in address["detail"] and shop.domain in address["scope"]


def test_given_missing_scopes_and_another_webhook_api_version_then_fit_names_each(fit, shop, stack):
    # given the merchant granted only read_orders, and the app's webhooks use another API version
    requests.put(f"{stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}", timeout=10,
                 json={"scopes": "read_orders", "api_version": "2025-10"}).raise_for_status()
    code, output = fit(shop, "--json")
    failing = {c["check"]: c for c in json.loads(output) if c["status"] == "fail"}
    assert code == 1
    assert {"shopify.scopes.read_customers", "shopify.scopes.read_all_orders"} <= set(failing)
    assert "shopify.scopes.read_orders" not in failing
    assert all(failing[c]["detail"].endswith("the connector reads 2026-01") for c in failing if ".webhooks." in c)
    assert "--api-version 2025-10" in failing["shopify.webhooks.orders/create"]["fix"]
