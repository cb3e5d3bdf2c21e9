"""A Shopify order becomes exactly one Fusion receivables invoice, whatever the delivery does.

Everything is real: the Shopify sandbox signs and sends webhooks over HTTP to the receiver under
gunicorn, Celery workers process them through Redis, and the Fusion sandbox is read over REST.
"""
from __future__ import annotations

import copy
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests

from connector.models import BindingState, InboxState
from tests.factories import new_order
from tests.support import eventually


def settled_invoices(shop, order, count=1):
    return eventually(lambda: len(found := shop.fusion_invoices(order)) >= count and found, timeout=45)


def test_given_new_order_when_shopify_sends_its_webhooks_then_one_invoice_with_shopify_total(shop):
    order = shop.place_order(new_order())

    invoices = settled_invoices(shop, order)

    assert len(invoices) == 1
    invoice = invoices[0]
    assert Decimal(str(invoice["EnteredAmount"])) == Decimal("66.74")
    assert invoice["TransactionNumber"] == f"{shop.prefix}-{order['order_number']}"
    assert invoice["CrossReference"] == order["admin_graphql_api_id"]
    assert invoice["InvoiceCurrencyCode"] == "USD"
    binding = eventually(lambda: (b := shop.binding("order", order["id"])) and b.state == BindingState.synced and b)
    assert binding.fusion_id == str(invoice["CustomerTransactionId"])
    customer = shop.binding("customer", order["customer"]["id"])
    assert customer.state == BindingState.synced and invoice["BillToCustomerNumber"] == customer.fusion_number
    assert shop.audit("invoice.created")[0].subject_id == str(order["id"])


def test_given_same_webhook_posted_ten_times_concurrently_then_one_inbox_row_and_one_invoice(shop):
    order = shop.place_order(new_order(), deliver=False)
    body = json.dumps(order).encode()
    event_id = str(uuid.uuid4())

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: shop.deliver("orders/create", body, event_id=event_id), range(10)))

    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.json()["status"] for r in responses) == ["accepted"] + ["duplicate"] * 9
    assert settled_invoices(shop, order)
    assert len(shop.inbox()) == 1
    assert eventually(lambda: shop.inbox()[0].state == InboxState.done)
    assert len(shop.fusion_invoices(order)) == 1


def test_given_different_events_for_one_order_racing_then_still_one_invoice(shop):
    order = shop.place_order(new_order(), deliver=False)
    topics = ["orders/create", "orders/updated", "orders/updated", "orders/create", "orders/updated"] * 2
    # ten events, so ten bodies: a body already stored for the topic is a duplicate whatever its headers
    bodies = [json.dumps(dict(order, note=f"event {n}")).encode() for n in range(len(topics))]

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda pair: shop.deliver(*pair), zip(topics, bodies)))

    assert all(r.status_code == 200 for r in responses)
    assert eventually(lambda: all(e.state == InboxState.done for e in shop.inbox()) and len(shop.inbox()) == 10)
    assert len(shop.fusion_invoices(order)) == 1


def test_given_bad_signature_then_401_and_nothing_stored(shop):
    order = shop.place_order(new_order(), deliver=False)

    wrong_secret = shop.deliver("orders/create", order, secret="not-the-app-secret")
    no_signature = shop.deliver("orders/create", order, signature="")

    assert (wrong_secret.status_code, no_signature.status_code) == (401, 401)
    assert shop.inbox() == []


def test_given_unknown_shop_then_401(shop):
    response = requests.post(f"{shop.stack.urls['receiver']}/webhooks/shopify", data=b"{}", timeout=10,
                             headers={"X-Shopify-Shop-Domain": "nobody.myshopify.com",
                                      "X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": "x"})
    assert response.status_code == 401


def test_given_signed_malformed_json_then_400_recorded_and_not_processed(shop):
    response = shop.deliver("orders/create", b'{"id": 1, "line_items": [')

    assert response.status_code == 400
    assert shop.inbox() == []
    assert "not JSON" in shop.audit("webhook.malformed")[0].detail["reason"]


def test_given_invoiced_order_when_only_its_current_total_moves_then_no_second_invoice_and_no_adjustment(shop):
    """A refund moves current_total_price, not total_price: its credit memo comes with refunds/create,
    so the order event that accompanies it must not book the same money as an edit."""
    order = shop.place_order(new_order())
    assert settled_invoices(shop, order)
    edited = copy.deepcopy(order)
    edited["updated_at"] = "2099-01-01T00:00:00Z"
    edited["current_total_price"] = "40.00"
    edited["current_total_price_set"] = {"shop_money": {"amount": "40.00", "currency_code": "USD"},
                                         "presentment_money": {"amount": "40.00", "currency_code": "USD"}}

    assert shop.deliver("orders/updated", edited).status_code == 200

    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/updated"
                                     and e.state != InboxState.received), None))
    assert event.state == InboxState.done, event.last_error
    assert len(shop.fusion_invoices(order)) == 1
    assert shop.fusion_credit_memos(order) == [] and shop.fusion_debit_memos(order) == []


def test_given_out_of_order_update_arriving_before_create_then_one_invoice(shop):
    order = shop.place_order(new_order(), deliver=False)

    assert shop.deliver("orders/updated", order).status_code == 200
    assert settled_invoices(shop, order)
    assert shop.deliver("orders/create", order).status_code == 200

    assert eventually(lambda: len(shop.inbox()) == 2 and all(e.state == InboxState.done for e in shop.inbox()))
    assert len(shop.fusion_invoices(order)) == 1
