"""What the order webhooks leave out, read over Admin GraphQL: payments, refunds, refund shipping tax,
the tax of refunded duties and fees.

REST order webhooks carry no transactions, and REST refunds carry no tax on their shipping lines
nor on their duties; GraphQL has the first and the refunded duties' original tax lines. Money is the shop's (``shopMoney``), as ``Decimal`` from Shopify's decimal strings.
Every query stays far below Shopify's single-query cost limit (1000): connections are paged with
small pages, and the lists GraphQL does not page (an order's transactions and refunds) are
truncated at a size we check, so that nothing is ever dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

import iso4217

from connector.shopify.client import ShopifyClient, ShopifyError

#: ``Order.transactions`` and ``Order.refunds`` are plain lists, not connections: one request, at
#: most this many. 100 transactions cost at most 401 points; an order with more is an error.
LIST_LIMIT = 100
#: Refund shipping lines per page (a refund rarely has more than one).
PAGE_SIZE = 10

_MONEY = "shopMoney { amount currencyCode }"

#: An order's transactions, as a selection any order query may include (:func:`transactions_of`).
TRANSACTIONS = f"""
    transactionsCount {{ count }}
    transactions(first: {LIST_LIMIT}) {{
      id kind status gateway createdAt processedAt
      amountSet {{ {_MONEY} }}
      parentTransaction {{ id }}
    }}"""

TRANSACTIONS_QUERY = f"""
query OrderTransactions($id: ID!) {{
  order(id: $id) {{ {TRANSACTIONS}
  }}
}}"""

REFUNDS_QUERY = f"""
query OrderRefunds($id: ID!) {{
  order(id: $id) {{
    refunds(first: {LIST_LIMIT}) {{ id legacyResourceId createdAt }}
  }}
}}"""

REFUND_SHIPPING_QUERY = f"""
query RefundShipping($id: ID!, $after: String) {{
  refund(id: $id) {{
    refundShippingLines(first: {PAGE_SIZE}, after: $after) {{
      nodes {{
        shippingLine {{ id }}
        subtotalAmountSet {{ {_MONEY} }}
        taxAmountSet {{ {_MONEY} }}
      }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""

_CHARGE = f"price {{ {_MONEY} }} taxLines {{ priceSet {{ {_MONEY} }} }}"
REFUND_CHARGES_QUERY = f"""
query RefundCharges($id: ID!) {{
  refund(id: $id) {{
    duties {{ amountSet {{ {_MONEY} }} originalDuty {{ id {_CHARGE} }} }}
    additionalFees {{ amountSet {{ {_MONEY} }} originalAdditionalFee {{ id {_CHARGE} }} }}
  }}
}}"""


@dataclass(frozen=True)
class Transaction:
    """``kind`` and ``status`` are spelt as in REST and webhooks (``sale``, ``success``), so that
    code comparing them need not know which API a transaction came from."""
    id: str            # the numeric id, as REST and the order webhooks write it
    gid: str
    kind: str
    status: str
    gateway: str
    amount: Decimal    # shop money
    currency: str      # the shop's currency
    processed_at: str  # GraphQL's DateTime (UTC); the creation time when Shopify gives none
    parent_id: str | None


@dataclass(frozen=True)
class RefundSummary:
    id: str
    gid: str
    created_at: str


@dataclass(frozen=True)
class RefundShipping:
    shipping_line_id: str  # numeric, as REST's refund_shipping_lines[].shipping_line_id
    subtotal: Decimal      # shop money
    tax: Decimal           # shop money


def transactions(client: ShopifyClient, order_gid: str) -> list[Transaction]:
    """All of the order's transactions, oldest first (creation time, then id), so that callers
    meet payments in the order Shopify took them, whatever order the API lists them in."""
    return transactions_of(client, _order(client, TRANSACTIONS_QUERY, order_gid))


def transactions_of(client: ShopifyClient, order: dict) -> list[Transaction]:
    """The transactions of an order read with :data:`TRANSACTIONS`, oldest first."""
    order_gid = order.get("id", "")
    rows = order["transactions"]
    count = (order.get("transactionsCount") or {}).get("count", len(rows))
    if count > len(rows):
        raise ShopifyError(f"{client.connection.domain}: order {order_gid} has {count} transactions; "
                           f"the connector reads at most {LIST_LIMIT}")
    rows = sorted(rows, key=lambda row: (instant(row["createdAt"]), int(numeric_id(row["id"]))))
    return [_transaction(row) for row in rows]


def refunds(client: ShopifyClient, order_gid: str) -> list[RefundSummary]:
    """The order's refunds in creation order: a refund's place in this list is stable, so the
    connector may number its credit memo by it."""
    rows = _order(client, REFUNDS_QUERY, order_gid)["refunds"]
    if len(rows) >= LIST_LIMIT:
        raise ShopifyError(f"{client.connection.domain}: order {order_gid} has {LIST_LIMIT} refunds or more; "
                           f"the connector reads at most {LIST_LIMIT - 1}")
    found = [RefundSummary(id=str(row["legacyResourceId"]), gid=row["id"], created_at=row["createdAt"] or "")
             for row in rows]
    return sorted(found, key=lambda r: (instant(r.created_at), int(r.id)))


def refund_shipping(client: ShopifyClient, refund_gid: str) -> list[RefundShipping]:
    """The refund's shipping lines with their tax, which REST refunds do not carry."""
    lines: list[RefundShipping] = []
    after = None
    while True:
        refund = client.graphql(REFUND_SHIPPING_QUERY, {"id": refund_gid, "after": after})["refund"]
        if refund is None:
            raise ShopifyError(f"{client.connection.domain}: refund {refund_gid} not found")
        page = refund["refundShippingLines"]
        lines += [RefundShipping(shipping_line_id=numeric_id(node["shippingLine"]["id"]),
                                 subtotal=_amount(node["subtotalAmountSet"]), tax=_amount(node["taxAmountSet"]))
                  for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return lines
        after = page["pageInfo"]["endCursor"]


@dataclass(frozen=True)
class RefundCharge:
    gid: str               # the duty's or additional fee's GID
    amount: Decimal        # shop money, in the order's price basis
    tax: Decimal           # shop money


def refund_charges(client: ShopifyClient, refund_gid: str) -> list[RefundCharge]:
    """The duties and additional fees the refund gives back, each with its tax. Shopify reports no
    tax on a refunded duty or fee: it is the original's tax lines pro rata by the amount refunded,
    rounded half up to the currency's unit (the whole tax when the whole charge is refunded)."""
    refund = client.graphql(REFUND_CHARGES_QUERY, {"id": refund_gid})["refund"]
    if refund is None:
        raise ShopifyError(f"{client.connection.domain}: refund {refund_gid} not found")
    found = []
    for rows, key in ((refund.get("duties") or [], "originalDuty"),
                      (refund.get("additionalFees") or [], "originalAdditionalFee")):
        for row in rows:
            original = row.get(key)
            if original is None:
                raise ShopifyError(f"{client.connection.domain}: refund {refund_gid} refunds a duty or fee "
                                   "Shopify no longer names")
            amount, price = _amount(row["amountSet"]), _amount(original["price"])
            tax = sum((_amount(t["priceSet"]) for t in original.get("taxLines") or []), Decimal(0))
            if amount != price and price:
                tax = _rounded(tax * amount / price, row["amountSet"]["shopMoney"]["currencyCode"])
            found.append(RefundCharge(gid=original["id"], amount=amount, tax=tax))
    return found


def _rounded(value: Decimal, currency: str) -> Decimal:
    """Half up to the currency's minor unit (ISO 4217; two when the table has none)."""
    try:
        minor = iso4217.Currency[currency.upper()].exponent
    except KeyError:
        minor = None
    return value.quantize(Decimal(1).scaleb(-(2 if minor is None else minor)), rounding=ROUND_HALF_UP)


def numeric_id(gid: str) -> str:
    """``gid://shopify/OrderTransaction/123`` → ``"123"`` (a GID may carry ``?parameters``)."""
    tail = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    if not tail.isdigit():
        raise ShopifyError(f"{gid!r} is not a Shopify GID")
    return tail


def _order(client: ShopifyClient, query: str, order_gid: str) -> dict:
    order = client.graphql(query, {"id": order_gid})["order"]
    if order is None:
        raise ShopifyError(f"{client.connection.domain}: order {order_gid} not found")
    return order


def _transaction(row: dict) -> Transaction:
    money = row["amountSet"]["shopMoney"]
    parent = row.get("parentTransaction")
    return Transaction(id=numeric_id(row["id"]), gid=row["id"], kind=row["kind"].lower(),
                       status=row["status"].lower(), gateway=row.get("gateway") or "",
                       amount=_decimal(money["amount"]), currency=money["currencyCode"],
                       processed_at=row.get("processedAt") or row["createdAt"],
                       parent_id=numeric_id(parent["id"]) if parent else None)


def _amount(bag: dict) -> Decimal:
    return _decimal(bag["shopMoney"]["amount"])


def _decimal(value) -> Decimal:
    # Shopify's Decimal scalar is a string; a JSON number would already have been through a float.
    if not isinstance(value, str):
        raise ShopifyError(f"amount {value!r} is not a decimal string")
    return Decimal(value)


def instant(value: str | None) -> datetime:
    """Times compared as instants: Shopify may write them with any UTC offset."""
    if not value:
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
