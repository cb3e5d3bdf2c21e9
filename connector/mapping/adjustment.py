"""An order edit after invoicing, as what Fusion must add (a debit memo) or take away (a credit
memo), per component: merchandise, shipping, duties, additional fees, their taxes and tips.

The invoice is the order as placed and is never changed. What an edit did is the difference
between the order's components now and those already booked (the invoice's, plus every
adjustment since). ``total_price`` moves with edits, not with refunds (those move
``current_total_price`` and have their own credit memos), so edits and refunds never count the
same money twice.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import ROUND_DOWN, Decimal

from connector.mapping.config import Mapping
from connector.mapping.invoice import (
    ZERO,
    MappingError,
    additional_fees,
    charge_price,
    charge_tax,
    duties,
    merchandise_line,
    order_total,
    shop_amount,
    tax_lines,
    transaction_number,
)


@dataclass(frozen=True)
class Components:
    """An order's money by component, in shop money and in the order's price basis (gross of tax
    in a tax-inclusive shop, net otherwise)."""

    merchandise: Decimal = ZERO      # line items after their discounts
    merchandise_tax: Decimal = ZERO
    shipping: Decimal = ZERO         # shipping lines after their discounts
    shipping_tax: Decimal = ZERO
    tip: Decimal = ZERO
    duties: Decimal = ZERO           # the line items' duties
    duties_tax: Decimal = ZERO
    additional_fees: Decimal = ZERO
    additional_fees_tax: Decimal = ZERO

    @property
    def tax(self) -> Decimal:
        return self.merchandise_tax + self.shipping_tax + self.duties_tax + self.additional_fees_tax

    @property
    def gross(self) -> Decimal:
        """Every amount in the order's price basis, taxes aside."""
        return self.merchandise + self.shipping + self.duties + self.additional_fees + self.tip

    def total(self, taxes_included: bool) -> Decimal:
        return self.gross + (ZERO if taxes_included else self.tax)

    def __add__(self, other: "Components") -> "Components":
        return Components(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: "Components") -> "Components":
        return Components(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def __neg__(self) -> "Components":
        return Components() - self

    def split(self) -> tuple["Components", "Components"]:
        """(what rose, what fell), each with amounts of zero or more."""
        up = Components(*(max(getattr(self, f.name), ZERO) for f in fields(self)))
        return up, up - self

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def as_refs(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_refs(cls, refs: dict | None) -> "Components":
        return cls(**{name: Decimal(value) for name, value in (refs or {}).items()})


def components(order: dict) -> Components:
    """The order's components as Shopify reports them now; they must add up to ``total_price``.

    Merchandise tax is the order's ``total_tax`` less the tax of its shipping, duties and fees: a
    line's ``quantity`` and ``tax_lines`` still count units an edit removed (Shopify's schema says
    so), while the order's totals follow the edit."""
    shipping = [s for s in order.get("shipping_lines") or [] if not s.get("is_removed")]
    shipping_tax = sum((shop_amount(t, "price") for s in shipping for t in s.get("tax_lines") or []), ZERO)
    charged = [duty for _, duty in duties(order)]
    fees = additional_fees(order)
    duties_tax = sum((charge_tax(d) for d in charged), ZERO)
    fees_tax = sum((charge_tax(f) for f in fees), ZERO)
    found = Components(
        merchandise=shop_amount(order, "subtotal_price"),
        merchandise_tax=shop_amount(order, "total_tax") - shipping_tax - duties_tax - fees_tax,
        shipping=sum((shop_amount(s, "discounted_price") for s in shipping), ZERO),
        shipping_tax=shipping_tax,
        tip=shop_amount(order, "total_tip_received"),
        duties=sum((charge_price(d) for d in charged), ZERO), duties_tax=duties_tax,
        additional_fees=sum((charge_price(f) for f in fees), ZERO), additional_fees_tax=fees_tax)
    inclusive = bool(order.get("taxes_included"))
    if found.total(inclusive) != order_total(order):
        raise MappingError(f"the order's components add up to {found.total(inclusive)} but its total is "
                           f"{order_total(order)}: its edit cannot be split into merchandise, shipping, duties, fees and tax")
    return found


def net_and_tax(change: Components, taxes_included: bool) -> tuple[Decimal, Decimal]:
    """A change as (net of tax, tax): what a credit memo's line and tax parts take."""
    return (change.gross - change.tax if taxes_included else change.gross), change.tax


def adjustment_number(order: dict, prefix: str, letter: str, sequence: int | str) -> str:
    """``<invoice number>-<letter><sequence>``: D for debit memos, E for credit memos of edits."""
    number = f"{transaction_number(prefix, order)}-{letter}{sequence}"
    if len(number) > 20:
        raise MappingError(f"adjustment number {number!r} is longer than Fusion's 20 characters")
    return number


@dataclass(frozen=True)
class DebitLine:
    """One line of a debit memo: an amount in the order's price basis, its tax, where it goes."""

    description: str
    amount: Decimal
    tax: Decimal
    memo_line: str
    account: str


@dataclass(frozen=True)
class DebitHeader:
    """What a debit memo says about itself: which order it belongs to and why it exists."""

    number: str
    bill_to_account: str
    currency: str
    day: str                  # YYYY-MM-DD: the transaction and accounting date
    purchase_order: str       # the Shopify order name, as on the invoice
    comments: str
    payment_terms: str = ""   # the invoice's own terms (a B2B order's); '' the mapping's


def build_debit_memo(order: dict, rise: Components, *, mapping: Mapping, number: str, bill_to_account: str,
                     invoice_number: str, payment_terms: str = "") -> dict:
    """A debit memo for what an edit added: one line per component that rose, with its tax, due on
    the invoice's ``payment_terms`` when it has its own (a B2B order's)."""
    memo, gl = mapping.memo_lines, mapping.gl
    currency = ((order.get("total_price_set") or {}).get("shop_money") or {}).get("currency_code") \
        or order.get("currency") or ""
    header = DebitHeader(number, bill_to_account, currency,
                         (order.get("updated_at") or order.get("processed_at") or "")[:10],
                         str(order.get("name", "")),
                         f"Shopify order {order.get('name', '')} edited after invoice {invoice_number}",
                         payment_terms)
    return debit_memo(header, [
        *merchandise_debit_lines(order, rise.merchandise, rise.merchandise_tax, mapping),
        DebitLine("Order edit: shipping", rise.shipping, rise.shipping_tax, memo.shipping, gl.freight),
        DebitLine("Order edit: tip", rise.tip, ZERO, memo.tip, gl.tips),
        DebitLine("Order edit: duties", rise.duties, rise.duties_tax, memo.duties, gl.duties),
        DebitLine("Order edit: additional fees", rise.additional_fees, rise.additional_fees_tax,
                  memo.additional_fees, gl.additional_fees)],
        mapping=mapping, inclusive=bool(order.get("taxes_included")), why="an edit raised the order's total")


def merchandise_debit_lines(order: dict, amount: Decimal, tax: Decimal, mapping: Mapping) -> list[DebitLine]:
    """The merchandise an edit added, on the revenue account of the order's lines
    (``[[gl.revenue_rules]]``, else ``gl.revenue``). An edit's rise is one amount for the whole
    order: when its lines book to several accounts, it is spread over them in proportion to each
    account's lines as they stand (price × current quantity), cent by cent, so the parts add up to
    the rise exactly. Gift cards stay with the merchandise, as on the invoice before rules."""
    weights: dict[tuple[str, str], Decimal] = {}
    for item in order.get("line_items") or []:
        quantity = int(item.get("current_quantity", item.get("quantity")) or 0)
        if item.get("gift_card") or quantity <= 0:
            continue
        where = merchandise_line(mapping, item)
        weights[where] = weights.get(where, ZERO) + shop_amount(item, "price") * quantity
    if len(weights) <= 1 or not sum(weights.values(), ZERO):
        memo_line, account = next(iter(weights), (mapping.memo_lines.merchandise, mapping.gl.revenue))
        return [DebitLine("Order edit: merchandise", amount, tax, memo_line, account)]
    amounts, taxes = pro_rata(amount, list(weights.values())), pro_rata(tax, list(weights.values()))
    return [DebitLine("Order edit: merchandise", part, part_tax, memo_line, account)
            for (memo_line, account), part, part_tax in zip(weights, amounts, taxes)]


def pro_rata(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights`` in its own smallest unit, the units left over
    by rounding down going to the largest remainders: the parts add up to ``amount`` exactly."""
    unit = Decimal(1).scaleb(min(amount.as_tuple().exponent, 0))
    total = sum(weights, ZERO)
    exact = [amount * weight / total for weight in weights]
    parts = [share.quantize(unit, ROUND_DOWN) for share in exact]
    left = int((amount - sum(parts, ZERO)) / unit)
    step = unit if left > 0 else -unit
    for index in sorted(range(len(parts)), key=lambda i: abs(exact[i] - parts[i]), reverse=True)[:abs(left)]:
        parts[index] += step
    return parts


def debit_memo(header: DebitHeader, parts: list[DebitLine], *, mapping: Mapping, inclusive: bool, why: str) -> dict:
    """A debit memo of the order's customer: one line per part with an amount, each with its tax
    and its revenue distribution."""
    setup = mapping.fusion
    if not setup.debit_memo_type:
        raise MappingError(f"{why} but the mapping names no debit memo type: set fusion.debit_memo_type")
    lines, distributions = [], []
    for part in parts:
        if not part.amount and not part.tax:
            continue
        if not part.memo_line or not part.account:
            raise MappingError(f"{why} with {part.description.lower()}: add its memo line and account "
                               "([memo_lines], [gl]) to the mapping")
        line = {"LineNumber": len(lines) + 1, "Description": part.description, "Quantity": 1,
                "UnitSellingPrice": part.amount, "MemoLine": part.memo_line}
        if inclusive:
            line["LineAmountIncludesTax"] = "Y"
        taxes = tax_lines({"tax_lines": [{"price": str(part.tax)}]}, mapping, inclusive)
        if taxes:
            line["receivablesInvoiceLineTaxLines"] = taxes
        lines.append(line)
        distributions.append({"InvoiceLineNumber": line["LineNumber"], "AccountClass": "Revenue",
                              "AccountCombination": part.account, "Percent": 100})
    debit = {
        "BusinessUnit": setup.business_unit, "TransactionSource": setup.transaction_source,
        "TransactionType": setup.debit_memo_type, "TransactionNumber": header.number,
        "TransactionDate": header.day, "AccountingDate": header.day,
        "BillToCustomerNumber": header.bill_to_account, "PaymentTerms": header.payment_terms or setup.payment_terms,
        "InvoiceCurrencyCode": header.currency, "PurchaseOrder": header.purchase_order[:50],
        "Comments": header.comments[:1760],
        "receivablesInvoiceLines": lines, "receivablesInvoiceDistributions": distributions}
    if setup.ledger_currency and header.currency != setup.ledger_currency:
        debit["ConversionRateType"] = setup.conversion_rate_type
        debit["ConversionDate"] = header.day
    return debit
