"""Fusion misbehaving, a crashed receiver, a refused document: nothing is duplicated or lost."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connector.config import load_settings
from connector.db import session_scope
from connector.models import BindingState, InboxState
from connector.services import inbox
from connector.services.context import Services
from connector.services.shop_keys import WebhookKeys
from connector.shopify.webhooks import sign
from tests.factories import new_order
from tests.support import eventually

pytestmark = pytest.mark.long_running  # scheduled first (tests/conftest.py)

INVOICES = "/fscmRestApi/resources/11.13.18.05/receivablesInvoices"


def synced(shop, order):
    return eventually(lambda: (b := shop.binding("order", order["id"])) is not None
                      and b.state == BindingState.synced and b, timeout=45)


def test_given_fusion_commits_but_the_answer_is_lost_then_the_invoice_is_adopted_not_duplicated(shop, fusion):
    fusion.fault(kind="lost_response", count=1, methods=["POST"], path_prefix=INVOICES)

    order = shop.place_order(new_order())

    assert synced(shop, order)
    invoices = shop.fusion_invoices(order)
    assert len(invoices) == 1 and Decimal(str(invoices[0]["EnteredAmount"])) == Decimal("66.74")
    assert [a.subject_id for a in shop.audit("invoice.adopted")] == [str(order["id"])]


def test_given_fusion_answers_too_late_then_still_one_invoice(shop, fusion):
    # the sandbox commits, then holds the answer past the connector's 3 s read timeout
    fusion.fault(kind="timeout", count=1, methods=["POST"], path_prefix=INVOICES, sleep_ms=5000)

    order = shop.place_order(new_order())

    assert synced(shop, order)
    assert len(shop.fusion_invoices(order)) == 1


def test_given_fusion_unavailable_for_a_while_then_retried_until_invoiced(shop, fusion):
    fusion.fault(kind="503", count=3, methods=["POST"], path_prefix=INVOICES, retry_after=1)

    order = shop.place_order(new_order())

    assert synced(shop, order)
    assert len(shop.fusion_invoices(order)) == 1
    # the invoice is bound before its event is finished (the order's payments come next)
    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.state == InboxState.done), None))
    assert event is not None and event.attempts >= 2


def test_given_fusion_rejects_the_invoice_then_parked_with_its_message_and_replay_after_fix_posts_it(shop, fusion):
    first = shop.place_order(new_order())
    customer = synced(shop, first) and shop.binding("customer", first["customer"]["id"])
    # Someone keyed an invoice by hand with the number the next order will get.
    taken = fusion.post_invoice({
        "BusinessUnit": "US1 Business Unit", "TransactionSource": "SHOPIFY", "TransactionType": "Shopify Invoice",
        "TransactionNumber": f"{shop.prefix}-{first['order_number'] + 1}", "BillToCustomerNumber": customer.fusion_number,
        "receivablesInvoiceLines": [{"LineNumber": 1, "Description": "manual", "Quantity": 1,
                                     "UnitSellingPrice": 1, "MemoLine": "Merchandise"}]})
    assert taken.status_code == 201, taken.text

    order = shop.place_order(new_order())

    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.resource_id == str(order["id"]) and e.state == InboxState.parked), None))
    assert event is not None
    binding = shop.binding("order", order["id"])
    assert binding.state == BindingState.parked and "already exists" in binding.last_error
    assert event.last_error.startswith("FusionRejected:")

    # The operator gives the shop a new prefix and replays, the way another app would: by task name.
    shop.configure(shop.prefix[:-1] + "Z")
    from workers.app import app
    app.send_task("mlc.inbox.replay", args=[event.id])

    assert synced(shop, order)
    invoices = shop.fusion_invoices(order)
    assert [i["TransactionNumber"] for i in invoices] == [f"{shop.prefix}-{order['order_number']}"]


def test_given_receiver_died_after_storing_the_webhook_then_the_sweeper_sends_it(shop):
    order = shop.place_order(new_order(), deliver=False)
    import json
    body = json.dumps(order).encode()
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:  # stored, never enqueued
        inbox.accept(session, WebhookKeys(services.vault, ttl_seconds=0), inbox.Delivery(
            shop_domain=shop.domain, topic="orders/create", event_id="crash-1", webhook_id="w",
            api_version="2026-01", triggered_at=datetime.now(timezone.utc).isoformat(),
            signature=sign(shop.secret, body), raw_body=body))

    assert synced(shop, order)
    assert len(shop.fusion_invoices(order)) == 1


def test_given_worker_killed_while_fusion_holds_the_invoice_post_then_redelivered_and_one_invoice(shop, fusion, stack):
    # Fusion commits the invoice, then holds its answer; the worker dies while waiting for it.
    fusion.fault(kind="timeout", count=1, methods=["POST"], path_prefix=INVOICES, sleep_ms=5000)
    order = shop.place_order(new_order())
    # killed once Fusion holds the invoice (the claim alone comes before the POST: a kill then
    # leaves nothing to adopt, and on a busy machine that happened)
    assert eventually(lambda: shop.fusion_invoices(order), interval=0.05)
    assert shop.binding("order", order["id"]).state == BindingState.creating

    stack.kill_worker("invoices")

    # the killed attempt's inbox lease (MLC_TASK_TIME_LIMIT) runs out, the sweeper sends it again
    assert eventually(lambda: (b := shop.binding("order", order["id"])) is not None
                      and b.state == BindingState.synced, timeout=120)
    assert len(shop.fusion_invoices(order)) == 1
    assert [a.subject_id for a in shop.audit("invoice.adopted")] == [str(order["id"])]
