"""Shopify orders as Fusion receivables invoices: exactly one invoice per order.

The invoice's deterministic key is the order's GID as ``CrossReference`` — not the transaction
number, which a changed shop prefix could move. :mod:`connector.services.create_once` does the
rest; this module says what an invoice is and what a later change to its order means.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Row
from sqlalchemy.orm import Session

from connector import audit
from connector.fusion.errors import FusionRejected
from connector.locks import object_lock
from connector.mapping import b2b
from connector.mapping.adjustment import components
from connector.mapping.credit_memo import order_discrepancy
from connector.mapping.invoice import (
    MappingError,
    build_invoice,
    order_total,
    shop_amount,
)
from connector.models import Binding, BindingKind, BindingState, Shop
from connector.services import (
    adjustments,
    bindings,
    companies,
    create_once,
    customers,
    payments,
)
from connector.services.context import Services
from connector.services.documents import ShopDocument


def handle(services: Services, session: Session, shop: Shop, order: dict) -> str:
    """An order webhook: the order's invoice, its payments as receipts, and a note on what Fusion
    does not reflect yet."""
    seen = bindings.seen(session, shop.id, BindingKind.order, str(order["id"]))  # one read for both
    if _skips_uninvoiced(services, session, shop, order, seen) or bindings.settles(seen, order):
        return ""
    # The order is held from its invoice through its payments: a paid order's orders/paid, which
    # arrives beside its orders/create, waits here and then finds this version settled, rather
    # than coming back later or taking the order between the invoice and its receipts.
    with money_lock(services, shop, str(order["id"])):
        if repeats_settled(session, shop, order):  # another worker finished it while this one waited
            return ""
        result = sync(services, session, shop, order)
        if result.binding.state == BindingState.synced:
            paid = payments.sync(services, session, shop, order, result.binding)
            if result.refused is None and not result.note and payments.covers(order, paid):
                bindings.settle(session, result.binding, order)
    if result.refused is not None:
        raise result.refused  # an edit Fusion or the mapping refused: parked with its reason
    return result.note


def repeats_settled(session: Session, shop: Shop, order: dict) -> bool:
    """This exact version of the order was handled in full already (its invoice, edits and
    payments are in Fusion): a paid order's ``orders/paid`` repeats its ``orders/create``, and
    Shopify redelivers. Any change, even one undone, carries a new ``updated_at`` and is handled.
    A state is settled only when the payments read from Shopify cover what it says was paid, so
    a payment the Admin API did not show yet is looked for again by the next event."""
    return bindings.is_settled(session, shop.id, BindingKind.order, str(order["id"]), order)


#: How long an order's event waits for another event of the same order: about what an order's
#: invoice and payments take (a few Fusion round trips), so that the second of a paid order's
#: two events usually waits once instead of coming back (a task sent again, claimed again).
ORDER_WAIT_SECONDS = 5.0


def money_lock(services: Services, shop: Shop, order_id: str):
    """The order's lock, for everything that moves money between its documents and receipts:
    the invoice, payments, refunds, edits and cancellations of one order never move one receipt
    at once. It is the invoice's own lock too (one object, one key), taken again by the same
    thread without waiting (``connector.locks``)."""
    return object_lock(services.redis, shop.id, BindingKind.order.value, order_id,
                       ttl=services.settings.lock_timeout_seconds, wait=ORDER_WAIT_SECONDS)


def skips_uninvoiced(services: Services, session: Session, shop: Shop, order: dict) -> bool:
    """An order that gets no invoice at all (see :func:`why_no_invoice`): its binding says so, with
    the reason, for the payments, refunds, edits and cancellation that follow, which then book
    nothing either. Decided only while nothing is in Fusion: an order invoiced already (or being
    invoiced) stays invoiced, and its cancellation credits it."""
    return _skips_uninvoiced(services, session, shop, order,
                             bindings.seen(session, shop.id, BindingKind.order, str(order["id"])))


def _skips_uninvoiced(services: Services, session: Session, shop: Shop, order: dict, seen: Row | None) -> bool:
    """:func:`skips_uninvoiced`, given the order's binding as just read (``bindings.seen``)."""
    if seen is not None and seen.state == BindingState.skipped:
        return True
    reason = why_no_invoice(services.settings, order)
    if not reason:
        return False
    if seen is not None and seen.state not in (BindingState.pending, BindingState.parked):
        return False
    skipped = bindings.skip(session, shop.id, BindingKind.order, str(order["id"]), order["admin_graphql_api_id"],
                            reason)
    if skipped:
        audit.record(session, "invoice.skipped", shop_id=shop.id, subject_kind=BindingKind.order.value,
                     subject_id=str(order["id"]), reason=reason)
    session.commit()
    return bool(skipped)


def why_no_invoice(settings, order: dict) -> str:
    """Why the order gets no invoice, or "" when it gets one.

    A test order (placed through a test gateway: no money moved) would put fictitious receivables
    in the ledger, so it is skipped unless MLC_INVOICE_TEST_ORDERS books it. An order cancelled
    before it was ever invoiced gets none either (MLC_INVOICE_CANCELLED_ORDERS turns that off):
    there is nothing to collect, and an invoice plus its credit memo would only add two documents
    that cancel out. Only when Shopify shows nothing either way, though (current total,
    outstanding, refund discrepancies): a cancellation that kept a fee back, or left the customer
    owed money (a paid order edited down first), is invoiced and credited like any other."""
    if order.get("test") and not settings.invoice_test_orders:
        return "a test order: no money moved (MLC_INVOICE_TEST_ORDERS books test orders)"
    if bool(order.get("cancelled_at")) and not settings.invoice_cancelled_orders and not (
            shop_amount(order, "current_total_price") or shop_amount(order, "total_outstanding")
            or order_discrepancy(order)[0]):
        return "the order was cancelled before it was invoiced and Shopify shows nothing either way"
    return ""


@dataclass(frozen=True)
class OrderResult:
    binding: Binding
    created: bool
    note: str = ""
    refused: Exception | None = None


def sync(services: Services, session: Session, shop: Shop, order: dict) -> OrderResult:
    invoice = Invoice(services, session, shop, order)
    outcome = invoice.ensure()
    return OrderResult(outcome.binding, outcome.status == create_once.Status.created, invoice.note, invoice.refused)


@dataclass
class Invoice(ShopDocument):
    """The order as placed, as one receivables invoice."""

    kind = BindingKind.order
    label = "invoice"
    follows_changes = True

    order: dict
    note: str = field(default="", init=False)
    refused: Exception | None = field(default=None, init=False)
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
        mapping = self.services.mapping.for_shop(self.shop.domain)
        purchaser = b2b.purchaser(self.order)
        if purchaser is not None:  # owed by the company: its location's account, terms and PO
            terms = b2b.payment_terms(self.order, mapping)  # a missing row parks before anything is made
            self._customer = companies.ensure_location(self.services, self.session, self.shop, purchaser)
            self._payload = build_invoice(self.order, mapping=mapping, prefix=self.shop.transaction_prefix,
                                          bill_to_account=self._customer.fusion_number,
                                          bill_to_site=(self._customer.fusion_refs or {}).get("bill_to_site", ""),
                                          payment_terms=terms, purchase_order=b2b.purchase_order(self.order))
            return
        customer = customers.following_merges(
            self.session, self.shop, customers.from_order(self.order, self.shop.domain, mapping.customers))
        self._customer = customers.ensure(self.services, self.session, self.shop, customer)
        site = customers.bill_to_site(self.services, self.session, self.shop, customer, self._customer)
        self._payload = build_invoice(self.order, mapping=mapping, prefix=self.shop.transaction_prefix,
                                      bill_to_account=self._customer.fusion_number, bill_to_site=site)

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
                               # what later documents (credit and debit memos) need to know of the order
                               "taxes_included": bool(self.order.get("taxes_included"))}
        if b2b.purchaser(self.order) is not None:  # its edits' debit memos fall due on the same terms
            binding.fusion_refs["payment_terms"] = str(invoice.get("PaymentTerms") or self._payload["PaymentTerms"])
        binding.payload_digest = bindings.digest(self.order)
        self.note = _differs(binding, self.order)
        baseline = None if self.note else _components_or_none(self.order)
        if baseline is not None:  # what later edits are measured against
            binding.fusion_refs["components"] = baseline
        return {"transaction_number": binding.fusion_number, "customer_transaction_id": binding.fusion_id,
                "total": fusion_total, "shopify_total": order_total(self.order)}

    def on_synced(self, session: Session, binding: Binding) -> None:
        """A repeat, or a change to an order that already has its invoice: its edits are booked
        as adjustments (under the invoice's lock, so two events never book one edit twice)."""
        binding.shopify_updated_at = bindings.latest(binding.shopify_updated_at, self.order.get("updated_at"))
        binding.payload_digest = bindings.digest(self.order)
        session.commit()
        try:
            self.note = adjustments.book(self.services, session, self.shop, self.order, binding)
        except (MappingError, FusionRejected) as refused:
            self.refused = refused  # raised once the order's payments are booked: they do not wait for it


def _differs(binding: Binding, order: dict) -> str:
    """Fusion computed the invoice's total differently from Shopify: a person must look."""
    invoiced = binding.fusion_refs.get("invoice_total", "")
    if not invoiced:
        return f"Fusion did not report the total of invoice {binding.fusion_number}"
    if Decimal(invoiced) != order_total(order):
        return (f"invoice {binding.fusion_number} in Fusion totals {invoiced}, the order was placed for "
                f"{order_total(order)}: its later edits are not booked until a person has looked")
    return ""


def _components_or_none(order: dict) -> dict | None:
    try:
        return components(order).as_refs()
    except MappingError:
        return None


def _entered_amount(invoice: dict) -> Decimal | None:
    amount = invoice.get("EnteredAmount")
    return None if amount is None else Decimal(str(amount))
