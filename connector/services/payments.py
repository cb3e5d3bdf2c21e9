"""Shopify payments as Fusion standard receipts applied to the order's invoice.

One receipt per successful sale or capture, keyed by the transaction: however often an order
event repeats, and whichever event (``orders/paid``, ``orders/updated``) brings a transaction, it
is booked once. The webhook carries no transactions, so they are read from the Admin API, which
also means a late or lost ``orders/paid`` changes nothing: the next order event finds them.

The echo rule: a payment the connector itself recorded in Shopify for a receipt a person entered
in Fusion (:mod:`connector.services.fusion_receipts`) is bound to that receipt by the push, so
the ``orders/paid`` it fires finds it booked and creates nothing. While such a push of the order
has an outcome nobody knows yet, a payment that appeared since it started may be its echo: the
order event waits for the push instead of booking it as new money.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connector.fusion.receipts import NewReceipt
from connector.locks import Busy
from connector.mapping.invoice import order_total
from connector.mapping.receipt import build_receipt, is_payment
from connector.models import Binding, BindingKind, BindingState, Shop, utcnow
from connector.services.applications import Mover, order_documents
from connector.services.context import Services
from connector.services.documents import ShopDocument
from connector.shopify import orders as shopify_orders
from connector.shopify.orders import Transaction

#: The pushes of an order whose outcome is not known, read for every paid order: built once.
_PUSHES_IN_DOUBT = select(Binding).where(
    Binding.shop_id == bindparam("shop_id"), Binding.kind == BindingKind.fusion_receipt,
    Binding.shopify_id.like(bindparam("prefix")), Binding.state == BindingState.creating)
#: Financial states in which no money has reached the shop yet: nothing to ask Shopify for.
NOTHING_CAPTURED = ("pending", "authorized", "voided")


def sync(services: Services, session: Session, shop: Shop, order: dict, invoice: Binding) -> list[Transaction]:
    """Book every payment of ``order`` not booked yet; returns the order's payments."""
    if order.get("financial_status") in NOTHING_CAPTURED:
        return []
    client = services.shopify(session, shop)
    session.commit()  # no transaction across the call to Shopify
    payments = [t for t in shopify_orders.transactions(client, order["admin_graphql_api_id"]) if is_payment(t)]
    wait_for_pushes(session, shop, str(order["id"]), payments)  # read after the payments: see echoes()
    for transaction in payments:
        Receipt(services, session, shop, invoice=invoice, order=order, transaction=transaction).ensure()
    return payments


def wait_for_pushes(session: Session, shop: Shop, order_id: str, payments: list[Transaction]) -> None:
    """Raise Busy while a payment may be the echo of a push to Shopify whose outcome is not known.

    Read after the order's payments were read from Shopify: a push claims (``creating``) before
    its mutation, so a payment that was in that read is either bound by the push or covered by
    a claim seen here."""
    in_doubt = session.scalars(_PUSHES_IN_DOUBT, {"shop_id": shop.id, "prefix": f"{order_id}:%"}).all()
    bound = set(session.scalars(select(Binding.shopify_id).where(
        Binding.shop_id == shop.id, Binding.kind == BindingKind.payment, Binding.state == BindingState.synced,
        Binding.shopify_id.in_([t.id for t in payments])))) if in_doubt and payments else set()
    session.commit()
    unknown = echoes(payments, [(b.fusion_refs or {}).get("plan") or {} for b in in_doubt], bound)
    if unknown:
        until = min((b.claimed_until for b in in_doubt if b.claimed_until), default=None)
        wait = max(1.0, (until - utcnow()).total_seconds()) if until and until > utcnow() else 15.0
        raise Busy(f"payment {', '.join(t.id for t in unknown)} of order {order_id} may be what a push of a "
                   f"receipt entered in Fusion recorded in Shopify; waiting for that push", retry_after=wait)


def echoes(payments: list[Transaction], plans: list[dict], bound: set[str]) -> list[Transaction]:
    """The payments that may be the echo of a push in doubt: not bound yet, and not among the
    order's payments the push saw before it recorded its own (``plan["before"]``)."""
    if not plans:
        return []
    seen = set().union(*(set(plan.get("before") or []) for plan in plans))
    return [t for t in payments if t.id not in bound and t.id not in seen]


def covers(order: dict, payments: list[Transaction]) -> bool:
    """Whether the payments read account for all the order state says was paid: nothing was to
    be captured, or the order is paid in full as placed. Anything else (partly paid, refunded,
    edited) is looked at again by its next event, which costs one read of Shopify."""
    if order.get("financial_status") in NOTHING_CAPTURED:
        return True
    return order.get("financial_status") == "paid" and \
        sum((t.amount for t in payments), Decimal(0)) == order_total(order)


@dataclass
class Receipt(ShopDocument):
    """One payment transaction as a standard receipt, applied to the order's invoice."""

    kind = BindingKind.payment
    label = "receipt"

    invoice: Binding
    order: dict
    transaction: Transaction
    _receipt: NewReceipt | None = field(default=None, init=False)
    _created: dict | None = field(default=None, init=False)
    _documents: list[str] = field(default_factory=list, init=False)

    @property
    def shopify_id(self) -> str:
        return self.transaction.id

    @property
    def gid(self) -> str:
        return self.transaction.gid

    def prepare(self) -> None:
        super().prepare()
        self._documents = order_documents(self.session, self.invoice)
        self._receipt = build_receipt(self.transaction, mapping=self.services.mapping.for_shop(self.shop.domain),
                                      prefix=self.shop.transaction_prefix,
                                      account_number=self.invoice.fusion_refs.get("customer_account", ""),
                                      order_name=str(self.order.get("name", "")))

    def number(self) -> str:
        return self._receipt.receipt_number

    def find(self) -> dict | None:
        return self.fusion.receipts.find(self._receipt.business_unit, self._receipt.receipt_number)

    def create(self) -> dict:
        self._created = self.fusion.receipts.create(self._receipt)
        return self._created

    def complete(self, receipt: dict) -> dict:
        """Apply what the receipt holds to the order's open invoice (then debit memos).

        A receipt this attempt has just created holds its whole amount unapplied, so that is
        applied without asking Fusion first, and what is left is known without asking after.
        Any other (adopted after a doubt) is read first: after an apply whose answer was lost,
        the receipt's unapplied amount says whether it landed.
        """
        receipt_id = str(receipt["StandardReceiptId"])
        if receipt is self._created:
            left = self._mover().put_back(receipt_id, self._documents, unapplied=self._receipt.amount)
            return dict(receipt, UnappliedAmount=str(left))
        self._mover().put_back(receipt_id, self._documents)
        return self.fusion.receipts.get(receipt_id)

    def _mover(self) -> Mover:
        return Mover.of(self.services, self.fusion, self._receipt.business_unit, self.invoice, self.transaction.gid)

    def bind(self, session: Session, binding: Binding, receipt: dict) -> dict:
        binding.fusion_id = str(receipt["StandardReceiptId"])
        binding.fusion_number = str(receipt.get("ReceiptNumber") or self._receipt.receipt_number)
        amount, unapplied = str(receipt.get("Amount", "")), str(receipt.get("UnappliedAmount", ""))
        binding.fusion_refs = {"invoice_id": self.invoice.fusion_id, "order_id": self.invoice.shopify_id,
                               "amount": amount, "unapplied": unapplied, "gateway": self.transaction.gateway,
                               "currency": self.transaction.currency}
        return {"receipt_number": binding.fusion_number, "standard_receipt_id": binding.fusion_id,
                "amount": amount, "unapplied": unapplied, "transaction": self.transaction.gid,
                "invoice": self.invoice.fusion_number}

