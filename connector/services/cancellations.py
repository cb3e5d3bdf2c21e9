"""Shopify cancellations: what still separates the invoice from the cancelled order is credited.

A cancellation usually comes with a refund of what remained, and that refund has its own credit
memo. So the cancellation first waits until every refund of the order is booked, then compares
what Fusion holds for the order (invoice, debit memos, minus credit memos) with Shopify's
``current_total_price`` plus its refund discrepancies; only a difference left after that becomes a credit memo
``<invoice>-X<n>`` against the invoice. An order cancelled before it was ever invoiced gets no
invoice, unless ``MLC_INVOICE_CANCELLED_ORDERS`` says otherwise.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.locks import Busy
from connector.mapping.adjustment import Components
from connector.mapping.credit_memo import order_discrepancy
from connector.mapping.invoice import MappingError, shop_amount
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services import adjustments, baselines, bindings, orders
from connector.services.context import Services
from connector.shopify import orders as shopify_orders


def handle(services: Services, session: Session, shop: Shop, order: dict) -> str:
    if orders.skips_uninvoiced(services, session, shop, order):
        return ""
    invoice = bindings.find(session, shop.id, BindingKind.order, str(order["id"]))
    session.commit()
    if invoice is None or invoice.state == BindingState.pending:  # invoicing cancelled orders is allowed
        orders.handle(services, session, shop, order)
        invoice = bindings.find(session, shop.id, BindingKind.order, str(order["id"]))
        session.commit()
    if invoice.state == BindingState.parked:
        raise MappingError(f"the invoice of cancelled order {order['id']} is parked: {invoice.last_error[:300]}")
    if invoice.state != BindingState.synced:
        raise Busy(f"the cancellation of order {order['id']} waits for its invoice",
                   retry_after=services.settings.dependency_wait_seconds)
    if not baselines.restore(session, invoice):
        return (f"invoice {invoice.fusion_number} was bound before cancellations were booked and no stored "
                "order event has its total: see Known gaps in docs/accounting.md")
    with orders.money_lock(services, shop, str(order["id"])):
        return _credit_what_is_left(services, session, shop, order, invoice)


def _credit_what_is_left(services: Services, session: Session, shop: Shop, order: dict, invoice: Binding) -> str:
    client = services.shopify(session, shop)
    session.commit()
    refund_ids = [r.id for r in shopify_orders.refunds(client, order["admin_graphql_api_id"])]
    _wait_for_refunds(session, shop, refund_ids, services.settings.dependency_wait_seconds)
    booked_gross, booked_tax = _booked(session, invoice, refund_ids)
    # What the customer is charged now: the order after returns, plus what refunds kept back
    # (less what they gave beyond their lines), which current_total_price leaves out.
    kept_gross, kept_tax = order_discrepancy(order)
    current_gross = shop_amount(order, "current_total_price") + kept_gross
    current_tax = shop_amount(order, "current_total_tax") + kept_tax
    residual, residual_tax = booked_gross - current_gross, booked_tax - current_tax
    if residual == 0:
        return ""
    if residual < 0 or residual_tax < 0 or residual_tax > residual:
        raise MappingError(f"Fusion holds {booked_gross} (tax {booked_tax}) for cancelled order {order['id']} but "
                           f"Shopify's current total is {current_gross} (tax {current_tax}): a person must look")
    inclusive = bool(invoice.fusion_refs.get("taxes_included"))
    net = residual - residual_tax
    credit = Components(merchandise=-(residual if inclusive else net), merchandise_tax=-residual_tax)
    existing = adjustments.adjustments_of(session, invoice)
    in_flight = next((a for a in existing if a.state != BindingState.synced and a.fusion_number
                      and adjustments.document_of(a) == adjustments.CANCELLATION), None)
    sequence = int(in_flight.shopify_id.rsplit(":", 1)[1]) if in_flight else len(existing) + 1
    adjustments.Adjustment(services, session, shop, invoice=invoice, order=order, sequence=sequence,
                           document=adjustments.CANCELLATION, change=credit).ensure()
    return ""


def _wait_for_refunds(session: Session, shop: Shop, refund_ids: list[str], wait: int) -> None:
    """Every refund of the order booked (or parked: then the cancellation is parked behind it)."""
    if not refund_ids:
        return
    found = {b.shopify_id: b for b in session.scalars(select(Binding).where(
        Binding.shop_id == shop.id, Binding.kind == BindingKind.refund, Binding.shopify_id.in_(refund_ids)))}
    session.commit()
    for refund_id in refund_ids:
        binding = found.get(refund_id)
        if binding is not None and binding.state == BindingState.parked:
            raise MappingError(f"refund {refund_id} of the cancelled order is parked: {binding.last_error[:300]}")
        if binding is None or binding.state not in (BindingState.synced, BindingState.skipped):
            raise Busy(f"the cancellation waits for refund {refund_id} to be booked", retry_after=wait)


def _booked(session: Session, invoice: Binding, refund_ids: list[str]) -> tuple[Decimal, Decimal]:
    """(gross, tax) of what Fusion holds for the order: invoice + debit memos − credit memos."""
    inclusive = bool(invoice.fusion_refs.get("taxes_included"))
    base = Components.from_refs(invoice.fusion_refs["components"])
    gross, tax = base.total(inclusive), base.tax
    for adjustment in adjustments.adjustments_of(session, invoice):
        if adjustment.state == BindingState.synced:
            change = Components.from_refs(adjustment.fusion_refs.get("change"))
            gross += change.total(inclusive)
            tax += change.tax
    refunds = session.scalars(select(Binding).where(
        Binding.shop_id == invoice.shop_id, Binding.kind == BindingKind.refund,
        Binding.shopify_id.in_(refund_ids),
        Binding.state.in_([BindingState.synced, BindingState.skipped]))).all() if refund_ids else []
    session.commit()
    for refund in refunds:
        if refund.fusion_refs.get("invoice_id") == invoice.fusion_id:
            refs = refund.fusion_refs
            kept_gross, kept_tax = (Decimal(v) for v in refs.get("kept") or ("0", "0"))
            given_line, given_tax = (Decimal(v) for v in refs.get("given") or ("0", "0"))
            gross -= Decimal(refs["line"]) + Decimal(refs["tax"]) - kept_gross + given_line + given_tax
            tax -= Decimal(refs["tax"]) - kept_tax + given_tax
    return gross, tax
