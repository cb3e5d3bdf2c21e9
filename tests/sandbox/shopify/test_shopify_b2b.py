"""B2B: companies with locations, and orders placed by a purchasing company with payment terms and
a PO number, in webhooks (REST) and in Admin GraphQL."""
from __future__ import annotations

from sandbox.shopify import jsonio
from tests.factories import b2b_company, b2b_order

B2B_QUERY = """
query B2B($id: ID!) {
  order(id: $id) {
    poNumber
    paymentTerms { paymentTermsName paymentTermsType dueInDays paymentSchedules(first: 1) { nodes { dueAt } } }
    purchasingEntity {
      __typename
      ... on PurchasingCompany { company { id name } location { id name } contact { id customer { id } } }
      ... on Customer { id }
    }
  }
}
"""
LOCATION_QUERY = """
query Location($id: ID!) {
  companyLocation(id: $id) {
    id name externalId
    billingAddress { address1 address2 city zoneCode countryCode zip companyName }
    company { id name externalId }
  }
}
"""


def test_a_b2b_order_carries_its_company_terms_and_po_in_its_webhook(sandbox, shop, receiver):
    # given a company with two locations
    company = sandbox.post(f"/_sandbox/shops/{shop}/companies", b2b_company(locations=2)).json()
    # when its contact orders for the second location on Net 60 with a PO number
    created = sandbox.post(f"/_sandbox/shops/{shop}/orders",
                           b2b_order(company, 1, terms={"payment_terms_type": "NET", "due_in_days": 60}))
    assert created.status_code == 201, created.text
    sandbox.wait_idle()
    # then orders/create names the company and location, the terms and the PO number
    body = jsonio.loads(receiver.webhooks("orders/create")[0]["body"])
    second = company["locations"][1]
    assert body["company"] == {"id": company["id"], "location_id": second["id"]}
    assert body["po_number"] == "PO-4471"
    terms = body["payment_terms"]
    assert (terms["payment_terms_name"], terms["payment_terms_type"], terms["due_in_days"]) == ("Net 60", "net", 60)
    assert terms["payment_schedules"][0]["amount"] == body["total_price"]
    # and the order is billed at the location's billing address, bought by the company's contact
    assert body["billing_address"]["address1"] == "101 Commerce Way"
    assert body["customer"]["id"] == company["contacts"][0]["customer_id"]


def test_graphql_shows_the_purchasing_company_and_the_location_billing_address(sandbox, shop):
    # given a B2B order on Net 30
    company = sandbox.post(f"/_sandbox/shops/{shop}/companies?deliver=false", b2b_company()).json()
    order = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", b2b_order(company)).json()
    token = sandbox.token(shop)
    # when the order and its location are read over GraphQL
    data = sandbox.graphql(shop, token, B2B_QUERY, {"id": order["admin_graphql_api_id"]}).json()
    location_gid = company["locations"][0]["admin_graphql_api_id"]
    place = sandbox.graphql(shop, token, LOCATION_QUERY, {"id": location_gid}).json()
    # then both answer what the webhook said, in GraphQL's types
    assert "errors" not in data and "errors" not in place, (data, place)
    seen = data["data"]["order"]
    assert seen["poNumber"] == "PO-4471"
    assert seen["paymentTerms"]["paymentTermsName"] == "Net 30" and seen["paymentTerms"]["paymentTermsType"] == "NET"
    assert seen["paymentTerms"]["dueInDays"] == 30 and seen["paymentTerms"]["paymentSchedules"]["nodes"][0]["dueAt"]
    entity = seen["purchasingEntity"]
    assert entity["__typename"] == "PurchasingCompany"
    assert entity["company"]["id"] == company["admin_graphql_api_id"] and entity["location"]["id"] == location_gid
    location = place["data"]["companyLocation"]
    assert location["billingAddress"]["address1"] == "100 Commerce Way"
    assert location["billingAddress"]["zoneCode"] == "TX" and location["company"]["name"] == company["name"]


def test_an_order_without_a_company_has_its_customer_as_purchasing_entity(sandbox, shop):
    from tests.factories import reference_order
    order = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", reference_order()).json()
    data = sandbox.graphql(shop, sandbox.token(shop), B2B_QUERY, {"id": order["admin_graphql_api_id"]}).json()
    seen = data["data"]["order"]
    assert seen["purchasingEntity"]["__typename"] == "Customer" and seen["paymentTerms"] is None
    assert "company" not in order


def test_an_unknown_location_or_template_is_refused(sandbox, shop):
    company = sandbox.post(f"/_sandbox/shops/{shop}/companies?deliver=false", b2b_company()).json()
    wrong_place = b2b_order(company)
    wrong_place["company"]["location_id"] = 1
    assert sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", wrong_place).status_code == 422
    odd_terms = b2b_order(company, terms={"payment_terms_name": "Net 31"})
    r = sandbox.post(f"/_sandbox/shops/{shop}/orders?deliver=false", odd_terms)
    assert r.status_code == 422 and "Net 31" in r.text
