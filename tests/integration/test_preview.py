"""`ml-connector preview` shows the Fusion requests an order and a refund would make, sending none."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

from tests.factories import new_order
from tests.support import eventually


def preview(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "preview", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, COLUMNS="200"))


def test_given_a_paid_order_and_a_refund_then_the_invoice_receipt_and_memo_are_shown_and_nothing_is_sent(
        shop, tmp_path):
    order = shop.place_order(dict(new_order(), financial_status="paid"), deliver=False)
    refund = shop.act(f"orders/{order['id']}/refunds?deliver=false", {
        "refund_line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 1,
                               "restock_type": "return"}]})
    (tmp_path / "order.json").write_text(json.dumps(order))
    (tmp_path / "refund.json").write_text(json.dumps(refund))

    result = preview(str(tmp_path / "order.json"), "--shop", shop.domain, "--refund", str(tmp_path / "refund.json"))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"{shop.prefix}-{order['order_number']}" in out            # the invoice's number
    assert "receipt for gid://shopify/OrderTransaction/" in out and "66.74" in out
    assert "credit memo (line 22.50, tax 1.80)" in out
    assert f"{shop.prefix}-{order['order_number']}-C1" in out         # the memo's number in the envelope
    assert "createActivityApplication" in out                        # the refunded money leaves the receipt
    assert shop.fusion_invoices(order) == []                          # nothing was sent


def test_given_an_unknown_order_id_then_a_clear_error(stack):
    result = preview("--order", "gid://shopify/Order/1")

    assert result.returncode == 2
    assert "no order event for gid://shopify/Order/1 is stored" in result.stderr


def test_given_an_invoiced_order_edited_then_the_memos_of_the_edit_are_shown_and_nothing_is_sent(shop, tmp_path):
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    assert eventually(lambda: shop.holds(order), timeout=60)
    tees = [{"id": li["id"], "quantity": 3 if i == 0 else li["quantity"]} for i, li in enumerate(order["line_items"])]
    response = requests.put(f"{shop.stack.urls['shopify_sandbox']}/_sandbox/shops/{shop.domain}/orders/{order['id']}"
                            "?deliver=false", json={"line_items": tees}, timeout=10)
    assert response.status_code == 200, response.text
    (tmp_path / "order.json").write_text(json.dumps(shop.order(order["id"])))

    result = preview(str(tmp_path / "order.json"), "--shop", shop.domain)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "is invoiced already" in out
    assert "debit memo for what the edit added (24.30)" in out                # a third tee: 22.50 + 1.80 tax
    assert f"{shop.prefix}-{order['order_number']}-D1" in out
    assert "receipt for" not in out                                           # nothing was paid
    assert shop.fusion_debit_memos(order) == []                               # nothing was sent


def test_given_an_order_cancelled_before_it_was_invoiced_then_no_invoice_is_shown(shop, tmp_path):
    order = shop.place_order(new_order(), deliver=False)
    shop.act(f"orders/{order['id']}/cancel?deliver=false", {"reason": "fraud"})
    (tmp_path / "order.json").write_text(json.dumps(shop.order(order["id"])))

    result = preview(str(tmp_path / "order.json"), "--shop", shop.domain)

    assert result.returncode == 0, result.stderr
    assert "cancelled before it was invoiced" in result.stdout and "POST" not in result.stdout


def test_given_a_b2b_order_then_its_terms_po_and_location_account_are_shown_and_nothing_is_sent(shop, tmp_path):
    from tests.factories import b2b_company, b2b_order
    company = shop.act("companies", b2b_company(), deliver=False)
    order = shop.place_order(b2b_order(company, terms={"payment_terms_name": "Net 60"}, po_number="PO-PREVIEW"),
                             deliver=False)
    (tmp_path / "order.json").write_text(json.dumps(order))

    result = preview(str(tmp_path / "order.json"), "--shop", shop.domain)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "60 NET" in out and "PO-PREVIEW" in out
    assert f"company location {company['locations'][0]['admin_graphql_api_id']} has no Fusion account yet" in out
    assert shop.fusion_invoices(order) == []
