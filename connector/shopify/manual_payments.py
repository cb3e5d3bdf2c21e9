"""Recording on a Shopify order money the shop received outside Shopify (a bank transfer booked in
Fusion): what the order still owes, and the two mutations that record a manual payment.

``orderMarkAsPaid`` records a sale of the whole outstanding amount (reference: it works on an
order with an outstanding balance, and fires ``orders/paid`` and ``orders/updated``).
``orderCreateManualPayment`` records a chosen ``amount``; it is in Shopify's unstable 2025-09
schema and not in 2025-01, so whether a shop's API version has it is not confirmed
(``MLC_FUSION_RECEIPT_PARTIAL=off`` leaves partial payments alone). Neither mutation answers
with the transaction it made, only with the order: the caller tells the new transaction from the
ones it saw before.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector.shopify.client import ShopifyClient, ShopifyError
from connector.shopify.orders import TRANSACTIONS, Transaction, transactions_of

_MONEY = "shopMoney { amount currencyCode }"
_ORDER = f"""
    id displayFinancialStatus cancelledAt
    totalOutstandingSet {{ {_MONEY} }} {TRANSACTIONS}"""

BALANCE_QUERY = f"query OrderBalance($id: ID!) {{ order(id: $id) {{ {_ORDER} }} }}"

MARK_AS_PAID = f"""
mutation MarkAsPaid($input: OrderMarkAsPaidInput!) {{
  orderMarkAsPaid(input: $input) {{ order {{ {_ORDER} }} userErrors {{ field message }} }}
}}"""

MANUAL_PAYMENT = f"""
mutation ManualPayment($id: ID!, $amount: MoneyInput!, $method: String, $processedAt: DateTime) {{
  orderCreateManualPayment(id: $id, amount: $amount, paymentMethodName: $method, processedAt: $processedAt) {{
    order {{ {_ORDER} }} userErrors {{ field message code }}
  }}
}}"""


class PaymentRefused(ShopifyError):
    """Shopify answered with ``userErrors``: it recorded nothing."""


@dataclass(frozen=True)
class OrderBalance:
    gid: str
    financial_status: str          # displayFinancialStatus, lower case (``pending``, ``partially_paid``…)
    cancelled: bool
    outstanding: Decimal           # shop money
    currency: str                  # the shop's currency
    transactions: tuple[Transaction, ...]


def balance(client: ShopifyClient, order_gid: str) -> OrderBalance:
    order = client.graphql(BALANCE_QUERY, {"id": order_gid})["order"]
    if order is None:
        raise ShopifyError(f"{client.connection.domain}: order {order_gid} not found")
    return _balance(client, order)


def mark_as_paid(client: ShopifyClient, order_gid: str) -> OrderBalance:
    """The order after Shopify recorded a sale of its whole outstanding amount."""
    answer = client.graphql(MARK_AS_PAID, {"input": {"id": order_gid}})["orderMarkAsPaid"]
    return _answered(client, answer, "orderMarkAsPaid")


def create_manual_payment(client: ShopifyClient, order_gid: str, amount: Decimal, currency: str,
                          method: str | None = None, processed_at: str | None = None) -> OrderBalance:
    """The order after Shopify recorded a manual payment of ``amount`` (shop money)."""
    answer = client.graphql(MANUAL_PAYMENT, {"id": order_gid, "amount": {"amount": str(amount), "currencyCode": currency},
                                             "method": method, "processedAt": processed_at})
    return _answered(client, answer["orderCreateManualPayment"], "orderCreateManualPayment")


def _answered(client: ShopifyClient, answer: dict, mutation: str) -> OrderBalance:
    if answer.get("userErrors"):
        messages = "; ".join(f"{e.get('code') or ''} {e.get('message')}".strip() for e in answer["userErrors"])
        raise PaymentRefused(f"{client.connection.domain}: {mutation} refused: {messages}")
    if answer.get("order") is None:
        raise ShopifyError(f"{client.connection.domain}: {mutation} answered no order")
    return _balance(client, answer["order"])


def _balance(client: ShopifyClient, order: dict) -> OrderBalance:
    money = order["totalOutstandingSet"]["shopMoney"]
    return OrderBalance(gid=order["id"], financial_status=str(order["displayFinancialStatus"] or "").lower(),
                        cancelled=bool(order.get("cancelledAt")), outstanding=Decimal(money["amount"]),
                        currency=money["currencyCode"], transactions=tuple(transactions_of(client, order)))
