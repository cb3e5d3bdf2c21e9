"""A shop that re-reads from the Admin API: only what Shopify really holds becomes a document."""
from __future__ import annotations

import copy
from decimal import Decimal

from connector.models import InboxState
from tests.factories import new_order
from tests.integration.test_fusion_poll import ml_connector
from tests.support import eventually


def rereading(shop) -> None:
    """The merchant turns it on, as the README says."""
    said = ml_connector("shops", "set", shop.domain, "--reread-from-admin")
    assert "read again from the Admin API" in said


def settled(shop, topic: str):
    events = [e for e in shop.inbox() if e.topic == topic]
    return events if events and all(e.state != InboxState.received for e in events) else None


def test_given_a_signed_body_whose_order_shopify_does_not_hold_then_parked_and_nothing_in_fusion(shop):
    rereading(shop)
    real = shop.place_order(new_order(), deliver=False)
    forged = copy.deepcopy(real)
    forged["id"] = real["id"] + 424242
    forged["admin_graphql_api_id"] = f"gid://shopify/Order/{forged['id']}"

    assert shop.deliver("orders/create", forged).status_code == 200

    assert eventually(lambda: settled(shop, "orders/create"), timeout=60)
    [event] = settled(shop, "orders/create")
    assert event.state == InboxState.parked and "has no gid://shopify/Order/" in event.last_error
    assert shop.fusion_invoices(forged) == []


def test_given_a_stale_body_then_the_invoice_is_the_order_as_shopify_holds_it(shop):
    rereading(shop)
    order = shop.place_order(new_order(), deliver=False)
    stale = copy.deepcopy(order)
    stale["line_items"][0]["price"] = "1.00"            # what a tampered or outdated body says
    stale["total_price"] = stale["total_price_set"]["shop_money"]["amount"] = "1.08"

    assert shop.deliver("orders/create", stale).status_code == 200

    shop.wait_invoiced(order)
    [invoice] = shop.fusion_invoices(order)
    assert Decimal(str(invoice["EnteredAmount"])) == Decimal(order["total_price"])


def test_given_the_option_off_then_the_body_is_acted_on_as_delivered(shop):
    order = shop.place_order(new_order(), deliver=False)
    forged = dict(copy.deepcopy(order), id=order["id"] + 515151,
                  admin_graphql_api_id=f"gid://shopify/Order/{order['id'] + 515151}")

    assert shop.deliver("orders/create", forged).status_code == 200

    assert eventually(lambda: shop.fusion_invoices(forged), timeout=60)
