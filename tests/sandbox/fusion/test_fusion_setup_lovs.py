"""The set-up lists of values ``ml-connector fit`` reads, all from the pod's seed (rest_setup.py)."""
import pytest
import requests

from fusion_helpers import CRM, FSCM



def _names(fusion, path: str, attribute: str) -> set[str]:
    resp = fusion.rest("GET", path, params={"onlyData": "true", "limit": "500"})
    assert resp.status_code == 200, resp.text
    return {item[attribute] for item in resp.json()["items"]}


@pytest.mark.parametrize("path, attribute, expected", [
    (f"{FSCM}/finBusinessUnitsLOV", "BusinessUnitName", {"US1 Business Unit", "EU1 Business Unit"}),
    (f"{FSCM}/transactionSourcesLOV", "Name", {"SHOPIFY"}),
    (f"{FSCM}/transactionTypesLOV", "Name", {"Shopify Invoice", "Shopify Credit Memo", "Shopify Debit Memo"}),
    (f"{FSCM}/paymentTermsLOV", "Name", {"IMMEDIATE", "15 NET", "30 NET", "60 NET"}),
    (f"{FSCM}/customerProfileClassesLOV", "Name", {"DEFAULT", "Shopify B2B"}),
    (f"{FSCM}/receiptMethodsLOV", "Name", {"Shopify Payments", "Manual", "Gift Card"}),
    (f"{FSCM}/currencyConversionTypesLOV", "UserConversionType", {"Corporate", "Spot", "User"}),
    (f"{CRM}/sourceSystemsLOV", "SourceSystem", {"SHOPIFY"}),
])
def test_each_list_holds_the_seeds_set_up(fusion, path, attribute, expected):
    # when a client reads a list of values, then it holds exactly the seed's names
    assert _names(fusion, path, attribute) == expected


def test_memo_lines_activities_and_tax_rates_carry_what_fit_checks(fusion):
    assert {"Merchandise", "Freight", "Refund Adjustment"} <= _names(fusion, f"{FSCM}/memoLinesLOV", "Name")
    types = fusion.rest("GET", f"{FSCM}/transactionTypesLOV", params={"onlyData": "true"}).json()["items"]
    assert {t["Name"]: t["TransactionTypeClass"] for t in types}["Shopify Credit Memo"] == "CM"
    [source] = fusion.rest("GET", f"{FSCM}/transactionSourcesLOV", params={"onlyData": "true"}).json()["items"]
    assert source["AutomaticTransactionNumbering"] == "N"  # the seed numbers it manually
    activities = fusion.rest("GET", f"{FSCM}/receivablesActivitiesLOV", params={"onlyData": "true"}).json()["items"]
    assert {(a["BusinessUnitName"], a["Name"], a["ActivityType"]) for a in activities} >= {
        ("US1 Business Unit", "Shopify Refund Clearing", "Receipt Write-off")}
    rates = fusion.rest("GET", f"{FSCM}/taxRatesLOV", params={"q": "TaxRegimeCode='VAT'"}).json()["items"]
    assert ("VAT", "STANDARD") in [(r["TaxRegimeCode"], r["TaxRateCode"]) for r in rates]


def test_an_account_combination_is_found_by_its_segments_unless_the_pod_says_otherwise(make_fusion):
    # given a pod that answers a query on the segment string (the sandbox's default)
    fusion = make_fusion()
    path = f"{FSCM}/accountCombinationsLOV"
    found = fusion.rest("GET", path, params={"q": "ConcatenatedSegments='101-10-41000-000-000'"}).json()["items"]
    assert [(a["ConcatenatedSegments"], a["EnabledFlag"]) for a in found] == [("101-10-41000-000-000", "Y")]
    assert fusion.rest("GET", path, params={"q": "ConcatenatedSegments='999-99'"}).json()["items"] == []
    # given one that, as the 26C spec reads, has no segment string to query: a 400
    strict = make_fusion(account_combinations_by_segments=False)
    assert strict.rest("GET", path, params={"q": "ConcatenatedSegments='101-10-41000-000-000'"}).status_code == 400


def test_a_403_fault_answers_as_a_user_without_the_privilege(fusion):
    # given the integration user lacks the privilege behind credit memos
    requests.post(f"{fusion.url}/_sandbox/faults", timeout=5, json={
        "rules": [{"kind": "403", "path_prefix": f"{FSCM}/receivablesCreditMemos"}]}).raise_for_status()
    # then that resource answers 403 and the others still answer
    assert fusion.rest("GET", f"{FSCM}/receivablesCreditMemos").status_code == 403
    assert fusion.rest("GET", f"{FSCM}/receivablesInvoices").status_code == 200
