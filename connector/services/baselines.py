"""The baseline of an invoice bound before the edit and refund flows existed.

Edits are measured against the order's components as invoiced, and refunds need to know whether
the shop's prices include tax; an invoice bound by an earlier release kept neither, so its edits
were stored ``deferred`` (amendment pending) and its refunds parked. The order as it was invoiced
is still in the inbox: the earliest stored order event whose total is the invoice's total in
Fusion. Replaying the deferred event restores the baseline from it, and the event is booked.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit, jsonutil
from connector.mapping.adjustment import components
from connector.mapping.invoice import MappingError, order_total
from connector.models import Binding, BindingKind, InboxEvent


def restore(session: Session, invoice: Binding) -> bool:
    """Give ``invoice`` its baseline if it lacks one; False when no stored order event fits."""
    refs = invoice.fusion_refs or {}
    if "components" in refs and "taxes_included" in refs:
        return True
    if not refs.get("invoice_total"):  # nothing to tell the invoiced version from a later one
        return False
    from connector import flows  # the registry imports the services
    invoiced = Decimal(refs["invoice_total"])
    events = session.scalars(select(InboxEvent).where(
        InboxEvent.shop_id == invoice.shop_id, InboxEvent.resource_id == invoice.shopify_id,
        InboxEvent.topic.in_(flows.topics_of(BindingKind.order)),
        InboxEvent.body_erased_at.is_(None)).order_by(InboxEvent.id)).all()  # retention, or a privacy request
    for event in events:
        order = jsonutil.loads(event.body)
        if order_total(order) != invoiced:
            continue
        try:
            baseline = components(order).as_refs()
        except MappingError:
            continue
        invoice.fusion_refs = dict(refs, components=baseline, taxes_included=bool(order.get("taxes_included")))
        audit.record(session, "invoice.baseline_restored", shop_id=invoice.shop_id,
                     subject_kind=BindingKind.order.value, subject_id=invoice.shopify_id, inbox_id=event.id,
                     total=str(invoiced))
        session.commit()
        return True
    session.commit()
    return False
