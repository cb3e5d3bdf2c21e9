"""The checks of ``ml-connector fit``, each against a Fusion sandbox on a real port (or, for the
Shopify side, against the answers Shopify gives), one way to fail at a time."""
from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest

from connector.config import DEFAULT_MAPPING_FILE, ConfigError, Settings
from connector.fusion.auth import FusionConnection
from connector.fusion.client import FusionClient
from connector.mapping.config import parse_mapping
from connector.services import fit
from sandbox.fusion import FusionSandboxSettings, create_app
from sandbox.fusion.seed import PACKAGED_SEED
from sandbox.server import BackgroundServer


@pytest.fixture
def make_pod():
    """``make_pod(seed_text=None, **settings)``: a fresh Fusion sandbox and the connector's client of it."""
    servers = []

    def start(seed_text: str | None = None, tmp: Path | None = None, **overrides) -> FusionClient:
        if seed_text is not None:
            seed = tmp / "seed.toml"
            seed.write_text(seed_text)
            overrides["seed_path"] = seed
        settings = FusionSandboxSettings(**overrides)
        server = BackgroundServer(create_app(settings)).start()
        servers.append(server)
        return FusionClient(FusionConnection(base_url=server.url, auth_mode="basic", username=settings.basic_username,
                                             password=settings.basic_password), allow_http=True, max_tries=1)
    yield start
    for server in servers:
        threading.Thread(target=server.stop, daemon=True).start()


def mapping(**changes):
    """The default mapping with ``section={key: value}`` changes."""
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    for section, values in changes.items():
        document[section] = {**document.get(section, {}), **values}
    return parse_mapping(document)


def results(client: FusionClient, m=None, **paths) -> dict[str, fit.Result]:
    pod = fit.PodSetup(client.transport, fit.resource_paths(paths))
    return {r.check: r for r in fit.check_mappings(pod, [("", m or mapping())])}


def failing(found: dict[str, fit.Result]) -> dict[str, fit.Result]:
    return {check: r for check, r in found.items() if r.status != fit.OK}


def test_every_name_of_the_default_mapping_is_a_need_once():
    needs = fit.fusion_needs(mapping())
    checks = [n.check for n in needs]
    assert len(checks) == len(set(checks))
    assert {"fusion.memo_lines.duties", "fusion.memo_lines.rounding", "fusion.memo_lines.refund_adjustments.restock",
            "fusion.receipt_methods.gift_card", "fusion.gl.tips", "fusion.gl.rounding",
            "fusion.gl.refund_adjustments.default", "fusion.refunds.store_credit_activity",
            "fusion.transaction_type.debit_memo", "fusion.conversion_rate_type", "fusion.reference_set"} <= set(checks)


def test_given_the_seeded_pod_then_the_default_mapping_fits(make_pod):
    found = results(make_pod())
    assert failing(found) == {}
    assert found["fusion.transaction_source"].detail == "transaction source 'SHOPIFY' exists and numbers manually"


def test_given_a_name_the_pod_lacks_then_its_check_fails_with_the_task_and_the_key(make_pod):
    found = failing(results(make_pod(), mapping(receipt_methods={"paypal": "PayPal"}, memo_lines={"tip": "tip"},
                                                fusion={"reference_set_id": "300000001000009"})))
    assert set(found) == {"fusion.receipt_methods.paypal", "fusion.memo_lines.tip", "fusion.reference_set"}
    assert found["fusion.receipt_methods.paypal"].fix == ("create it in Fusion (Manage Receipt Classes and Methods) "
                                                          "or change [receipt_methods] paypal in the mapping")
    # a name that differs only in case is pointed out: Fusion matches names exactly
    assert "the pod has 'Tip'" in found["fusion.memo_lines.tip"].detail


def test_given_a_type_of_the_wrong_class_then_it_fails_naming_both_classes(make_pod):
    found = failing(results(make_pod(), mapping(fusion={"invoice_type": "Shopify Credit Memo"})))
    assert list(found) == ["fusion.transaction_type.invoice"]
    assert found["fusion.transaction_type.invoice"].detail == \
        "transaction type 'Shopify Credit Memo' is of class CM, not INV"


def test_given_automatic_numbering_and_a_refund_clearing_activity_of_type_refund_then_both_fail(make_pod, tmp_path):
    seed = PACKAGED_SEED.read_text().replace('numbering = "manual"', 'numbering = "automatic"')
    seed = seed.replace('name = "Shopify Refund Clearing"\nid = 300000004000101              # ReceivablesTrxId\n'
                        'type = "Receipt Write-off"', 'name = "Shopify Refund Clearing"\nid = 300000004000101\n'
                        'type = "Refund"')
    found = failing(results(make_pod(seed, tmp_path)))
    assert set(found) == {"fusion.transaction_source", "fusion.refunds.clearing_activity"}
    assert "turn Automatic transaction numbering off" in found["fusion.transaction_source"].fix
    assert found["fusion.refunds.clearing_activity"].detail == \
        "receivables activity 'Shopify Refund Clearing' is of type Refund"


def test_an_activity_of_another_business_unit_does_not_count(make_pod):
    m = mapping(refunds={"clearing_activity": "Shopify Refund Clearing"}, fusion={"business_unit": "EU1 Business Unit"})
    assert failing(results(make_pod(), m)) == {}
    found = failing(results(make_pod(), mapping(refunds={"store_credit_activity": "Store Credit EU"})))
    assert found["fusion.refunds.store_credit_activity"].detail == \
        "no receivables activity 'Store Credit EU' in US1 Business Unit"


def test_given_an_account_the_pod_lacks_then_it_fails(make_pod):
    found = failing(results(make_pod(), mapping(gl={"tips": "101-10-99999-000-000"})))
    assert list(found) == ["fusion.gl.tips"]
    assert found["fusion.gl.tips"].detail == "no account combination 101-10-99999-000-000"


def test_given_a_tax_row_naming_a_regime_and_a_rate_the_pod_lacks_then_each_fails_naming_the_row(make_pod):
    # given a tax table whose first row the pod has, a second naming a rate its regime lacks, and a
    # third naming a regime the pod lacks, and a shop whose own table names another missing rate
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["tax"]["rates"] = [
        {"title": "State Tax", "regime_code": "US_SALES_TAX", "rate_code": "STATE"},
        {"title": "County Tax", "country": "US", "regime_code": "US_SALES_TAX", "rate_code": "REDUCED"},
        {"title": "GST", "rate": 0.05, "regime_code": "CA_GST", "rate_code": "STANDARD"}]
    document["shops"] = {"eu.myshopify.com": {"tax": {"regime_code": "VAT", "rates": [
        {"title": "VAT", "regime_code": "VAT", "rate_code": "SUPER_REDUCED"}]}}}
    m = parse_mapping(document)
    # when fit checks the base mapping and the shop's
    pod = fit.PodSetup(make_pod().transport, fit.RESOURCES)
    found = {(r.scope, r.check): r for r in fit.check_mappings(pod, [("", m), ("eu.myshopify.com",
                                                                              m.for_shop("eu.myshopify.com"))])}
    # then the row the pod has passes, and each missing regime or rate fails naming its row and the fix
    assert found[("", "fusion.tax.rates.1.regime")].status == fit.OK
    assert found[("", "fusion.tax.rates.1.rate")].status == fit.OK
    assert found[("", "fusion.tax.rates.2.regime")].status == fit.OK
    county = found[("", "fusion.tax.rates.2.rate")]
    assert county.status == fit.FAIL and county.detail == "no tax rate 'REDUCED' in regime 'US_SALES_TAX'"
    assert county.fix == ("create it in Fusion (Manage Tax Rates and Tax Recovery Rates) or change the "
                          "[[tax.rates]] row 2 (title = 'County Tax', country = 'US') in the mapping")
    gst = found[("", "fusion.tax.rates.3.regime")]
    assert gst.status == fit.FAIL and gst.detail == "no tax regime 'CA_GST' with rates in Fusion"
    assert "[[tax.rates]] row 3 (title = 'GST', rate = 0.05)" in gst.fix
    assert found[("", "fusion.tax.rates.3.rate")].status == fit.FAIL
    shop = found[("eu.myshopify.com", "fusion.tax.rates.1.rate")]
    assert shop.status == fit.FAIL and shop.detail == "no tax rate 'SUPER_REDUCED' in regime 'VAT'"


def test_given_channel_liable_taxes_cleared_then_their_account_is_checked(make_pod):
    found = results(make_pod(), mapping(tax={"channel_liable_account": "101-10-99998-000-000"}))
    assert found["fusion.gl.tax.channel_liable_account"].status == fit.FAIL
    assert "[tax] channel_liable_account" in found["fusion.gl.tax.channel_liable_account"].fix
    # booked as the merchant's own tax, no clearing account is used, so none is checked
    assert "fusion.gl.tax.channel_liable_account" not in results(make_pod(), mapping(tax={
        "channel_liable": "merchant", "channel_liable_account": "101-10-99998-000-000"}))


def test_given_a_pod_that_cannot_look_accounts_up_by_segments_then_they_are_unknown_never_ok(make_pod):
    found = failing(results(make_pod(account_combinations_by_segments=False)))
    assert {r.status for r in found.values()} == {fit.UNKNOWN}
    assert all(check.startswith("fusion.gl.") for check in found)
    assert "HTTP 400" in found["fusion.gl.revenue"].detail and "MLC_FIT_RESOURCES" in found["fusion.gl.revenue"].fix


def test_given_a_list_the_pod_does_not_serve_then_its_checks_are_unknown(make_pod):
    found = failing(results(make_pod(), memo_lines="/fscmRestApi/resources/11.13.18.05/standardMemoLinesLOV"))
    assert {r.status for r in found.values()} == {fit.UNKNOWN}
    assert all(check.startswith("fusion.memo_lines.") for check in found)
    with pytest.raises(ConfigError, match="memo_line"):
        fit.resource_paths({"memo_line": "/x"})


def test_given_a_403_then_the_access_check_names_the_privilege(make_pod):
    import requests
    client = make_pod()
    requests.post(f"{client.transport.base_url}/_sandbox/faults", timeout=5, json={"rules": [
        {"kind": "403", "path_prefix": "/crmRestApi/resources/11.13.18.05/hubPersons"}]}).raise_for_status()
    found = {r.check: r for r in fit.check_fusion_access(client, "SHOPIFY")}
    assert found["fusion.access.parties"].status == fit.FAIL and "HTTP 403" in found["fusion.access.parties"].detail
    assert {c for c, r in found.items() if r.status == fit.OK} == {
        "fusion.access.invoices", "fusion.access.credit_memos", "fusion.access.receipts",
        "fusion.access.organizations", "fusion.access.customer_accounts", "fusion.access.customer_profiles"}


def test_given_no_customer_profile_privilege_then_its_access_check_fails_naming_the_service(make_pod):
    import requests
    client = make_pod()
    # given a pod where the integration user may read no customer profile
    requests.post(f"{client.transport.base_url}/_sandbox/faults", timeout=5, json={"rules": [
        {"kind": "403", "path_prefix": "/fscmService/ReceivablesCustomerProfileService"}]}).raise_for_status()
    # when fit checks the access of a mapping giving B2B accounts a profile class
    found = {r.check: r for r in fit.check_fusion_access(client, "SHOPIFY", fit.uses_profiles([("", mapping())]))}
    # then the profile check fails, naming the service and what to grant; the others still pass
    profiles = found["fusion.access.customer_profiles"]
    assert profiles.status == fit.FAIL and "ReceivablesCustomerProfileService (HTTP 403)" in profiles.detail
    assert "customer profiles (ReceivablesCustomerProfileService)" in profiles.fix
    assert found["fusion.access.customer_accounts"].status == fit.OK


def test_given_a_pod_with_the_profile_privilege_then_an_account_without_a_profile_reads_as_ok(make_pod):
    assert fit.check_customer_profile_service(make_pod()).status == fit.OK
    # a mapping without a B2B profile class never calls the service, so fit does not ask for it
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["b2b"].pop("profile_class", None)
    assert not fit.uses_profiles([("", parse_mapping(document))])


# -- Shopify, from the answers Shopify gives ------------------------------------------------------

ADDRESS = "https://mlc.example.com/webhooks/shopify"


def nodes(*topics, version="2026-01", uri=ADDRESS):
    return [{"topic": fit.enum_of(t), "uri": uri, "apiVersion": {"handle": version}} for t in topics]


def test_a_write_scope_counts_for_its_read_scope():
    granted = {"write_orders", "read_customers"} | {"read_orders"}
    found = {r.check: r for r in fit.check_scopes(granted, "a.myshopify.com")}
    assert found["shopify.scopes.read_orders"].status == fit.OK
    assert found["shopify.scopes.read_all_orders"].status == fit.FAIL
    assert "60 days" in found["shopify.scopes.read_all_orders"].detail


def test_a_shop_that_pushes_fusion_receipts_needs_write_orders_and_others_do_not():
    granted = {"read_orders", "read_customers", "read_all_orders"}
    assert "shopify.scopes.write_orders" not in {r.check for r in fit.check_scopes(granted, "a.myshopify.com")}
    [write] = [r for r in fit.check_scopes(granted, "a.myshopify.com", pushes_receipts=True)
               if r.check == "shopify.scopes.write_orders"]
    assert write.status == fit.FAIL and "orderMarkAsPaid" in write.detail


def test_webhooks_every_topic_the_version_and_the_address():
    topics = fit.subscribed_topics()
    assert topics and not any(t.startswith("shop/") or t.endswith(("redact", "data_request")) for t in topics)
    all_ok = fit.check_webhooks(nodes(*topics), "a.myshopify.com", "2026-01", ADDRESS)
    assert {r.check: r.status for r in all_ok if r.status != fit.OK} == {"shopify.webhooks.compliance": fit.UNKNOWN}

    found = {r.check: r for r in fit.check_webhooks(
        nodes(*topics[1:]) + nodes(topics[0], version="2025-10", uri="https://old.example.com/hooks"),
        "a.myshopify.com", "2026-01", ADDRESS)}
    assert found[f"shopify.webhooks.{topics[0]}"].status == fit.FAIL
    assert "API version 2025-10" in found[f"shopify.webhooks.{topics[0]}"].detail
    assert found["shopify.webhooks.address"].status == fit.FAIL
    assert "https://old.example.com/hooks" in found["shopify.webhooks.address"].detail

    none = {r.check: r for r in fit.check_webhooks([], "a.myshopify.com", "2026-01", "")}
    assert none[f"shopify.webhooks.{topics[0]}"].status == fit.FAIL
    assert "shopify.app.toml" in none[f"shopify.webhooks.{topics[0]}"].detail
    assert "<MLC_PUBLIC_URL>/webhooks/shopify" in none[f"shopify.webhooks.{topics[0]}"].fix
    assert none["shopify.webhooks.address"].status == fit.UNKNOWN


def test_settings_public_url_and_resource_paths():
    settings = Settings.from_env({"MLC_PUBLIC_URL": "https://mlc.example.com/",
                                  "MLC_FIT_RESOURCES": "memo_lines = /x/memoLines, tax_rates=/y"})
    assert settings.public_url == "https://mlc.example.com"
    assert settings.fit_resources == {"memo_lines": "/x/memoLines", "tax_rates": "/y"}
    with pytest.raises(ConfigError, match="MLC_FIT_RESOURCES"):
        Settings.from_env({"MLC_FIT_RESOURCES": "memo_lines"})
    with pytest.raises(ConfigError, match="MLC_PUBLIC_URL"):
        Settings.from_env({"MLC_PUBLIC_URL": "mlc.example.com"})


def test_an_optional_topic_is_checked_only_where_the_shop_subscribes_and_then_needs_its_scope():
    required = fit.subscribed_topics()
    assert "customers/merge" not in required
    without = {r.check: r for r in fit.check_webhooks(nodes(*required), "a.myshopify.com", "2026-01", ADDRESS)}
    assert without["shopify.webhooks.customers/merge"].status == fit.OK
    assert "optional" in without["shopify.webhooks.customers/merge"].detail
    assert "shopify.scopes.read_customer_merge" not in {r.check for r in fit.check_scopes(set(), "a.myshopify.com")}

    subscribed = nodes(*required) + nodes("customers/merge", version="2025-10")
    found = {r.check: r for r in fit.check_webhooks(subscribed, "a.myshopify.com", "2026-01", ADDRESS)}
    assert found["shopify.webhooks.customers/merge"].status == fit.FAIL
    [scope] = [r for r in fit.check_scopes({"read_orders"}, "a.myshopify.com", optional=fit.optional_flows(subscribed))
               if r.check == "shopify.scopes.read_customer_merge"]
    assert scope.status == fit.FAIL and "customers/merge" in scope.detail
def test_given_b2b_terms_and_a_profile_class_the_pod_lacks_then_fit_names_each(make_pod):
    # given a mapping whose B2B terms table names a term and a profile class the pod does not have
    import copy
    import tomllib

    from connector.config import DEFAULT_MAPPING_FILE
    from connector.mapping.config import parse_mapping
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["b2b"] = dict(copy.deepcopy(document["b2b"]), profile_class="Wholesale Gold")
    document["b2b"]["terms"].append({"type": "NET", "due_in_days": 90, "fusion": "90 NET"})
    mapping = parse_mapping(document)
    # when fit checks it against the pod
    pod = fit.PodSetup(make_pod().transport, fit.RESOURCES)
    found = {r.check: r for r in fit.check_mappings(pod, [("", mapping)])}
    # then the terms the pod has pass, and the missing term and class fail, naming where to fix them
    assert found["fusion.b2b.payment_terms.30_net"].status == fit.OK
    assert found["fusion.b2b.payment_terms.90_net"].status == fit.FAIL
    assert "fusion = '90 NET'" in found["fusion.b2b.payment_terms.90_net"].fix
    assert found["fusion.b2b.profile_class"].status == fit.FAIL
    assert "[b2b] profile_class" in found["fusion.b2b.profile_class"].fix


def test_given_revenue_rules_then_fit_checks_each_rules_account_and_memo_line(make_pod):
    # given rules: one on an account and memo line the pod has, one on an account it lacks
    document = tomllib.loads(DEFAULT_MAPPING_FILE.read_text())
    document["gl"]["revenue_rules"] = [
        {"vendor": "Penguin", "account": "101-10-41100-000-000", "memo_line": "Book Sales"},
        {"sku_prefix": "SMP-", "account": "101-10-49999-000-000"}]
    # when fit checks the mapping against the pod
    found = results(make_pod(), parse_mapping(document))
    # then the first rule passes and the second fails, naming the row to fix
    assert found["fusion.gl.revenue_rules.1"].status == fit.OK
    assert found["fusion.memo_lines.revenue_rules.1"].status == fit.OK
    assert set(failing(found)) == {"fusion.gl.revenue_rules.2"}
    assert found["fusion.gl.revenue_rules.2"].detail == "no account combination 101-10-49999-000-000"
    assert "[[gl.revenue_rules]] row 2 account" in found["fusion.gl.revenue_rules.2"].fix


class _ShopAnswering:
    """Stands in for Shopify's answer to fit's first call: ``error`` raised."""

    def __init__(self, error: Exception):
        self.error = error

    def graphql(self, query, variables=None):
        raise self.error


def test_given_a_shop_that_needs_reauthorizing_then_fit_suggests_a_fresh_token_not_the_client_id():
    from connector.shopify.errors import ReauthorizationRequired
    domain = "acme.myshopify.com"

    found = fit.check_shop(_ShopAnswering(ReauthorizationRequired(f"{domain}: the app was uninstalled")),
                           fit.ShopSeen(domain, "2026-01"), "")

    assert [(r.check, r.status) for r in found] == [("shopify.connection", fit.FAIL)]
    assert f"ml-connector shops token {domain}" in found[0].fix
    assert "--client-id" not in found[0].fix


def test_given_credentials_shopify_refuses_then_fit_suggests_storing_the_client_id_again():
    from connector.shopify.errors import ShopifyAuthError
    domain = "acme.myshopify.com"

    found = fit.check_shop(_ShopAnswering(ShopifyAuthError(f"{domain}: access token refused (HTTP 401)")),
                           fit.ShopSeen(domain, "2026-01"), "")

    assert "shops add" in found[0].fix and "--client-id" in found[0].fix
