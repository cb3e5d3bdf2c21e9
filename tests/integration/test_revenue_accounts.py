"""Revenue account overrides end to end (real workers, both sandboxes over HTTP): a shop whose
mapping books a vendor's or a product type's lines on their own revenue account gets invoices
whose lines carry that account and memo line; the rest stays on ``gl.revenue``."""
from __future__ import annotations

from connector.models import InboxState
from tests.factories import new_order
from tests.integration.test_reread import rereading
from tests.support import Fusion, add_shop_mapping, eventually, fusion_get

BOOKS = "101-10-41100-000-000"   # in the Fusion sandbox's seed, with the memo line "Book Sales"


def revenue_by_line(shop, order) -> dict[str, tuple[str, str]]:
    """Each invoice line's description → (memo line, revenue account), as Fusion holds the invoice."""
    shop.wait_invoiced(order)
    [invoice] = shop.fusion_invoices(order)
    body = fusion_get(Fusion(shop.stack.urls["fusion_sandbox"]),
                      f"{Fusion.INVOICES}/{invoice['CustomerTransactionId']}/child/receivablesInvoiceDistributions")
    accounts = {d["InvoiceLineNumber"]: d["AccountCombination"] for d in body["items"] if d["AccountClass"] == "Revenue"}
    return {line["Description"]: (line["MemoLine"], accounts[line["LineNumber"]])
            for line in invoice["receivablesInvoiceLines"]}


def with_rule(stack, shop, rule: str) -> None:
    add_shop_mapping(stack, shop.domain, f'[[shops."{shop.domain}".gl.revenue_rules]]\n{rule}\n'
                                         f'account = "{BOOKS}"\nmemo_line = "Book Sales"\n')
    stack.kill_worker("invoices")  # workers read the mapping when they start


def test_given_a_vendor_rule_then_that_vendors_line_is_invoiced_on_the_rules_account_and_memo_line(shop, stack):
    # given a shop whose Penguin lines are book sales
    with_rule(stack, shop, 'vendor = "penguin"')
    # when an order with a Penguin tee and a mug of no vendor is placed
    order = new_order()
    order["line_items"][0]["vendor"] = "Penguin"
    placed = shop.place_order(order)
    # then the tee is on the rule's account and memo line, the mug on the mapping's revenue account
    lines = revenue_by_line(shop, placed)
    assert lines["Tee - Black / M"] == ("Book Sales", BOOKS)
    assert lines["Mug"] == ("Merchandise", "101-10-41000-000-000")


def test_given_a_product_type_rule_then_a_webhook_order_parks_and_a_rereading_shop_books_it(shop, stack):
    # given a shop whose T-shirts are booked apart, and an order with a tee of that type
    with_rule(stack, shop, 'product_type = "T-Shirts"')
    order = new_order()
    order["line_items"][0]["product_type"] = "T-Shirts"   # the Shopify sandbox's stand-in for the product's type
    placed = shop.place_order(order)
    # then the webhook, which carries no product type, parks naming the remedy; nothing is in Fusion
    event = eventually(lambda: next((e for e in shop.inbox() if e.topic == "orders/create"
                                     and e.state == InboxState.parked), None), timeout=60)
    assert event is not None, shop.last_attempt_errors()
    assert "reread_from_admin" in event.last_error and shop.fusion_invoices(placed) == []

    # when the merchant has the shop re-read orders from the Admin API and the event is replayed
    rereading(shop)
    from workers.app import app
    app.send_task("mlc.inbox.replay", args=[event.id])
    # then the tee is booked on the rule's account
    assert revenue_by_line(shop, placed)["Tee - Black / M"] == ("Book Sales", BOOKS)


def test_given_a_vendor_rule_when_an_edit_adds_that_vendors_units_then_the_debit_memo_is_on_the_rules_account(
        shop, stack):
    from tests.integration.test_edits import edit, tees
    # given an invoiced order whose lines are all Penguin's, in a shop that books Penguin as book sales
    with_rule(stack, shop, 'vendor = "Penguin"')
    order = new_order()
    for line in order["line_items"]:
        line["vendor"] = "Penguin"
    placed = shop.place_order(order)
    shop.wait_invoiced(placed)
    # when an edit raises the tees from 2 to 3
    edit(shop, placed, line_items=tees(placed, 3))
    # then the debit memo's merchandise is on the rule's account and memo line
    assert eventually(lambda: shop.holds(placed) and shop.fusion_debit_memos(placed), timeout=90), \
        shop.money_invariants(placed)
    [debit] = shop.fusion_debit_memos(placed)
    body = fusion_get(Fusion(shop.stack.urls["fusion_sandbox"]),
                      f"{Fusion.INVOICES}/{debit['CustomerTransactionId']}/child/receivablesInvoiceDistributions")
    lines = fusion_get(Fusion(shop.stack.urls["fusion_sandbox"]),
                       f"{Fusion.INVOICES}/{debit['CustomerTransactionId']}/child/receivablesInvoiceLines")["items"]
    assert [line["MemoLine"] for line in lines] == ["Book Sales"]
    assert {d["AccountCombination"] for d in body["items"] if d["AccountClass"] == "Revenue"} == {BOOKS}
