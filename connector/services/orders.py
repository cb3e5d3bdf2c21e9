"""Shopify orders as Fusion receivables invoices: exactly one invoice per order.

Before the POST, the binding moves to ``creating`` with a compare-and-set, so of two workers that
both read ``pending`` only one may post. A worker that finds ``creating`` does not know whether
Fusion has the invoice, so it looks it up by the order's GID (``CrossReference``) — not by a
number that a changed shop prefix could have moved — and adopts what it finds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call, no_open_transaction
from connector.fusion.client import FusionClient
from connector.fusion.errors import FusionRejected, FusionUnavailable
from connector.locks import Busy, object_lock
from connector.mapping.invoice import build_invoice, order_total, shop_amount
from connector.models import Binding, BindingState, Shop, utcnow
from connector.redact import redact_text
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
                     ttl=services.settings.lock_timeout_seconds) as lock, no_open_transaction(session):
        session.refresh(binding)
        if bindings.is_stale(binding, order.get("updated_at")):
            return OrderResult(binding, False)  # a newer version of the order is already applied
        if binding.state == BindingState.synced:
            return _already_invoiced(session, shop, binding, order)

        customer = customers.ensure(services, session, shop, customers.from_order(order, shop.domain))
        payload = build_invoice(order, mapping=services.mapping.for_shop(shop.domain),
                                prefix=shop.transaction_prefix, bill_to_account=customer.fusion_number)
        fusion = services.fusion(session)
        session.refresh(binding)
        seen_state, seen_claim = binding.state, binding.claimed_until
        before_remote_call(session)
        if seen_state == BindingState.creating and seen_claim and seen_claim > utcnow():
            # another worker's create may still be in flight: its answer decides
            raise Busy(f"a create for order {order_id} is in flight or its outcome is not known yet",
                       retry_after=(seen_claim - utcnow()).total_seconds())

        invoice = _find(fusion, order) if seen_state == BindingState.creating else None
        created = invoice is None
        if invoice is None:
            lease = timedelta(seconds=services.settings.create_lease_seconds)
            claim = _claim_create(session, binding, seen_state, seen_claim, payload, lease) \
                if lock.still_held() else None
            if claim is None:
                raise Busy(f"order {order_id} changed hands while it was being prepared", retry_after=1)
            try:
                invoice = _create(session, binding, claim, fusion, payload)
            except FusionRejected as rejected:
                # Rejected because an earlier attempt did land? Then it is ours: adopt it.
                invoice = _find(fusion, order)
                if invoice is None:
                    # Certainly not in Fusion, and the claim is still ours: park it; the next
                    # attempt need not look it up first.
                    bindings.park(session, shop.id, "order", order_id, redact_text(str(rejected)), claim=claim)
                    raise
                created = False
        return _record(session, shop, binding, order, customer, invoice, created)



def _claim_create(session: Session, binding: Binding, seen_state: BindingState, seen_claim: datetime | None,
                  payload: dict, lease: timedelta) -> datetime | None:
    """Take the right to post, only from the exact state this worker saw.

    Returns the claim (its expiry, which also identifies it), or None if someone else moved first.
    """
    same_claim = Binding.claimed_until.is_(None) if seen_claim is None else Binding.claimed_until == seen_claim
    claim = utcnow() + lease
    claimed = session.execute(
        update(Binding).where(Binding.id == binding.id, Binding.state == seen_state, same_claim)
        .values(state=BindingState.creating, claimed_until=claim,
                fusion_number=payload["TransactionNumber"])).rowcount
    session.commit()
    return claim if claimed == 1 else None


def _create(session: Session, binding: Binding, claim: datetime, fusion: FusionClient, payload: dict) -> dict:
    """POST the invoice.

    When Fusion certainly did not create it (unavailable, refused connection) the claim is given
    back at once. After an uncertain outcome (timeout, reset, a killed worker) the claim stays
    until it expires, so the retry waits for a late commit to become visible before looking up.
    A rejection is settled by the caller, who still holds the claim.
    """
    try:
        return fusion.create_invoice(payload)
    except FusionUnavailable:
        bindings.release_claim(session, binding.id, claim)
        raise


class DuplicateInvoices(FusionRejected):
    """Fusion holds more than one invoice for the order: someone must decide which one counts."""


def _find(fusion: FusionClient, order: dict) -> dict | None:
    found = fusion.find_invoices_by_reference(order["admin_graphql_api_id"])
    if len(found) > 1:
        numbers = ", ".join(str(i.get("TransactionNumber")) for i in found)
        raise DuplicateInvoices(f"Fusion holds {len(found)} invoices for {order['admin_graphql_api_id']}: {numbers}")
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
    binding.claimed_until = None
    binding.fusion_refs = {"customer_account": customer.fusion_number,
                           "invoice_total": "" if fusion_total is None else str(fusion_total),
                           "currency": invoice.get("InvoiceCurrencyCode", "")}
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
    binding.payload_digest = bindings.digest(order)
    binding.last_error = ""
    audit.record(session, "invoice.created" if created else "invoice.adopted", shop_id=shop.id,
                 subject_kind="order", subject_id=binding.shopify_id, transaction_number=binding.fusion_number,
                 customer_transaction_id=binding.fusion_id, total=fusion_total, shopify_total=shop_total)
    note = _pending_change(session, shop, binding, order, audited=False)
    session.commit()
    return OrderResult(binding, created, note)


def _already_invoiced(session: Session, shop: Shop, binding: Binding, order: dict) -> OrderResult:
    """A repeat, or a change to an order that already has its invoice.

    A repeat (a replay of a deferred change, say) is judged again, not waved through: what
    Fusion still lacks is the same as the first time, and so is the note.
    """
    repeat = binding.payload_digest == bindings.digest(order)
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
    binding.payload_digest = bindings.digest(order)
    note = _pending_change(session, shop, binding, order, audited=repeat)
    session.commit()
    return OrderResult(binding, False, note)


def _pending_change(session: Session, shop: Shop, binding: Binding, order: dict, *, audited: bool) -> str:
    """What Fusion does not reflect: edits, refunds and cancellations after the order was placed,
    or an invoice total Fusion computed differently.

    The invoice is the order as placed; those changes become adjustments and credit memos, which
    are later releases. Until then the event is kept ``deferred`` with this note, for replay.
    """
    problems = []
    invoiced = binding.fusion_refs.get("invoice_total", "")
    current = _current_total(order)
    if not invoiced:
        problems.append(f"Fusion did not report the total of invoice {binding.fusion_number}")
    elif Decimal(invoiced) != order_total(order):
        problems.append(f"invoice {binding.fusion_number} in Fusion totals {invoiced}, "
                        f"the order was placed for {order_total(order)}")
    elif Decimal(invoiced) != current:
        problems.append(f"the order's current total is {current} but invoice {binding.fusion_number} is "
                        f"for {invoiced}")
    if order.get("cancelled_at"):
        problems.append("the order was cancelled")
    if not problems:
        return ""
    note = "; ".join(problems) + ": adjustments and credit memos are not applied yet"
    if not audited:
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
