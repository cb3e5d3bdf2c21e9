"""A company location read over Admin GraphQL: its name, company and billing address, in the
REST address shape the Fusion site is made from; against a Shopify sandbox over HTTP."""
from __future__ import annotations

from connector.shopify.companies import read_location
from tests.connector.shopify.test_order_payload import Shop
from tests.factories import b2b_company


def test_given_a_company_location_when_read_then_its_billing_address_and_company_come_back(shopify_sandbox):
    # given a company with two locations
    shop = Shop(shopify_sandbox)
    company = shop.post("/companies", b2b_company(name="Globex Trading", locations=2))
    second = company["locations"][1]
    # when the second location is read
    location = read_location(shop.client, second["admin_graphql_api_id"])
    # then it is the second location of that company, billed at its own address
    assert (location.gid, location.name) == (second["admin_graphql_api_id"], second["name"])
    assert (location.company_gid, location.company_name) == (company["admin_graphql_api_id"], "Globex Trading")
    assert location.billing_address["address1"] == "101 Commerce Way"
    assert (location.billing_address["province_code"], location.billing_address["country_code"]) == ("TX", "US")


def test_given_a_location_the_shop_does_not_have_then_nothing_comes_back(shopify_sandbox):
    shop = Shop(shopify_sandbox)
    assert read_location(shop.client, "gid://shopify/CompanyLocation/1") is None
