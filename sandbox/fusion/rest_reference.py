"""Read-only look-ups a connector needs before it writes, and the API context roots.

* ``GET /<api>/resources[/latest]`` — the context root: the one version served, with the
  framework versions in ``adf:extension`` (rest.md §0, §6.1).
* ``setIdSets`` — reference data sets (SetId for ``CustomerAccountSite``; rest.md §3.2).
* ``customerAccountSitesLOV`` — account site uses, key ``SiteUseId`` (rest.md §3.2–3.3).
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, request

from .errors import not_found
from .query import NUM, STR
from .rest_common import (
    COLLECTION_TYPE, VERSION, ResourceSpec, change_indicator, check_version, collection_response,
    describe, item_response, json_response, pod, shape_item,
)

bp = Blueprint("fusion_reference", __name__)
ROOT = "/<any(fscmRestApi, crmRestApi):api>/resources"
FSCM = "/fscmRestApi/resources/<version>"
ALLOWED_FRAMEWORK_VERSIONS = [str(v) for v in range(1, 10)]


# --- context root --------------------------------------------------------------------------------
@bp.get(ROOT)
@bp.get(ROOT + "/")
@bp.get(ROOT + "/latest")
def context_root(api):
    href = f"{request.host_url.rstrip('/')}/{api}/resources/{VERSION}"
    body = {"items": [{
        "version": VERSION, "isLatest": True,
        "adf:extension": {
            "defaultFrameworkVersion": str(pod().settings.default_framework_version),
            "allowedFrameworkVersions": ALLOWED_FRAMEWORK_VERSIONS},
        "links": [{"rel": "canonical", "href": href, "name": VERSION, "kind": "collection"}],
    }]}
    return json_response(body, mimetype=COLLECTION_TYPE)


# --- read-only look-ups ---------------------------------------------------------------------------
def _register(spec: ResourceSpec, rows: Callable[[], list[dict]]) -> None:
    """Collection, describe and item GETs of a read-only resource over flat ``rows``."""
    prefix = f"/{spec.api}/resources/<version>/{spec.name}"

    def render(row: dict, shape, fw: int) -> dict:
        return shape_item(spec, row, {}, shape, row[spec.key], change_indicator(1), fw)

    def get(key: str) -> dict:
        found = next((r for r in rows() if str(r[spec.key]) == key), None)
        if found is None:
            raise not_found(f"The {spec.name} item {key} doesn't exist.")
        return found

    def list_view(version):
        check_version(version)
        return collection_response(spec, {}, rows, lambda row: row, render)

    def describe_view(version):
        check_version(version)
        return describe(spec, {})

    def item_view(version, key):
        check_version(version)
        return item_response(spec, {}, lambda: get(key), render)

    bp.add_url_rule(prefix, f"{spec.name}_list", list_view, methods=["GET"])
    bp.add_url_rule(prefix + "/describe", f"{spec.name}_describe", describe_view, methods=["GET"])
    bp.add_url_rule(prefix + "/<key>", f"{spec.name}_item", item_view, methods=["GET"])


SET_SPEC = ResourceSpec(
    name="setIdSets", api="fscmRestApi", key="SetId",
    attributes={"SetId": NUM, "SetCode": STR, "SetName": STR},
    queryable={"SetId", "SetCode", "SetName"}, finders={})

SITE_ATTRS = {
    "SiteUseId": NUM, "SiteUseCode": STR, "PrimaryFlag": STR, "Location": STR,
    "CustomerAccountId": NUM, "AccountNumber": STR, "AccountName": STR, "PartyId": NUM,
    "PartyName": STR, "PartyNumber": STR, "CustomerAccountSiteId": NUM, "PartySiteId": NUM,
    "PartySiteNumber": STR, "SetId": NUM, "SetCode": STR, "Status": STR, "Address1": STR,
    "City": STR, "State": STR, "PostalCode": STR, "Country": STR,
}
SITE_SPEC = ResourceSpec(
    name="customerAccountSitesLOV", api="fscmRestApi", key="SiteUseId", attributes=SITE_ATTRS,
    queryable=set(SITE_ATTRS), finders={})


def _site_rows() -> list[dict]:
    """One row per account site use (BILL_TO only unless the setting lists every use)."""
    p = pod()
    store, bill_to_only = p.store, p.settings.account_sites_lov_bill_to_only
    out = []
    for account in store.accounts.values():
        party = store.parties.get(account["PartyId"], {})
        for site in account["sites"]:
            address = store.party_sites.get(site["PartySiteId"], {})
            for use in site["CustomerAccountSiteUse"]:
                if bill_to_only and use["SiteUseCode"] != "BILL_TO":
                    continue
                out.append({
                    "SiteUseId": use["SiteUseId"], "SiteUseCode": use["SiteUseCode"],
                    "PrimaryFlag": "Y" if use["PrimaryFlag"] == "true" else "N",
                    "Location": use["Location"], "CustomerAccountId": account["CustomerAccountId"],
                    "AccountNumber": account["AccountNumber"], "AccountName": account["AccountName"],
                    "PartyId": account["PartyId"], "PartyName": party.get("PartyName"),
                    "PartyNumber": party.get("PartyNumber"),
                    "CustomerAccountSiteId": site["CustomerAccountSiteId"],
                    "PartySiteId": site["PartySiteId"], "PartySiteNumber": site["SiteNumber"],
                    "SetId": site["SetId"], "SetCode": site["SetCode"], "Status": use["Status"],
                    **{a: address.get(a) for a in ("Address1", "City", "State", "PostalCode", "Country")},
                })
    return out


_register(SET_SPEC, lambda: pod().seed.reference_set_rows())
_register(SITE_SPEC, _site_rows)
