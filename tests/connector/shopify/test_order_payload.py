"""An order read back over GraphQL, in its webhook's REST shape, is what its webhook carried: the
same invoice to the cent, the same customer, the same refunds; against a Shopify sandbox over HTTP."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from graphql import parse, validate

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import load_mapping
from connector.mapping.credit_memo import (
    discrepancies,
    order_discrepancy,
    refunded_charges,
)
from connector.mapping.invoice import build_invoice, shop_amount
from connector.services.customers import from_order
from connector.shopify import bulk, order_payload, search
from sandbox.shopify.cost import CostCalculator
from sandbox.shopify.graphql_api import get_schema
from tests.connector.shopify.test_orders import Shop as OrdersShop
from tests.factories import reference_order

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)


class Shop(OrdersShop):
    """A sandbox shop whose webhooks are all lost (``?deliver=false``), as client and merchant."""

    def webhook_body(self, order_id) -> dict:
        """The order as its next ``orders/updated`` webhook carries it (the REST view)."""
        response = self.sandbox.get(f"/_sandbox/shops/{self.domain}/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def both(self, order: dict) -> tuple[dict, dict]:
        """(the webhook's body, the same order read over GraphQL and converted)."""
        converted = order_payload.read_order(self.client, order["admin_graphql_api_id"])
        return self.webhook_body(order["id"]), converted


def invoice(order: dict) -> dict:
    return build_invoice(order, mapping=MAPPING, prefix="RC", bill_to_account="1001")


def totals(order: dict) -> dict:
    return {key: shop_amount(order, key) for key in ("total_price", "subtotal_price", "total_tax", "current_total_price",
                                                     "current_total_tax", "total_outstanding", "total_tip_received")}


@pytest.mark.parametrize("currency, taxes_included", [("USD", False), ("EUR", True), ("JPY", False)])
def test_given_generated_orders_when_read_over_graphql_then_each_gives_the_webhooks_invoice_to_the_cent(
        shopify_sandbox, currency, taxes_included):
    # given realistic orders (discounts, free shipping, gift cards, tips) whose webhooks were lost
    shop = Shop(shopify_sandbox, currency, taxes_included)
    placed = shop.post("/orders/generate", {"count": 12, "seed": 11})["orders"]

    for order in placed:
        # when each is read back over GraphQL in its webhook's shape
        webhook, converted = shop.both(order)

        # then its invoice, its totals and its customer are the webhook's, to the cent
        assert invoice(converted) == invoice(webhook), order["name"]
        assert totals(converted) == totals(webhook)
        assert from_order(converted, shop.domain) == from_order(webhook, shop.domain)
        assert (converted["id"], converted["admin_graphql_api_id"], converted["updated_at"]) == \
               (webhook["id"], webhook["admin_graphql_api_id"], webhook["updated_at"])


@pytest.mark.parametrize("currency, taxes_included, zone", [("USD", False, "UTC"), ("EUR", True, "UTC"),
                                                          ("USD", False, "America/New_York")])
def test_given_generated_orders_when_a_bulk_listing_reads_them_whole_then_each_is_what_reading_it_gives(
        shopify_sandbox, currency, taxes_included, zone):
    # given realistic orders whose webhooks were lost, one of them refunded, in a shop of the zone
    shop = Shop(shopify_sandbox, currency, taxes_included, zone)
    placed = shop.post("/orders/generate", {"count": 12, "seed": 5})["orders"]
    refunded = placed[2]
    shop.post(f"/orders/{refunded['id']}/refunds", {"refund_line_items": [
        {"line_item_id": refunded["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}]})

    # when a backfill's bulk operation lists them, whole, in one JSONL file
    operation = bulk.start(shop.client, bulk.orders_created_since_query(date(2000, 1, 1)))
    done = bulk.wait(shop.client, operation.id, poll_seconds=0.05)
    listed = list(bulk.listed_orders(bulk.download(done.url)))

    # then each listed order is the order reading it gives, refunds included, and its invoice the
    # webhook's to the cent
    assert [o.id for o in listed] == sorted(str(o["id"]) for o in placed)
    for entry in listed:
        rebuilt = order_payload.order_from_listing(shop.client, entry.whole)
        read = order_payload.read_order(shop.client, entry.gid)
        assert rebuilt == read, entry.id
        webhook = shop.webhook_body(entry.id)
        assert invoice(rebuilt) == invoice(webhook)
        assert stamps(rebuilt) == stamps(webhook)
    assert len(next(o for o in listed if o.id == str(refunded["id"])).refunds) == 1


def test_given_an_order_with_duties_fees_and_refunds_then_its_refunds_are_the_webhooks(shopify_sandbox):
    # given a paid order with a duty and a fee, refunded twice: goods with their duty and shipping,
    # then an amount kept back (a restocking fee) on the second
    shop = Shop(shopify_sandbox)
    posted = reference_order(customer=None, financial_status="paid")
    posted["line_items"] = [dict(li) for li in posted["line_items"]]
    posted["line_items"][0]["duties"] = [{"price": "5.00", "harmonized_system_code": "610910",
                                          "country_code_of_origin": "CN",
                                          "tax_lines": [{"title": "State Tax", "rate": "0.08"}]}]
    posted["additional_fees"] = [{"name": "Import handling", "price": "2.00"}]
    order = shop.post("/orders", posted)
    tee, mug = order["line_items"]
    shop.post(f"/orders/{order['id']}/refunds", {
        "refund_line_items": [{"line_item_id": tee["id"], "quantity": 1, "restock_type": "return"}],
        "refund_duties": [{"duty_id": tee["duties"][0]["id"], "refund_type": "PROPORTIONAL"}],
        "shipping": {"full_refund": True}})
    shop.post(f"/orders/{order['id']}/refunds", {
        "refund_line_items": [{"line_item_id": mug["id"], "quantity": 1, "restock_type": "return"}],
        "refund_additional_fees": [{"additional_fee_id": order["additional_fees"][0]["id"]}],
        "restocking_fee": "3.00"})

    # when the order is read back over GraphQL
    webhook, converted = shop.both(order)

    # then the order and each refund say what the webhooks said, to the cent
    assert invoice(converted) == invoice(webhook)
    assert totals(converted) == totals(webhook)
    assert order_discrepancy(converted) == order_discrepancy(webhook) != (Decimal(0), Decimal(0))
    assert len(converted["refunds"]) == len(webhook["refunds"]) == 2
    for mine, theirs in zip(converted["refunds"], webhook["refunds"]):
        assert refund_figures(mine) == refund_figures(theirs)
        alone = order_payload.read_refund(shop.client, theirs["admin_graphql_api_id"])
        assert refund_figures(alone) == refund_figures(theirs)  # as refunds/create carries it


def stamps(order: dict) -> dict:
    """The order's and its refunds' timestamps, as written (the offset included)."""
    return {"order": [order.get(k) for k in ("created_at", "processed_at", "updated_at", "cancelled_at")],
            "refunds": [(r["created_at"], r["processed_at"], [(t["created_at"], t["processed_at"])
                                                             for t in r["transactions"]]) for r in order["refunds"]]}


def test_given_a_new_york_order_at_2330_on_the_last_day_of_a_month_then_every_path_invoices_that_local_day(
        shopify_sandbox):
    # given a New York shop, and an order processed at 23:30 local on 31 January (04:30 UTC on
    # 1 February), refunded, whose webhooks were lost
    shop = Shop(shopify_sandbox, iana_timezone="America/New_York")
    order = shop.post("/orders", reference_order(customer=None, financial_status="paid",
                                                 processed_at="2026-01-31T23:30:00-05:00"))
    shop.post(f"/orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": order["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}]})
    assert shop.client.graphql("{ shop { ianaTimezone } }")["shop"]["ianaTimezone"] == "America/New_York"

    # when it is read over GraphQL (reconciliation, a re-read) and by a bulk listing (a backfill)
    webhook, converted = shop.both(order)
    operation = bulk.start(shop.client, bulk.orders_created_since_query(date(2000, 1, 1)))
    done = bulk.wait(shop.client, operation.id, poll_seconds=0.05)
    listed = next(o for o in bulk.listed_orders(bulk.download(done.url)) if o.id == str(order["id"]))
    backfilled = order_payload.order_from_listing(shop.client, listed.whole)

    # then all three write the shop's local time, and the invoice is dated 31 January on every path
    assert webhook["processed_at"] == converted["processed_at"] == backfilled["processed_at"] \
        == "2026-01-31T23:30:00-05:00"
    assert stamps(converted) == stamps(backfilled) == stamps(webhook)
    assert invoice(webhook)["TransactionDate"] == invoice(converted)["TransactionDate"] \
        == invoice(backfilled)["TransactionDate"] == "2026-01-31"
    assert invoice(converted) == invoice(webhook)


def refund_figures(refund: dict) -> dict:
    """What the refund flow reads of a refund: ids, lines, shipping, charges, discrepancies, money."""
    return {
        "ids": (refund["id"], refund["admin_graphql_api_id"], refund["order_id"], refund["created_at"]),
        "lines": sorted((li["line_item_id"], li["quantity"], li["restock_type"], shop_amount(li, "subtotal"),
                         shop_amount(li, "total_tax")) for li in refund["refund_line_items"]),
        "shipping": sorted((s["shipping_line_id"], shop_amount(s, "subtotal_amount")) for s in
                           refund["refund_shipping_lines"]),
        "duties": sorted((d["duty_id"], shop_amount(d, "amount")) for d in refund["duties"]),
        "fees": sorted((f["additional_fee_id"], shop_amount(f, "amount")) for f in refund["additional_fees"]),
        "charges": refunded_charges(refund),
        "discrepancies": discrepancies(refund),
        "transactions": sorted((t["id"], t["kind"], t["status"], t["gateway"], Decimal(str(t["amount"])),
                                t["parent_id"]) for t in refund["transactions"]),
    }


def test_given_more_line_items_than_one_page_then_every_line_is_read(shopify_sandbox):
    # given an order of 23 different items (a page holds 20)
    shop = Shop(shopify_sandbox)
    posted = reference_order(customer=None)
    posted["line_items"] = [{"sku": f"SKU-{n}", "title": f"Item {n}", "quantity": 1 + n % 3, "price": f"{n + 1}.25",
                             "tax_lines": [{"title": "State Tax", "rate": "0.08"}]} for n in range(23)]
    order = shop.post("/orders", posted)

    # when it is read back
    webhook, converted = shop.both(order)

    # then all 23 lines are on its invoice, as on the webhook's
    assert len(converted["line_items"]) == 23
    assert invoice(converted) == invoice(webhook)


@pytest.mark.parametrize("query", [order_payload.ORDER_QUERY, order_payload.LINES_QUERY, order_payload.REFUND_QUERY,
                                   order_payload.CUSTOMER_QUERY, search.ORDERS_QUERY, search.CUSTOMERS_QUERY,
                                   search.PROCESSED_QUERY])
def test_given_each_reconciliation_query_then_it_asks_for_less_than_shopifys_single_query_limit(query):
    # priced as Shopify prices a query before running it (the sandbox's calculator, on Shopify's schema)
    document = parse(query)
    [operation] = document.definitions
    assert not validate(get_schema(), document)
    assert 0 < CostCalculator(get_schema()).requested(document, operation, {}) < 1000


def test_given_a_b2b_order_when_read_over_graphql_then_it_names_its_company_terms_and_po_as_its_webhook(
        shopify_sandbox):
    from tests.factories import b2b_company, b2b_order
    # given an order a company placed for its second location, on Net 60, with a PO number
    shop = Shop(shopify_sandbox)
    company = shop.post("/companies", b2b_company(locations=2))
    placed = shop.post("/orders", b2b_order(company, 1, terms={"payment_terms_name": "Net 60"}, po_number="PO-9"))
    # when it is read back over GraphQL in its webhook's shape
    webhook, converted = shop.both(placed)
    # then it names the same company and location, terms and PO number
    assert converted["company"] == webhook["company"] == {"id": company["id"],
                                                         "location_id": company["locations"][1]["id"]}
    assert converted["po_number"] == webhook["po_number"] == "PO-9"
    for key in ("payment_terms_name", "payment_terms_type", "due_in_days"):
        assert converted["payment_terms"][key] == webhook["payment_terms"][key]


def test_given_lines_with_product_types_when_read_over_graphql_then_they_carry_them_and_a_type_rule_applies(
        shopify_sandbox):
    import copy
    import tomllib

    from connector.mapping.config import parse_mapping
    from connector.mapping.invoice import MappingError
    # given an order whose tee is of type "T-Shirts" and whose mug is a custom item, and a rule for T-shirts
    shop = Shop(shopify_sandbox)
    posted = reference_order()
    posted["line_items"][0]["product_type"] = "T-Shirts"
    order = shop.post("/orders", posted)
    document = copy.deepcopy(tomllib.loads(DEFAULT_MAPPING_FILE.read_text()))
    document["gl"]["revenue_rules"] = [{"product_type": "t-shirts", "account": "101-10-41100-000-000"}]
    rules = parse_mapping(document)
    # when it is read back over GraphQL
    webhook, converted = shop.both(order)
    # then the converted lines carry their product types, as the webhook's do not
    assert [li["product_type"] for li in converted["line_items"]] == ["T-Shirts", ""]
    assert all("product_type" not in li for li in webhook["line_items"])
    # and the tee is booked on the rule's account, the mug on gl.revenue; the webhook's body parks
    built = build_invoice(converted, mapping=rules, prefix="RC", bill_to_account="1001")
    accounts = {d["InvoiceLineNumber"]: d["AccountCombination"] for d in built["receivablesInvoiceDistributions"]}
    assert [accounts[ln["LineNumber"]] for ln in built["receivablesInvoiceLines"] if ln["MemoLine"] == "Merchandise"] \
        == ["101-10-41100-000-000", rules.gl.revenue]
    with pytest.raises(MappingError, match="reread_from_admin"):
        build_invoice(webhook, mapping=rules, prefix="RC", bill_to_account="1001")
