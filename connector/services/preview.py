"""What an order or a refund would produce in Fusion, computed by the same mapping code as the
real flows, with nothing sent: for an accountant checking the mapping before going live, and for
an operator asking why a parked record was refused.

Reads are allowed (the shop's transactions and refund shipping tax come from the Admin API when
the shop is configured); writes never happen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.fusion.credit_memos import InvoiceCredit, create_envelope, memo_number
from connector.fusion.invoices import PATH as INVOICES
from connector.fusion.receipts import PATH as RECEIPTS
from connector.mapping import b2b
from connector.mapping.adjustment import (
    DebitHeader,
    adjustment_number,
    build_debit_memo,
    components,
    debit_memo,
    net_and_tax,
)
from connector.mapping.credit_memo import (
    ChargeRefund,
    ShippingRefund,
    credit_amounts,
    kept_lines,
    order_discrepancy,
    paid_before,
    refund_cash,
    refunded_charges,
)
from connector.mapping.invoice import (
    MappingError,
    build_invoice,
    shop_amount,
    transaction_number,
)
from connector.mapping.receipt import build_receipt, is_payment
from connector.models import BindingKind, BindingState, Shop
from connector.services import adjustments, bindings, orders
from connector.services.context import Services
from connector.shopify import orders as shopify_orders
from connector.shopify.client import ShopifyError
from connector.shopify.orders import instant


@dataclass(frozen=True)
class Request:
    what: str
    method: str
    target: str
    body: object


@dataclass
class Preview:
    requests: list[Request] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def preview(services: Services, session: Session, shop: Shop, order: dict, refund: dict | None = None) -> Preview:
    """The Fusion requests ``order`` (and ``refund``) would produce for ``shop``, in order."""
    out = Preview()
    mapping = services.mapping.for_shop(shop.domain)
    try:
        purchaser = b2b.purchaser(order)
    except MappingError as exc:
        out.notes.append(f"the order would be parked: {exc}")
        return out
    if purchaser is not None:  # billed to its company location's account (docs/accounting.md, "B2B orders")
        customer = bindings.find(session, shop.id, BindingKind.company_location, purchaser.location_id)
    else:
        customer = bindings.find(session, shop.id, BindingKind.customer,
                                 str((order.get("customer") or {}).get("id") or ""))
    account = customer.fusion_number if customer is not None and customer.fusion_number else "<new account>"
    if account == "<new account>" and purchaser is not None:
        out.notes.append(f"company location {purchaser.location_gid} has no Fusion account yet: its company's "
                         "organization is looked up by the company GID (hubOrganizations) or created, and the "
                         "location's account made with a BILL_TO site at its billing address")
    elif account == "<new account>":
        out.notes.append("the customer is not in Fusion yet: it is looked up by its Shopify GID, then by email "
                         f"among the persons [customers] match = \"{mapping.customers.match}\" admits, and created (hubPersons + CustomerAccountService.createCustomerAccount) if absent")
    invoiced = bindings.find(session, shop.id, BindingKind.order, str(order["id"]))
    session.commit()
    if invoiced is not None and invoiced.state == BindingState.synced and "components" in invoiced.fusion_refs:
        out.notes.append(f"the order is invoiced already ({invoiced.fusion_number}): what its edits and its "
                         "cancellation would book since is shown")
        _changes(out, session, shop, order, invoiced, mapping)
    elif reason := orders.why_no_invoice(services.settings, order):
        out.notes.append(f"no invoice: {reason}")
        return out
    else:
        try:
            b2b_terms = {} if purchaser is None else {
                "payment_terms": b2b.payment_terms(order, mapping), "purchase_order": b2b.purchase_order(order),
                "bill_to_site": (customer.fusion_refs or {}).get("bill_to_site", "") if customer is not None else ""}
            invoice = build_invoice(order, mapping=mapping, prefix=shop.transaction_prefix, bill_to_account=account,
                                    **b2b_terms)
            out.requests.append(Request("invoice", "POST", INVOICES, invoice))
        except MappingError as exc:
            out.notes.append(f"the order would be parked: {exc}")
    client = services.shopify(session, shop)
    session.commit()  # no transaction across the calls to Shopify
    history = _transactions(client, order, out)
    if history is None:
        client, history = None, []
    for transaction in history:
        if is_payment(transaction) and not _booked(session, shop, transaction.id):
            try:
                receipt = build_receipt(transaction, mapping=mapping, prefix=shop.transaction_prefix,
                                        account_number=account, order_name=str(order.get("name", "")))
                out.requests.append(Request(f"receipt for {transaction.gid}", "POST", RECEIPTS, receipt.payload()))
                out.requests.append(Request("apply it to the invoice", "POST",
                                            f"{RECEIPTS}/<id>/action/applyReceipt", None))
            except MappingError as exc:
                out.notes.append(f"payment {transaction.gid} would be parked: {exc}")
    if refund is not None:
        tip = shop_amount(order, "total_tip_received")
        if invoiced is not None and invoiced.state == BindingState.synced and "components" in invoiced.fusion_refs:
            tip = adjustments.booked_by_edits(invoiced, adjustments.adjustments_of(session, invoiced)).tip - sum(
                (Decimal(r.fusion_refs.get("tip") or 0) for r in adjustments.booked_refunds(session, invoiced)),
                Decimal(0))
        _refund(out, client, order, refund, history, shop, mapping, account, tip)
    return out


def _booked(session: Session, shop: Shop, transaction_id: str) -> bool:
    found = bindings.find(session, shop.id, BindingKind.payment, transaction_id)
    session.commit()
    return found is not None and found.state == BindingState.synced


def _changes(out: Preview, session: Session, shop: Shop, order: dict, invoice, mapping) -> None:
    """An invoiced order: the debit and credit memos its edits would book now (the order's
    components against what Fusion holds for them), and what a cancellation would credit."""
    existing = adjustments.adjustments_of(session, invoice)
    inclusive = bool(invoice.fusion_refs.get("taxes_included"))
    try:
        rise, fall = (components(order) - adjustments.booked_by_edits(invoice, existing)).split()
    except MappingError as exc:
        out.notes.append(f"the edit would be parked: {exc}")
        return
    sequence = len(existing) + 1
    if rise:
        number = adjustment_number(order, shop.transaction_prefix, "D", sequence)
        try:
            out.requests.append(Request(f"debit memo for what the edit added ({rise.total(inclusive)})", "POST",
                                        INVOICES, build_debit_memo(
                                            order, rise, mapping=mapping, number=number,
                                            bill_to_account=invoice.fusion_refs.get("customer_account", ""),
                                            invoice_number=invoice.fusion_number,
                                            payment_terms=invoice.fusion_refs.get("payment_terms", ""))))
        except MappingError as exc:
            out.notes.append(f"the edit would be parked: {exc}")
        sequence += 1
    if fall:
        line, tax = net_and_tax(fall, inclusive)
        _credits(out, session, invoice, order, shop, "E", sequence, line, tax, "credit memo for what the edit took off")
        sequence += 1
    if not rise and not fall:
        out.notes.append("no edit changed money since it was invoiced: no adjustment")
    if order.get("cancelled_at"):
        out.notes.append("the order is cancelled: once the refunds that came with it are booked, whatever "
                         "still separates Fusion from current_total_price (with the refund discrepancies) is "
                         f"credited as <invoice>-X{sequence}")


def _credits(out: Preview, session: Session, invoice, order: dict, shop: Shop, letter: str, sequence: int,
             line: Decimal, tax: Decimal, what: str) -> None:
    """A credit split over the order's documents as the flow would split it, one memo each."""
    try:
        parts = adjustments.allocate(line, tax, adjustments.credit_room(
            session, invoice, adjustments.booked_refunds(session, invoice)))
    except MappingError as exc:
        out.notes.append(f"the edit would be parked: {exc}")
        return
    for k, part in enumerate(parts):
        number = adjustment_number(order, shop.transaction_prefix, letter,
                                   f"{sequence}{chr(65 + k) if k else ''}")
        credit = InvoiceCredit(invoice_id=part.document_id, transaction_number=number,
                               currency=invoice.fusion_refs.get("currency") or order.get("currency"),
                               line=part.line, tax=part.tax, customer_reference=order.get("admin_graphql_api_id"))
        out.requests.append(Request(f"{what} (line {part.line}, tax {part.tax})", "POST",
                                    "CreditMemoService.createCreditMemo", create_envelope(credit)))


def _refund(out: Preview, client, order: dict, refund: dict, history, shop: Shop, mapping, account: str,
            tip_left: Decimal) -> None:
    shipping = []
    if refund.get("refund_shipping_lines"):
        if client is None:
            out.notes.append("refund shipping tax comes from the Admin API, which is not reachable here: "
                             "it is taken as zero")
        else:
            shipping = [ShippingRefund(s.subtotal, s.tax) for s in shopify_orders.refund_shipping(
                client, refund["admin_graphql_api_id"])]
    charges = []
    if refunded_charges(refund):
        if client is None:
            out.notes.append("the tax of refunded duties and fees comes from the Admin API, which is not reachable "
                             "here: it is taken as zero")
            charges = [ChargeRefund(shop_amount(c, "amount"), Decimal(0))
                       for key in ("duties", "additional_fees") for c in refund.get(key) or []]
        else:
            charges = [ChargeRefund(c.amount, c.tax) for c in shopify_orders.refund_charges(
                client, refund["admin_graphql_api_id"])]
    paid = paid_before(history, refund)
    if not history:
        out.notes.append("without the Admin API the refund's money is read from the webhook, which gives "
                         "presentment money: in a multi-currency order the figures below are not shop money")
        paid = refund_cash(refund)
    try:
        earlier = {"refunds": [r for r in order.get("refunds") or [] if instant(r.get("created_at"))
                               < instant(refund.get("created_at")) and r.get("id") != refund.get("id")]}
        amounts = credit_amounts(refund, taxes_included=bool(order.get("taxes_included")), shipping=shipping,
                                 paid_before=paid, discrepancy_before=order_discrepancy(earlier)[0],
                                 history=history or None, tip_left=tip_left, charges=charges)
    except MappingError as exc:
        out.notes.append(f"the refund would be parked: {exc}")
        return
    invoice_number = transaction_number(shop.transaction_prefix, order)
    numbers = iter([memo_number(invoice_number, 1), memo_number(invoice_number, "1B")])
    if amounts.cash:
        out.requests.append(Request("unapply the payment's receipt", "POST",
                                    f"{RECEIPTS}/<id>/action/unapplyReceipt", None))
    credits = [("credit memo", amounts.line, amounts.tax, None),
               ("credit memo for what the customer got beyond the lines", amounts.given_line, amounts.given_tax,
                mapping.refunds.discrepancy_reason_code or None)]
    for what, line, tax, reason in [c for c in credits if c[1] or c[2]]:
        credit = InvoiceCredit(invoice_id="<invoice id>", transaction_number=next(numbers), currency=order.get("currency"),
                               line=line, tax=tax, customer_reference=refund.get("admin_graphql_api_id"),
                               reason_code=reason)
        out.requests.append(Request(f"{what} (line {line}, tax {tax})", "POST",
                                    "CreditMemoService.createCreditMemo", create_envelope(credit)))
    if amounts.kept:
        header = DebitHeader(f"{invoice_number}-F1", account, order.get("currency") or "",
                             str(refund.get("created_at") or "")[:10], str(order.get("name", "")),
                             f"Shopify refund {refund.get('admin_graphql_api_id')} kept back from the customer")
        try:
            lines = kept_lines(amounts, mapping, taxes_included=bool(order.get("taxes_included")),
                               refund_gid=str(refund.get("admin_graphql_api_id")))
            out.requests.append(Request(f"debit memo for what the refund kept back ({amounts.kept_gross})", "POST",
                                        INVOICES, debit_memo(header, lines, mapping=mapping,
                                                             inclusive=bool(order.get("taxes_included")),
                                                             why="a refund kept money back from the customer")))
        except MappingError as exc:
            out.notes.append(f"the refund would be parked: {exc}")
    if amounts.cash:
        out.requests.append(Request("apply the receipt again for what the customer kept", "POST",
                                    f"{RECEIPTS}/<id>/action/applyReceipt", None))
        out.requests.append(Request(f"write {amounts.cash} off the receipt", "POST",
                                    "StandardReceiptService.createActivityApplication", None))
    out.notes.append("the memo's number is <invoice>-C<n>, n its place among the order's refunds (1 shown); "
                     "a second memo of the same refund is -C<n>B, what it kept back the debit memo -F<n>")


def _transactions(client, order: dict, out: Preview):
    try:
        return shopify_orders.transactions(client, order["admin_graphql_api_id"])
    except ShopifyError as exc:  # a preview still shows what it can without the Admin API
        out.notes.append(f"the shop's Admin API did not answer ({exc}): payments are not shown")
        return None
