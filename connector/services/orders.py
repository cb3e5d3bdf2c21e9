"""Shopify orders as Fusion receivables invoices: exactly one invoice per order.

Before the POST, the binding moves to ``creating`` with a compare-and-set, so of two workers that
both read ``pending`` only one may post. A worker that finds ``creating`` does not know whether
Fusion has the invoice, so it looks it up by the order's GID (``CrossReference``) — not by a
number that a changed shop prefix could have moved — and adopts what it finds.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionRejected
from connector.locks import Busy, object_lock
from connector.mapping.invoice import build_invoice, order_total, shop_amount
from connector.models import Binding, BindingState, Shop
from connector.services import bindings, customers
from connector.services.context import Services


@dataclass(frozen=True)
class OrderResult:
    binding: Binding
    created: bool
    note: str = ""


def sync(services: Services, session: Session, shop: Shop, order: dict) -> OrderResult:
    order_id = str(order["id"])
    binding = bindings.get_or_create(session, shop.id, "order", order_id, order["admin_graphql_api_id"])
    with object_lock(services.redis, shop.id, "order", order_id,
                     ttl=services.settings.lock_timeout_seconds) as lock:
        session.refresh(binding)
        if bindings.is_stale(binding, order.get("updated_at")):
            session.commit()
            return OrderResult(binding, False)  # a newer version of the order was seen already
        if binding.state == BindingState.synced:
            return _already_invoiced(session, shop, binding, order)

        customer = customers.ensure(services, session, shop, customers.from_order(order, shop.domain))
        payload = build_invoice(order, mapping=services.mapping.for_shop(shop.domain),
                                prefix=shop.transaction_prefix, bill_to_account=customer.fusion_number)
        fusion = services.fusion(session)
        binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
        session.refresh(binding, ["state"])
        state_seen = binding.state
        session.commit()
        before_remote_call(session)

        invoice = _find(fusion, order) if state_seen == BindingState.creating else None
        created = invoice is None
        if invoice is None:
            if not lock.still_held() or not _claim_create(session, binding, state_seen, payload):
                raise Busy(f"order {order_id} changed hands while it was being prepared", retry_after=1)
            try:
                invoice = fusion.create_invoice(payload)
            except FusionRejected as rejected:
                # Rejected because an earlier attempt did land? Then it is ours: adopt it.
                invoice = _find(fusion, order)
                if invoice is None:
                    # Certainly not in Fusion: the next attempt need not look it up first.
                    bindings.park(session, shop.id, "order", order_id, str(rejected), certain=True)
                    raise
                created = False
        return _record(session, shop, binding, order, customer, invoice, created)


def _claim_create(session: Session, binding: Binding, expected: BindingState, payload: dict) -> bool:
    """Move the binding from the state this worker saw to ``creating``; False if someone else did."""
    claimed = session.execute(
        update(Binding).where(Binding.id == binding.id, Binding.state == expected)
        .values(state=BindingState.creating, fusion_number=payload["TransactionNumber"])).rowcount
    session.commit()
    return claimed == 1


def _find(fusion: FusionClient, order: dict) -> dict | None:
    found = fusion.find_invoices_by_reference(order["admin_graphql_api_id"])
    return found[0] if found else None


def _record(session: Session, shop: Shop, binding: Binding, order: dict, customer: Binding,
            invoice: dict, created: bool) -> OrderResult:
    """Bind the order to the invoice Fusion actually holds, and say so if it differs from Shopify."""
    session.refresh(binding)
    fusion_total = _entered_amount(invoice)
    shop_total = order_total(order)
    binding.state = BindingState.synced
    binding.fusion_id = str(invoice["CustomerTransactionId"])
    binding.fusion_number = str(invoice.get("TransactionNumber") or binding.fusion_number)
    binding.fusion_refs = {"customer_account": customer.fusion_number,
                           "invoice_total": str(fusion_total if fusion_total is not None else shop_total),
                           "currency": invoice.get("InvoiceCurrencyCode", "")}
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
    binding.payload_digest = bindings.digest(order)
    binding.last_error = ""
    audit.record(session, "invoice.created" if created else "invoice.adopted", shop_id=shop.id,
                 subject_kind="order", subject_id=binding.shopify_id, transaction_number=binding.fusion_number,
                 customer_transaction_id=binding.fusion_id, total=fusion_total, shopify_total=shop_total)
    problems = []
    if fusion_total is not None and fusion_total != shop_total:
        problems.append(f"invoice {binding.fusion_number} in Fusion totals {fusion_total}, "
                        f"the order was placed for {shop_total}")
    note = _pending_change(session, shop, binding, order, problems)
    session.commit()
    return OrderResult(binding, created, note)


def _already_invoiced(session: Session, shop: Shop, binding: Binding, order: dict) -> OrderResult:
    """A repeat, or a change to an order that already has its invoice."""
    if binding.payload_digest == bindings.digest(order):
        session.commit()
        return OrderResult(binding, False)
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
    binding.payload_digest = bindings.digest(order)
    note = _pending_change(session, shop, binding, order, [])
    session.commit()
    return OrderResult(binding, False, note)


def _pending_change(session: Session, shop: Shop, binding: Binding, order: dict, problems: list[str]) -> str:
    """What Fusion does not reflect yet: edits, refunds and cancellations after the order was placed.

    The invoice is the order as placed; those changes become adjustments and credit memos, which
    are later releases. Until then the event is kept ``deferred`` with this note, for replay.
    """
    invoiced = Decimal(binding.fusion_refs.get("invoice_total", "0"))
    current = _current_total(order)
    if current != invoiced:
        problems.append(f"the order's current total is {current} but invoice {binding.fusion_number} is "
                        f"for {invoiced}")
    if order.get("cancelled_at"):
        problems.append("the order was cancelled")
    if not problems:
        return ""
    note = "; ".join(problems) + ": adjustments and credit memos are not applied yet"
    audit.record(session, "order.amendment_pending", shop_id=shop.id, subject_kind="order",
                 subject_id=binding.shopify_id, note=note)
    return note


def _entered_amount(invoice: dict) -> Decimal | None:
    amount = invoice.get("EnteredAmount")
    return None if amount is None else Decimal(str(amount))


def _current_total(order: dict) -> Decimal:
    """Shopify's total after edits, refunds and cancellations (the original when it is absent)."""
    if order.get("current_total_price") is None and not order.get("current_total_price_set"):
        return order_total(order)
    return shop_amount(order, "current_total_price")
