"""Shopify payments as Fusion standard receipts applied to the order's invoice.

One receipt per successful sale or capture, keyed by the transaction: however often an order
event repeats, and whichever event (``orders/paid``, ``orders/updated``) brings a transaction, it
is booked once. The webhook carries no transactions, so they are read from the Admin API, which
also means a late or lost ``orders/paid`` changes nothing: the next order event finds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.fusion.receipts import NewReceipt
from connector.mapping.invoice import order_total
from connector.mapping.receipt import build_receipt, is_payment
from connector.models import Binding, BindingKind, Shop
from connector.services.applications import Mover, order_documents
from connector.services.context import Services
from connector.services.documents import ShopDocument
from connector.shopify import orders as shopify_orders
from connector.shopify.orders import Transaction

#: Financial states in which no money has reached the shop yet: nothing to ask Shopify for.
NOTHING_CAPTURED = ("pending", "authorized", "voided")


def sync(services: Services, session: Session, shop: Shop, order: dict, invoice: Binding) -> list[Transaction]:
    """Book every payment of ``order`` not booked yet; returns the order's payments."""
    if order.get("financial_status") in NOTHING_CAPTURED:
        return []
    client = services.shopify(session, shop)
    session.commit()  # no transaction across the call to Shopify
    payments = [t for t in shopify_orders.transactions(client, order["admin_graphql_api_id"]) if is_payment(t)]
    for transaction in payments:
        Receipt(services, session, shop, invoice=invoice, order=order, transaction=transaction).ensure()
    return payments


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

