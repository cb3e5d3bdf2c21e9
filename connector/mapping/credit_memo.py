"""A Shopify refund as the amounts of one Fusion credit memo against the order's invoice.

The memo credits the invoice at header level: its line part is the refunded goods and shipping
net of tax (the invoice carries shipping as a line on the freight memo line), its tax part their
tax. All amounts are shop money.

- **Lines.** In a tax-exclusive shop a refund line's ``subtotal`` is net and ``total_tax`` comes
  on top; in a tax-inclusive shop the ``subtotal`` already contains the tax, so net is
  ``subtotal − total_tax``.
- **Shipping** is counted once: from ``refund_shipping_lines`` (with the tax the Admin API
  reports, which the REST webhook lacks), or, for old API versions without them, from the
  ``shipping_refund`` order adjustment.
- **The cent check.** The money the refund moved (its successful transactions, store credit
  included) must be what the memo implies: its gross total, or all that had been paid when less
  was paid. If not, nothing is posted and the refund is parked with both amounts: never a plug.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connector.mapping.invoice import MappingError, shop_amount
from connector.mapping.receipt import is_payment
from connector.shopify.orders import Transaction, instant

ZERO = Decimal("0")


@dataclass(frozen=True)
class ShippingRefund:
    subtotal: Decimal        # as the Admin API reports it (its basis is checked, see below)
    tax: Decimal


@dataclass(frozen=True)
class CreditAmounts:
    line: Decimal            # net of tax: goods and shipping
    tax: Decimal
    cash: Decimal            # what the refund's successful transactions gave back

    @property
    def gross(self) -> Decimal:
        return self.line + self.tax


def paid_before(history: list[Transaction], refund: dict) -> Decimal:
    """What the order had received, net of earlier refunds, when ``refund`` was made: the same
    figure however late the refund is processed."""
    mine = {str(t.get("id")) for t in refund.get("transactions") or []}
    made = instant(refund.get("created_at"))
    before = [t for t in history if t.id not in mine and instant(t.processed_at) <= made]
    return sum((t.amount for t in before if is_payment(t)), ZERO) - sum(
        (t.amount for t in before if t.kind == "refund" and t.status == "success"), ZERO)


def refund_cash(refund: dict) -> Decimal:
    """The money the refund gave back: successful refund transactions, store credit included."""
    return sum((shop_amount(t, "amount") for t in refund.get("transactions") or []
                if t.get("kind") == "refund" and t.get("status") == "success"), ZERO)


def credit_amounts(refund: dict, *, taxes_included: bool, shipping: list[ShippingRefund],
                   paid_before: Decimal) -> CreditAmounts:
    """What the memo credits; raises MappingError when the refund does not add up to the cent.

    ``paid_before`` is the money the order had received, net of earlier refunds, before this one.
    """
    _refuse_unbooked(refund)
    line = tax = ZERO
    for item in refund.get("refund_line_items") or []:
        subtotal, item_tax = shop_amount(item, "subtotal"), shop_amount(item, "total_tax")
        line += subtotal - item_tax if taxes_included else subtotal
        tax += item_tax
    cash = refund_cash(refund)
    # Money not capped by what had been paid is the refund's full gross: it settles shipping's basis.
    uncapped = cash < paid_before
    ship_line, ship_tax = _shipping(refund, shipping, taxes_included,
                                    expected_gross=cash - line - tax if uncapped else None)
    amounts = CreditAmounts(line + ship_line, tax + ship_tax, cash)
    expected_cash = min(amounts.gross, paid_before)
    if amounts.cash != expected_cash:
        raise MappingError(f"refund {refund.get('admin_graphql_api_id')} gave back {amounts.cash} but its "
                           f"lines and shipping come to {amounts.gross} (tax {amounts.tax}) with {paid_before} "
                           f"paid before it: nothing is posted until the difference is explained")
    return amounts


def _shipping(refund: dict, shipping: list[ShippingRefund], taxes_included: bool,
              expected_gross: Decimal | None) -> tuple[Decimal, Decimal]:
    """Shipping refunded, as (net, tax).

    Shipping's ``subtotal`` is net with its tax beside it in tax-exclusive shops. For
    tax-inclusive shops Shopify does not say; it is read as net unless only the gross reading
    makes the refund add up to its money (``expected_gross``: known when the money given back
    was not capped by what had been paid).
    """
    if shipping:
        subtotal = sum((s.subtotal for s in shipping), ZERO)
        tax = sum((s.tax for s in shipping), ZERO)
        if taxes_included and expected_gross is not None and subtotal + tax != expected_gross \
                and subtotal == expected_gross:
            return subtotal - tax, tax
        return subtotal, tax
    legacy = [a for a in refund.get("order_adjustments") or [] if a.get("kind") == "shipping_refund"]
    gross = -sum((shop_amount(a, "amount") + shop_amount(a, "tax_amount") for a in legacy), ZERO)
    tax = -sum((shop_amount(a, "tax_amount") for a in legacy), ZERO)
    return gross - tax, tax


def _refuse_unbooked(refund: dict) -> None:
    """Parts of a refund this release does not book: better parked than silently left out."""
    discrepancy = sum((shop_amount(a, "amount") + shop_amount(a, "tax_amount"))
                      for a in refund.get("order_adjustments") or [] if a.get("kind") != "shipping_refund")
    if discrepancy:
        raise MappingError(f"refund {refund.get('admin_graphql_api_id')} has a refund discrepancy of "
                           f"{discrepancy} (order adjustments), which this release does not book")
    for key, what in (("total_duties", "duties"), ("total_additional_fees", "additional fees")):
        if refund.get(f"{key}_set") and shop_amount(refund, key):
            raise MappingError(f"refund {refund.get('admin_graphql_api_id')} refunds {what} of "
                               f"{shop_amount(refund, key)}, which this release does not book")
