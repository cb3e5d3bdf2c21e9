"""Shopify orders as Fusion receivables invoices: exactly one invoice per order.

The invoice's TransactionNumber is derived from the order, and the binding moves to ``creating``
(committed) before the POST. A worker that finds a binding in ``creating`` does not know whether
Fusion has the invoice, so it looks the number up first and adopts what it finds.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call
from connector.fusion.errors import FusionRejected
from connector.locks import object_lock
from connector.mapping.invoice import build_invoice, order_total
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
                     timeout=services.settings.lock_timeout_seconds):
        session.refresh(binding)
        if binding.state == BindingState.synced:
            return _already_invoiced(session, shop, binding, order)

        customer = customers.ensure(services, session, shop, customers.from_order(order))
        payload = build_invoice(order, mapping=services.mapping.for_shop(shop.domain), prefix=shop.transaction_prefix,
                                bill_to_account=customer.fusion_number)
        fusion = services.fusion(session)
        before_remote_call(session)
        source, number = payload["TransactionSource"], payload["TransactionNumber"]

        invoice = fusion.find_invoice(source, number) if binding.state == BindingState.creating else None
        created = invoice is None
        if invoice is None:
            binding.state = BindingState.creating
            binding.fusion_number = number
            session.commit()
            try:
                invoice = fusion.create_invoice(payload)
            except FusionRejected as rejected:
                # A duplicate number means an earlier attempt did land: adopt it if it is ours.
                invoice = fusion.find_invoice(source, number)
                if invoice is None or invoice.get("CrossReference") != order["admin_graphql_api_id"]:
                    # Certainly not in Fusion (the number is free, or another document holds it):
                    # the next attempt need not look it up first.
                    binding.state = BindingState.parked
                    binding.last_error = str(rejected)
                    session.commit()
                    raise
                created = False

        binding.state = BindingState.synced
        binding.fusion_id = str(invoice["CustomerTransactionId"])
        binding.fusion_number = str(invoice.get("TransactionNumber") or number)
        binding.fusion_refs = {"customer_account": customer.fusion_number,
                               "invoice_total": str(order_total(order)),
                               "currency": payload["InvoiceCurrencyCode"]}
        binding.shopify_updated_at = order.get("updated_at") or ""
        binding.payload_digest = bindings.digest(order)
        binding.last_error = ""
        audit.record(session, "invoice.created" if created else "invoice.adopted", shop_id=shop.id,
                     subject_kind="order", subject_id=order_id, transaction_number=binding.fusion_number,
                     customer_transaction_id=binding.fusion_id, total=order_total(order))
        session.commit()
        return OrderResult(binding, created)


def _already_invoiced(session: Session, shop: Shop, binding: Binding, order: dict) -> OrderResult:
    """A repeat, a stale event or an amendment of an order that already has its invoice."""
    if bindings.is_stale(binding, order.get("updated_at")) or binding.payload_digest == bindings.digest(order):
        return OrderResult(binding, False)
    invoiced = binding.fusion_refs.get("invoice_total")
    if invoiced is not None and str(order_total(order)) != invoiced:
        # The original total changed: an amendment. Adjustments are a later release; say so.
        note = (f"order total is now {order_total(order)} but invoice {binding.fusion_number} "
                f"was posted for {invoiced}: amendment not applied yet")
        audit.record(session, "order.amendment_pending", shop_id=shop.id, subject_kind="order",
                     subject_id=binding.shopify_id, note=note)
        session.commit()
        return OrderResult(binding, False, note)
    binding.shopify_updated_at = order.get("updated_at") or binding.shopify_updated_at
    binding.payload_digest = bindings.digest(order)
    session.commit()
    return OrderResult(binding, False)

