"""Shopify orders as Fusion receivables invoices: exactly one invoice per order.

The invoice's deterministic key is the order's GID as ``CrossReference`` — not the transaction
number, which a changed shop prefix could move. :mod:`connector.services.create_once` does the
rest; this module says what an invoice is and what a later change to its order means.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from connector import audit
from connector.mapping.invoice import build_invoice, order_total, shop_amount
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services import bindings, create_once, customers, payments
from connector.services.context import Services
from connector.services.documents import ShopDocument


def handle(services: Services, session: Session, shop: Shop, order: dict) -> str:
    """An order webhook: the order's invoice, its payments as receipts, and a note on what Fusion
    does not reflect yet."""
    result = sync(services, session, shop, order)
    if result.binding.state == BindingState.synced:
        payments.sync(services, session, shop, order, result.binding)
    return result.note


@dataclass(frozen=True)
class OrderResult:
    binding: Binding
    created: bool
    note: str = ""


def sync(services: Services, session: Session, shop: Shop, order: dict) -> OrderResult:
    invoice = Invoice(services, session, shop, order)
    outcome = invoice.ensure()
    return OrderResult(outcome.binding, outcome.status == create_once.Status.created, invoice.note)


@dataclass
class Invoice(ShopDocument):
    """The order as placed, as one receivables invoice."""

    kind = BindingKind.order
    label = "invoice"
    follows_changes = True

    order: dict
    note: str = field(default="", init=False)
    _payload: dict = field(default_factory=dict, init=False)
    _customer: Binding | None = field(default=None, init=False)

    @property
    def shopify_id(self) -> str:
        return str(self.order["id"])

    @property
    def gid(self) -> str:
        return self.order["admin_graphql_api_id"]

    @property
    def updated_at(self) -> str | None:
        return self.order.get("updated_at")

    def prepare(self) -> None:
        super().prepare()
        self._customer = customers.ensure(self.services, self.session, self.shop,
                                          customers.from_order(self.order, self.shop.domain))
        self._payload = build_invoice(self.order, mapping=self.services.mapping.for_shop(self.shop.domain),
                                      prefix=self.shop.transaction_prefix,
                                      bill_to_account=self._customer.fusion_number)

    def number(self) -> str:
        return self._payload["TransactionNumber"]

    def find(self) -> dict | None:
        return create_once.only_one(self.fusion.invoices.by_reference(self.gid), "invoice", self.gid,
                                    "TransactionNumber")

    def create(self) -> dict:
        return self.fusion.invoices.create(self._payload)

    def bind(self, session: Session, binding: Binding, invoice: dict) -> dict:
        """Bind the order to the invoice Fusion holds, and say so if it differs from Shopify."""
        fusion_total = _entered_amount(invoice)
        binding.fusion_id = str(invoice["CustomerTransactionId"])
        binding.fusion_number = str(invoice.get("TransactionNumber") or binding.fusion_number)
        binding.fusion_refs = {"customer_account": self._customer.fusion_number if self._customer else "",
                               "customer_account_id": self._customer.fusion_id if self._customer else "",
                               "invoice_total": "" if fusion_total is None else str(fusion_total),
                               "currency": invoice.get("InvoiceCurrencyCode", ""),
                               # what later documents (credit memos) need to read the order's amounts
                               "taxes_included": bool(self.order.get("taxes_included"))}
        binding.payload_digest = bindings.digest(self.order)
        self.note = _pending_change(session, self.shop, binding, self.order, audited=False)
        return {"transaction_number": binding.fusion_number, "customer_transaction_id": binding.fusion_id,
                "total": fusion_total, "shopify_total": order_total(self.order)}

    def on_synced(self, session: Session, binding: Binding) -> None:
        self.note = _already_invoiced(session, self.shop, binding, self.order)


def _already_invoiced(session: Session, shop: Shop, binding: Binding, order: dict) -> str:
    """A repeat, or a change to an order that already has its invoice.

    A repeat (a replay of a deferred change, say) is judged again, not waved through: what
    Fusion still lacks is the same as the first time, and so is the note.
    """
    repeat = binding.payload_digest == bindings.digest(order)
    binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, order.get("updated_at"))
    binding.payload_digest = bindings.digest(order)
    return _pending_change(session, shop, binding, order, audited=repeat)


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
