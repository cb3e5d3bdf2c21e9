"""``customers/merge`` through the real stack: Shopify merges two customers; an order of the
merged-away customer that reaches the connector afterwards bills the survivor, while what was
booked before the merge stays where it is (its refund still credits its own invoice)."""
from __future__ import annotations

from decimal import Decimal

from connector.models import InboxState
from tests.factories import new_order
from tests.integration.test_refunds import line_refund
from tests.support import eventually, invoice_of, synced


def two_customers_with_invoices(shop, **order):
    """(merged-away customer's first order, survivor's first order), each invoiced."""
    gone, kept = shop.place_order(dict(new_order(), **order)), shop.place_order(dict(new_order(), **order))
    for placed in (gone, kept):
        shop.wait_invoiced(placed)
    return gone, kept


def merged(shop, gone_id, kept_id) -> dict:
    """Shopify merges ``gone_id`` into ``kept_id`` (the sandbox keeps customer two); the connector has it."""
    answer = shop.merge_customers(gone_id, kept_id)
    assert answer["admin_graphql_api_customer_kept_id"].endswith(f"/{kept_id}")
    [row] = eventually(lambda: shop.audit("customer.merged"), timeout=45)
    return row


def test_given_a_merge_then_a_late_order_of_the_merged_away_customer_bills_the_survivor(shop):
    gone, kept = two_customers_with_invoices(shop)
    merged_away, survivor = synced(shop, gone["customer"]["id"]), synced(shop, kept["customer"]["id"])
    late = shop.place_order(new_order(email=gone["email"]), deliver=False)   # its webhook comes late
    assert late["customer"]["id"] == gone["customer"]["id"]

    row = merged(shop, gone["customer"]["id"], kept["customer"]["id"])
    shop.deliver("orders/create", late)

    assert invoice_of(shop, late)["BillToCustomerNumber"] == survivor.fusion_number
    assert invoice_of(shop, gone)["BillToCustomerNumber"] == merged_away.fusion_number   # booked: stays
    assert row.subject_id == str(gone["customer"]["id"])
    assert (row.detail["merged"], row.detail["surviving"]) == (gone["customer"]["admin_graphql_api_id"],
                                                               kept["customer"]["admin_graphql_api_id"])
    assert (row.detail["merged_account"], row.detail["surviving_account"]) == (merged_away.fusion_number,
                                                                               survivor.fusion_number)


def test_given_a_merge_then_a_refund_of_an_order_booked_before_it_credits_the_original_invoice(shop):
    gone, kept = two_customers_with_invoices(shop, financial_status="paid")
    merged_away = synced(shop, gone["customer"]["id"])
    merged(shop, gone["customer"]["id"], kept["customer"]["id"])

    shop.act(f"orders/{gone['id']}/refunds", line_refund(gone))

    assert eventually(lambda: shop.holds(gone) and len(shop.fusion_credit_memos(gone)) == 1, timeout=90), \
        shop.invariants(gone)
    [memo] = shop.fusion_credit_memos(gone)   # on the invoice's own account, numbered after it
    assert memo["BillToCustomerNumber"] == merged_away.fusion_number
    assert Decimal(str(memo["EnteredAmount"])) == Decimal("-24.30")
    assert shop.fusion_balance(gone) == Decimal("0")


def test_given_a_merge_body_shopify_does_not_confirm_then_it_parks_and_nothing_moves(shop):
    gone, kept = two_customers_with_invoices(shop)
    body = {"admin_graphql_api_customer_kept_id": kept["customer"]["admin_graphql_api_id"],
            "admin_graphql_api_customer_deleted_id": gone["customer"]["admin_graphql_api_id"],
            "admin_graphql_api_job_id": "gid://shopify/Job/1", "status": "completed", "errors": []}

    assert shop.deliver("customers/merge", body).status_code == 200   # both customers still exist

    parked = eventually(lambda: next((e for e in shop.inbox() if e.topic == "customers/merge"
                                      and e.state == InboxState.parked), None), timeout=45)
    assert parked is not None and "still has customer" in parked.last_error
    assert shop.audit("customer.merged") == []
    again = shop.place_order(new_order(email=gone["email"]))
    assert invoice_of(shop, again)["BillToCustomerNumber"] == synced(shop, gone["customer"]["id"]).fusion_number
