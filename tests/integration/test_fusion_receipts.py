"""Fusion → Shopify: a receipt a person enters in Fusion for an unpaid order is recorded in
Shopify once after the receipts poll, and the ``orders/paid`` Shopify sends back creates no
second receipt in Fusion, also when the push's answer was lost; a shop without the option pushes
nothing."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from connector.config import load_settings
from connector.db import session_scope
from connector.models import Binding, BindingKind, BindingState, Shop, utcnow
from tests.factories import new_order
from tests.integration.test_fusion_poll import ml_connector, pay_in_fusion, poll, stats
from tests.integration.test_reconcile_report import report
from tests.support import Fusion, eventually, fusion_get

RECEIPTS = "/fscmRestApi/resources/11.13.18.05/standardReceipts"
CENT = Decimal("0.01")


def pushing(shop) -> None:
    """The merchant turns the push on, as the README says."""
    said = ml_connector("shops", "set", shop.domain, "--push-fusion-receipts")
    assert "pushed to Shopify" in said
    [row] = [line for line in ml_connector("shops", "list").splitlines() if shop.domain in line]
    assert "yes" in row  # the push column; the shop re-reads nothing


def unpaid_invoiced_order(shop) -> tuple[dict, dict]:
    order = shop.place_order(new_order())
    shop.wait_invoiced(order)
    assert shop.quiet()
    [invoice] = shop.fusion_invoices(order)
    return order, invoice


def account_receipts(fusion: Fusion, invoice: dict) -> list[dict]:
    """Every receipt Fusion holds for the order's customer account (each test has its own customer)."""
    return fusion_get(fusion, RECEIPTS, q=f"CustomerAccountNumber='{invoice['BillToCustomerNumber']}'",
                      limit="100")["items"]


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def pushed(shop, order: dict, receipt: dict):
    binding = shop.binding("fusion_receipt", f"{order['id']}:{receipt['StandardReceiptId']}")
    return binding if binding is not None and binding.state == BindingState.synced else None


def test_given_a_receipt_entered_in_fusion_for_an_unpaid_order_then_shopify_marks_it_paid_once(shop, fusion):
    pushing(shop)
    order, invoice = unpaid_invoiced_order(shop)
    total = money(invoice["InvoiceBalanceAmount"])
    assert money(shop.order(order["id"])["total_outstanding"]) == total and not shop.transactions(order)

    # when: a person enters the bank transfer in Fusion and applies it to the invoice; the receipts poll runs
    receipt = pay_in_fusion(fusion, invoice)
    poll("receipts")
    assert len(shop.audit("fusion_receipt.noticed")) == 1
    assert eventually(lambda: pushed(shop, order, receipt))
    assert shop.quiet()  # Shopify's orders/paid and orders/updated, handled

    # then: Shopify holds one manual payment of the whole amount and the order is paid
    [payment] = shop.transactions(order)
    assert (payment["kind"], payment["status"], money(payment["amount_set"]["shop_money"]["amount"])) == \
        ("sale", "success", total)
    now = shop.order(order["id"])
    assert now["financial_status"] == "paid" and money(now["total_outstanding"]) == 0
    # and Fusion holds the person's receipt only, the invoice paid by it
    [only] = account_receipts(fusion, invoice)
    assert only["StandardReceiptId"] == receipt["StandardReceiptId"] and money(only["UnappliedAmount"]) == 0
    assert shop.fusion_balance(order) == 0
    # and the order holds as the demo, the tests and the reconciliation report check it: the
    # payment's receipt is the person's
    assert shop.holds(order) and shop.document_counts(order)["receipts"] == ([receipt["ReceiptNumber"]],) * 2
    code, body = report(shop)
    assert (code, body["problems"]) == (0, [])
    # and the echo is bound to the person's receipt, the push audited once with the transaction it made
    echo = shop.binding("payment", payment["id"])
    assert echo.state == BindingState.synced and echo.fusion_id == str(receipt["StandardReceiptId"])
    assert echo.fusion_refs["pushed_from"] == "fusion" and money(echo.fusion_refs["amount"]) == total
    [audit] = shop.audit("shopify_payment.created")
    assert audit.detail["mutation"] == "orderMarkAsPaid" and money(audit.detail["amount"]) == total
    assert audit.detail["transaction"] == payment["admin_graphql_api_id"]
    assert shop.binding("fusion_receipt", f"{order['id']}:{receipt['StandardReceiptId']}").fusion_refs[
        "transaction_id"] == str(payment["id"])
    # and the order's timeline shows the push and Shopify's orders/paid
    timeline = ml_connector("timeline", str(order["id"]), "--shop", shop.domain)
    assert "fusion_receipt.noticed" in timeline and "shopify_payment.created" in timeline
    assert "webhook orders/paid" in timeline

    # when: the receipts poll reads the receipt again (its overlap window) and the order changes again
    before = stats(fusion)
    poll("receipts")
    after = stats(fusion)
    # then: that poll costs its one request (nothing of the receipt is read again)
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == \
        {"GET standardReceipts": 1}
    assert len(shop.audit("fusion_receipt.noticed")) == 1
    shop.deliver("orders/paid", {**shop.order(order["id"]), "updated_at": "2099-01-01T00:00:00Z"})
    assert shop.quiet()
    # then: still one payment in Shopify, one receipt in Fusion
    assert len(shop.transactions(order)) == 1 and len(account_receipts(fusion, invoice)) == 1
    assert len(shop.audit("shopify_payment.created")) == 1


def test_given_a_receipt_paying_part_of_an_order_then_shopify_records_that_part(shop, fusion):
    pushing(shop)
    order, invoice = unpaid_invoiced_order(shop)
    total = money(invoice["InvoiceBalanceAmount"])
    part = Decimal("20.00")

    receipt = pay_in_fusion(fusion, invoice, part)
    poll("receipts")
    assert eventually(lambda: pushed(shop, order, receipt))
    assert shop.quiet()

    [payment] = shop.transactions(order)
    assert money(payment["amount_set"]["shop_money"]["amount"]) == part
    now = shop.order(order["id"])
    assert now["financial_status"] == "partially_paid" and money(now["total_outstanding"]) == total - part
    assert [r["StandardReceiptId"] for r in account_receipts(fusion, invoice)] == [receipt["StandardReceiptId"]]
    assert shop.fusion_balance(order) == total - part and shop.holds(order)
    [audit] = shop.audit("shopify_payment.created")
    assert audit.detail["mutation"] == "orderCreateManualPayment" and money(audit.detail["amount"]) == part


def push_in_doubt(shop, fusion: Fusion, order: dict, receipt: dict, amount: Decimal) -> None:
    """What a worker leaves when it dies after its orderMarkAsPaid reached Shopify and before it
    bound the payment: the push claimed (``creating``) with its plan, the claim still running,
    opened at the receipt's version as the poll read it (applied)."""
    receipt = fusion_get(fusion, f"{RECEIPTS}/{receipt['StandardReceiptId']}", onlyData="true")
    with session_scope(load_settings().database_url) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == shop.domain))
        session.add(Binding(shop_id=shop_id, kind=BindingKind.fusion_receipt,
                            shopify_id=f"{order['id']}:{receipt['StandardReceiptId']}",
                            shopify_gid=order["admin_graphql_api_id"], state=BindingState.creating,
                            fusion_id=str(receipt["StandardReceiptId"]), fusion_number=receipt["ReceiptNumber"],
                            fusion_updated_at=receipt["LastUpdateDate"],
                            claimed_until=utcnow() + timedelta(seconds=load_settings().create_lease_seconds),
                            fusion_refs={"plan": {"mutation": "orderMarkAsPaid", "amount": str(amount),
                                                  "currency": "USD", "receipt_number": receipt["ReceiptNumber"],
                                                  "before": []}}))


def test_given_a_push_whose_answer_was_lost_then_its_echo_waits_and_the_next_push_adopts_the_payment(shop, fusion):
    pushing(shop)
    order, invoice = unpaid_invoiced_order(shop)
    total = money(invoice["InvoiceBalanceAmount"])
    receipt = pay_in_fusion(fusion, invoice)

    # given: a push that reached Shopify and died before it bound the payment Shopify recorded
    push_in_doubt(shop, fusion, order, receipt, total)
    shop.act(f"orders/{order['id']}/transactions", {"kind": "sale", "gateway": "manual"})  # fires orders/paid
    [payment] = shop.transactions(order)

    # then: the order's events wait for the push instead of booking the payment as new money
    assert eventually(lambda: any("waiting for that push" in e for e in shop.last_attempt_errors().values()))
    assert [r["StandardReceiptId"] for r in account_receipts(fusion, invoice)] == [receipt["StandardReceiptId"]]

    # when: the receipts poll runs once the claim's lease is over
    def adopted():
        poll("receipts")
        return pushed(shop, order, receipt)
    assert eventually(adopted, timeout=60, interval=1)
    assert shop.quiet()

    # then: the push adopted the payment Shopify holds, and nothing was recorded or booked twice
    [audit] = shop.audit("shopify_payment.adopted")
    assert audit.detail["transaction"] == payment["admin_graphql_api_id"] and money(audit.detail["amount"]) == total
    assert len(shop.transactions(order)) == 1 and not shop.audit("shopify_payment.created")
    [only] = account_receipts(fusion, invoice)
    assert only["StandardReceiptId"] == receipt["StandardReceiptId"] and shop.fusion_balance(order) == 0
    assert shop.binding("payment", payment["id"]).fusion_id == str(receipt["StandardReceiptId"])
    assert shop.order(order["id"])["financial_status"] == "paid"


def test_given_a_shop_that_does_not_push_then_a_receipt_entered_in_fusion_stays_in_fusion(shop, fusion):
    order, invoice = unpaid_invoiced_order(shop)

    receipt = pay_in_fusion(fusion, invoice)
    poll("receipts")
    assert shop.quiet()

    assert shop.binding("fusion_receipt", f"{order['id']}:{receipt['StandardReceiptId']}") is None
    assert not shop.transactions(order) and shop.order(order["id"])["financial_status"] == "pending"
    assert not shop.audit("fusion_receipt.noticed") and not shop.audit("shopify_payment.created")
    assert shop.fusion_balance(order) == 0
