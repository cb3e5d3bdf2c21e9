"""``cli.check.Snapshot`` (a shop's Fusion documents read once, in pages, for runs of thousands of
orders) checks each order exactly as the live reads, one query per document, do."""
from __future__ import annotations

from cli.check import Snapshot, check_order, shopify_order
from connector.config import load_settings
from connector.db import session_scope
from connector.fusion.client import FusionClient
from connector.services.context import Services
from tests.factories import new_order
from tests.support import eventually


def test_a_snapshot_of_the_shops_documents_checks_orders_as_the_live_reads_do(shop):
    # given a paid order with a refund of one item and the shipping, and an unpaid order
    paid = shop.place_order(dict(new_order(), financial_status="paid"))
    unpaid = shop.place_order(new_order())
    for order in (paid, unpaid):
        shop.wait_invoiced(order)
    shop.act(f"orders/{paid['id']}/refunds", {
        "refund_line_items": [{"line_item_id": paid["line_items"][0]["id"], "quantity": 1, "restock_type": "return"}],
        "shipping": {"full_refund": True}})
    assert eventually(lambda: shop.holds(paid) and len(shop.fusion_credit_memos(paid)) == 1, timeout=90), \
        shop.invariants(paid)

    # when both orders are checked from a snapshot of the shop's documents and live
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        fusion = FusionClient(services.fusion_connection(session), allow_http=True)
    snapshot = Snapshot(fusion, shop.prefix)

    # then the two readings agree to the last field: the invoice, the memo, the receipt, the balance
    for order in (paid, unpaid):
        now, transactions = shopify_order(shop.stack.urls["shopify_sandbox"], shop.domain, order["id"])
        from_snapshot = check_order(snapshot, shop.prefix, now, transactions)
        assert from_snapshot.as_json() == check_order(fusion, shop.prefix, now, transactions).as_json()
        assert from_snapshot.ok and from_snapshot.invoices == 1
    assert len(check_order(snapshot, shop.prefix, *shopify_order(shop.stack.urls["shopify_sandbox"], shop.domain,
                                                                 paid["id"])).credit_memos) == 1
