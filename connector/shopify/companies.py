"""A B2B company location read over Admin GraphQL: what its Fusion account is made from.

An order webhook names its company and location by id only (``company: {id, location_id}``), so
the first order of a location reads the location's name, billing address and company once
(about 4 points); its account is bound afterwards and later orders read nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

from connector.shopify.client import ShopifyClient

LOCATION_QUERY = """
query CompanyLocationForBilling($id: ID!) {
  companyLocation(id: $id) {
    id name externalId
    billingAddress { address1 address2 city province zoneCode country countryCode zip companyName }
    company { id name externalId }
  }
}"""


@dataclass(frozen=True)
class CompanyLocation:
    gid: str
    name: str
    company_gid: str
    company_name: str
    billing_address: dict | None    # REST-style (address1, city, province_code, country_code, zip, company)


def read_location(client: ShopifyClient, location_gid: str) -> CompanyLocation | None:
    """The location, or None when the shop no longer has it."""
    node = client.graphql(LOCATION_QUERY, {"id": location_gid})["companyLocation"]
    if node is None:
        return None
    company = node.get("company") or {}
    return CompanyLocation(gid=node["id"], name=node.get("name") or "", company_gid=company.get("id") or "",
                           company_name=company.get("name") or "", billing_address=_address(node.get("billingAddress")))


def _address(node: dict | None) -> dict | None:
    if not node:
        return None
    return {"address1": node.get("address1"), "address2": node.get("address2"), "city": node.get("city"),
            "province": node.get("province"), "province_code": node.get("zoneCode"), "country": node.get("country"),
            "country_code": node.get("countryCode"), "zip": node.get("zip"), "company": node.get("companyName")}
