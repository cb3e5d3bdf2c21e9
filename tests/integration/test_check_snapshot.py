"""``cli.check.Snapshot`` (a shop's Fusion documents read once, in pages, for runs of thousands of
orders) checks each order exactly as the live reads, one query per document, do."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import requests

from cli.check import Snapshot, check_order, shopify_order
from connector.config import load_settings
from connector.db import session_scope
from connector.fusion.client import FusionClient
from connector.services.context import Services
from tests.factories import new_order
from tests.integration.test_fusion_poll import RECEIPTS
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


def test_a_snapshot_of_a_window_reads_none_of_the_older_documents_and_checks_its_orders_alike(shop, fusion):
    # given a paid order booked today, and an old receipt of the shop's numbering in Fusion
    order = shop.place_order(dict(new_order(), financial_status="paid"))
    assert eventually(lambda: shop.holds(order), timeout=60), shop.invariants(order)
    [invoice] = shop.fusion_invoices(order)
    old = requests.post(f"{fusion.url}{RECEIPTS}", timeout=10, json={
        "ReceiptNumber": f"{shop.prefix}-OLD{uuid.uuid4().hex[:6]}", "ReceiptDate": "2020-01-15",
        "BusinessUnit": "US1 Business Unit", "ReceiptMethod": "Manual", "Amount": "5.00",
        "Currency": invoice["InvoiceCurrencyCode"], "CustomerAccountNumber": invoice["BillToCustomerNumber"]},
        headers={"Authorization": f"Bearer {fusion.token()}", "REST-Framework-Version": "4"})
    assert old.status_code == 201, old.text

    # when the shop's documents are read for a window starting today, and whole
    services = Services(load_settings())
    with session_scope(services.settings.database_url) as session:
        client = FusionClient(services.fusion_connection(session), allow_http=True)
    today = datetime.now(timezone.utc).date()
    window, whole = Snapshot(client, shop.prefix, since=today), Snapshot(client, shop.prefix)

    # then the window's read skipped the old receipt, which the whole read holds
    assert old.json()["ReceiptNumber"] in whole.by_receipt_number
    assert old.json()["ReceiptNumber"] not in window.by_receipt_number
    assert len(window.invoices(order["admin_graphql_api_id"])) == 1
    # and the order checks the same from both
    now, transactions = shopify_order(shop.stack.urls["shopify_sandbox"], shop.domain, order["id"])
    assert check_order(window, shop.prefix, now, transactions).as_json() == \
        check_order(whole, shop.prefix, now, transactions).as_json()
    assert check_order(window, shop.prefix, now, transactions).ok
