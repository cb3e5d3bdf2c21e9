"""Context roots and the read-only look-ups a connector uses before writing (rest.md §0, §3)."""
from urllib.parse import quote

import pytest

from fusion_helpers import FSCM, US1_SET_ID


@pytest.mark.parametrize("api", ["fscmRestApi", "crmRestApi"])
def test_context_root_lists_the_version_and_framework_versions(fusion, api):
    # when a client asks the context root which versions exist
    resp = fusion.rest("GET", f"/{api}/resources/latest", fw=None)
    # then it sees 11.13.18.05 with the default and allowed framework versions (rest.md §0)
    assert resp.status_code == 200, resp.text
    item = resp.json()["items"][0]
    assert item["version"] == "11.13.18.05" and item["isLatest"] is True
    assert item["adf:extension"]["defaultFrameworkVersion"] == "1"
    assert item["adf:extension"]["allowedFrameworkVersions"] == [str(v) for v in range(1, 10)]


def test_context_root_reports_the_configured_default(make_fusion):
    fusion = make_fusion(default_framework_version=4)
    item = fusion.rest("GET", "/fscmRestApi/resources/latest").json()["items"][0]
    assert item["adf:extension"]["defaultFrameworkVersion"] == "4"


def test_set_id_sets_give_the_set_id_for_account_sites(fusion):
    # given the pod's reference data sets, when a client looks the US1 set up by code
    resp = fusion.rest("GET", f"{FSCM}/setIdSets", params={"q": "SetCode='US1_SET'"})
    # then it gets the SetId createCustomerAccount needs
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert [(i["SetId"], i["SetCode"], i["SetName"]) for i in items] == \
        [(US1_SET_ID, "US1_SET", "US1 Business Unit Set")]
    # v1 query-by-example works too, and the whole list includes the common set
    assert fusion.rest("GET", f"{FSCM}/setIdSets", fw=None, params={"q": "SetCode=COMMON"}).json()["items"][0]["SetId"] == 0
    assert fusion.rest("GET", f"{FSCM}/setIdSets").json()["count"] == 3
    assert fusion.rest("GET", f"{FSCM}/setIdSets/{US1_SET_ID}").json()["SetCode"] == "US1_SET"


def test_customer_account_sites_lov_by_account_number(fusion, customer):
    # given a customer created through hubPersons + SOAP createCustomerAccount
    fusion.create_customer()          # another one the query must not return
    # when the LOV is queried by account number
    resp = fusion.rest("GET", f"{FSCM}/customerAccountSitesLOV",
                       params={"q": f"AccountNumber='{customer['AccountNumber']}'"})
    # then the single row is the account's bill-to site use
    assert resp.status_code == 200, resp.text
    [row] = resp.json()["items"]
    assert str(row["SiteUseId"]) == customer["SiteUseId"]
    assert row["AccountNumber"] == customer["AccountNumber"]
    assert row["PartySiteNumber"] == customer["SiteNumber"] and row["SetId"] == US1_SET_ID
    assert row["PartyName"].startswith("Jane Doe")
    item = fusion.rest("GET", f"{FSCM}/customerAccountSitesLOV/{row['SiteUseId']}")
    assert item.status_code == 200 and item.json()["AccountNumber"] == customer["AccountNumber"]
    assert fusion.rest("GET", f"{FSCM}/customerAccountSitesLOV/1").status_code == 404
    assert fusion.rest("GET", f"{FSCM}/customerAccountSitesLOV?q=" + quote("Nope='x'")).status_code == 400
