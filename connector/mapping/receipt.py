"""A Shopify payment transaction as one Fusion standard receipt, in shop money, to the cent.

Only money that reached the shop becomes a receipt: a successful ``sale`` or ``capture``. An
authorization promises money and moves none; a refund goes back through its credit memo. The
receipt number is derived from the transaction id, so a retry finds the receipt an uncertain
try made, and the receipt method from the payment gateway, so that gift cards (money the shop
took when the card was sold) clear the gift-card liability instead of looking like new cash.
"""
from __future__ import annotations

from decimal import Decimal

from connector.fusion.receipts import NewReceipt
from connector.mapping.config import Mapping
from connector.mapping.invoice import MappingError
from connector.shopify.orders import Transaction

PAID_KINDS = ("sale", "capture")
MAX_RECEIPT_NUMBER = 30  # Fusion's ReceiptNumber


def is_payment(transaction: Transaction) -> bool:
    """Money the shop received: a successful sale or capture of more than nothing."""
    return transaction.kind in PAID_KINDS and transaction.status == "success" and transaction.amount > 0


def receipt_number(prefix: str, transaction: Transaction) -> str:
    number = f"{prefix}-T{transaction.id}"
    if len(number) > MAX_RECEIPT_NUMBER:
        raise MappingError(f"receipt number {number!r} is longer than Fusion's {MAX_RECEIPT_NUMBER} characters")
    return number


GIFT_CARD = "gift_card"


def receipt_method(mapping: Mapping, gateway: str) -> str:
    # A gift card never falls back to the default: booked as new cash, its liability would stay.
    fallback = None if gateway == GIFT_CARD else mapping.receipt_methods.get("default")
    method = mapping.receipt_methods.get(gateway) or fallback
    if not method:
        raise MappingError(f"no Fusion receipt method for the payment gateway {gateway!r}: add "
                           f'{gateway} = "<receipt method>" under [receipt_methods] in the mapping')
    return method


def build_receipt(transaction: Transaction, *, mapping: Mapping, prefix: str, account_number: str,
                  order_name: str) -> NewReceipt:
    setup = mapping.fusion
    foreign = bool(setup.ledger_currency) and transaction.currency != setup.ledger_currency
    return NewReceipt(
        receipt_number=receipt_number(prefix, transaction), business_unit=setup.business_unit,
        receipt_method=receipt_method(mapping, transaction.gateway), amount=Decimal(transaction.amount),
        currency=transaction.currency, receipt_date=_date(transaction),
        customer_account_number=account_number,
        conversion_rate_type=setup.conversion_rate_type if foreign else None,
        comments=f"Shopify {order_name} {transaction.kind} {transaction.gid} via {transaction.gateway}"[:240])


def _date(transaction: Transaction) -> str:
    if len(transaction.processed_at or "") < 10:
        raise MappingError(f"transaction {transaction.gid} has no processed_at date")
    return transaction.processed_at[:10]  # the Admin API gives UTC instants: the UTC date
