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
- **Duties and additional fees** refunded are credited with the goods: their amount in the line
  part (net of their tax in a tax-inclusive shop), their tax in the tax part. REST refunds give
  each refunded duty's amount (``duties[].amount_set``) but no tax: the tax is the original duty's
  (or fee's) tax lines pro rata by amount, from GraphQL (``ChargeRefund``).
- **Discrepancies.** Shopify records what a customer got less or more than the refund's lines and
  shipping as order adjustments ("calculated minus actual refund", by reason: a restocking fee,
  damage, an amount-only refund). What the merchant kept (positive) is charged on a debit memo,
  one line per reason on the mapping's ``[refund_adjustments]`` memo line and account; what the
  customer got beyond the lines (negative) is credited as a memo of its own.
- **The cent check.** The money the refund moved (its successful transactions, store credit
  included) must be what the documents imply: the memo's gross total (lines, shipping, duties,
  fees and their taxes), or all that had been paid
  when less was paid, less what was kept, plus what was given beyond. If not, nothing is posted
  and the refund is parked with both amounts: never a plug.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from connector.mapping.adjustment import DebitHeader, DebitLine
from connector.mapping.config import Mapping
from connector.mapping.invoice import MappingError, shop_amount
from connector.mapping.receipt import is_payment
from connector.shopify.orders import Transaction, instant

ZERO = Decimal("0")


@dataclass(frozen=True)
class ShippingRefund:
    subtotal: Decimal        # as the Admin API reports it (its basis is checked, see below)
    tax: Decimal


@dataclass(frozen=True)
class ChargeRefund:
    """A refunded duty or additional fee: its amount in the order's price basis, and its tax."""
    amount: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Discrepancy:
    """What one reason of a refund's order adjustments moved: positive when the customer got less
    than the refund's lines and shipping (the merchant kept it), negative when more."""

    reason: str              # normalised: refund_discrepancy, restock, damage, …
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class CreditAmounts:
    line: Decimal            # net of tax: goods and shipping
    tax: Decimal
    cash: Decimal            # what the refund's successful transactions gave back
    kept: tuple[Discrepancy, ...] = ()      # charged back on a debit memo, each positive
    given_line: Decimal = ZERO              # credited beyond the goods (an amount-only refund)
    given_tax: Decimal = ZERO
    tip: Decimal = ZERO                     # of ``line``: a tip given back (no tax)

    @property
    def gross(self) -> Decimal:
        return self.line + self.tax

    @property
    def kept_gross(self) -> Decimal:
        return sum((k.gross for k in self.kept), ZERO)

    @property
    def given_gross(self) -> Decimal:
        return self.given_line + self.given_tax


def discrepancies(refund: dict) -> list[Discrepancy]:
    """The refund's non-shipping order adjustments, summed per reason."""
    by_reason: dict[str, tuple[Decimal, Decimal]] = {}
    for adjustment in refund.get("order_adjustments") or []:
        if adjustment.get("kind") == "shipping_refund":
            continue
        reason = reason_key(adjustment.get("reason") or adjustment.get("kind") or "refund_discrepancy")
        net, tax = by_reason.get(reason, (ZERO, ZERO))
        by_reason[reason] = (net + shop_amount(adjustment, "amount"), tax + shop_amount(adjustment, "tax_amount"))
    return [Discrepancy(reason, net, tax) for reason, (net, tax) in by_reason.items() if net or tax]


def reason_key(reason: str) -> str:
    """``Refund discrepancy``, ``REFUND_DISCREPANCY`` and ``refund_discrepancy`` are one key."""
    return "_".join(str(reason).lower().replace("-", " ").split())


def absorb(amounts: CreditAmounts, over_line: Decimal, over_tax: Decimal, *,
           spare_line: Decimal = ZERO, spare_tax: Decimal = ZERO) -> CreditAmounts:
    """The amounts once goods the documents no longer hold are left out of the credit.

    An earlier refund that gave money beyond its lines (an amount-only refund) credited the
    invoice already; when the goods are returned after all, Shopify keeps that money back from
    this refund (a discrepancy in the merchant's favour). The two are one and the same money: it
    is neither credited again nor charged back. That earlier credit took only from the invoice's
    line part (Shopify puts no tax on it), so what still does not fit one part after that moves
    to the other part's spare room (``spare_line``/``spare_tax``): the documents' total is what
    Shopify's is, to the cent. Anything else beyond the documents is refused.
    """
    taken = min(over_line + over_tax, amounts.kept_gross)
    from_line = min(taken, over_line)
    line, tax = amounts.line - from_line, amounts.tax - (taken - from_line)
    over_line, over_tax = over_line - from_line, over_tax - (taken - from_line)
    if over_line > spare_tax or over_tax > spare_line:
        raise MappingError(f"the refund credits {over_line} net and {over_tax} tax more than the order's "
                           "documents hold")
    line, tax = line - over_line + over_tax, tax - over_tax + over_line
    kept, left = [], taken
    for k in amounts.kept:
        take = min(left, k.gross)
        left -= take
        take_tax = min(take, k.tax)
        if k.gross - take:
            kept.append(Discrepancy(k.reason, k.net - (take - take_tax), k.tax - take_tax))
    return replace(amounts, line=line, tax=tax, kept=tuple(kept))


def kept_lines(amounts: CreditAmounts, mapping: Mapping, *, taxes_included: bool, refund_gid: str) -> list[DebitLine]:
    """The debit memo lines charging what a refund kept back: one per reason, on the memo line and
    account the mapping's ``[refund_adjustments]`` gives it."""
    lines = []
    for kept in amounts.kept:
        where = mapping.kept_line(kept.reason)
        if where is None:
            raise MappingError(f"refund {refund_gid} kept {kept.gross} back from the customer ({kept.reason}): "
                               f"add [refund_adjustments.{kept.reason}] (or .default) with a memo_line and "
                               "account to the mapping")
        lines.append(DebitLine(f"Shopify refund: {kept.reason.replace('_', ' ')}",
                               kept.gross if taxes_included else kept.net, kept.tax, where.memo_line, where.account))
    return lines


def order_discrepancy(order: dict) -> tuple[Decimal, Decimal]:
    """(gross, tax) of every refund discrepancy of the order: what its customer owes on top of
    ``current_total_price``, which Shopify computes from what was returned alone."""
    found = [d for refund in order.get("refunds") or [] for d in discrepancies(refund)]
    return sum((d.gross for d in found), ZERO), sum((d.tax for d in found), ZERO)


def paid_before(history: list[Transaction], refund: dict) -> Decimal:
    """What the order had received, net of earlier refunds, when ``refund`` was made: the same
    figure however late the refund is processed."""
    mine = {str(t.get("id")) for t in refund.get("transactions") or []}
    made = instant(refund.get("created_at"))
    before = [t for t in history if t.id not in mine and instant(t.processed_at) <= made]
    return sum((t.amount for t in before if is_payment(t)), ZERO) - sum(
        (t.amount for t in before if t.kind == "refund" and t.status == "success"), ZERO)


def refund_cash(refund: dict, history: list[Transaction] | None = None) -> Decimal:
    """The money the refund gave back: successful refund transactions, store credit included,
    in shop money. A ``refunds/create`` webhook gives each transaction's ``amount`` only, which is
    presentment money: the order's transactions from the Admin API (``history``) say what it was
    in the shop's currency."""
    if history is None:
        given = [t for t in refund.get("transactions") or [] if t.get("kind") == "refund" and t.get("status") == "success"]
        return sum((shop_amount(t, "amount") for t in given), ZERO)
    # The status too is the Admin API's: a transaction pending when the webhook was sent may
    # have settled since (the webhook's copy never changes).
    status = {t.id: t.status for t in history}
    given = [t for t in refund.get("transactions") or [] if t.get("kind") == "refund"
             and status.get(str(t.get("id")), t.get("status")) == "success"]
    shop_money = {t.id: t.amount for t in history}
    missing = [str(t.get("id")) for t in given if str(t.get("id")) not in shop_money]
    if missing:
        raise MappingError(f"refund {refund.get('admin_graphql_api_id')}: transaction {', '.join(missing)} is not "
                           "among the order's transactions in the Admin API")
    return sum((shop_money[str(t.get("id"))] for t in given), ZERO)


def credit_amounts(refund: dict, *, taxes_included: bool, shipping: list[ShippingRefund],
                   paid_before: Decimal, discrepancy_before: Decimal = ZERO,
                   history: list[Transaction] | None = None, tip_left: Decimal = ZERO,
                   charges: list[ChargeRefund] = ()) -> CreditAmounts:
    """What the memo credits; raises MappingError when the refund does not add up to the cent.

    ``paid_before`` is the money the order had received, net of earlier refunds, before this one;
    ``discrepancy_before`` what earlier refunds kept back (less what they gave beyond their lines);
    ``history`` the order's transactions from the Admin API, for the money in shop currency;
    ``tip_left`` the tip the order's documents still hold; ``charges`` the duties and additional
    fees the refund gives back, with their tax (they must be the refund's ``total_duties_set`` and
    ``total_additional_fees_set``).
    What Shopify suggests giving back is capped by the first less the second: a fee kept stays
    paid, and money given beyond the lines was paid for the goods still to be returned.
    """
    _check_charges(refund, charges)
    line = tax = ZERO
    for item in refund.get("refund_line_items") or []:
        subtotal, item_tax = shop_amount(item, "subtotal"), shop_amount(item, "total_tax")
        line += subtotal - item_tax if taxes_included else subtotal
        tax += item_tax
    for charge in charges:
        line += charge.amount - charge.tax if taxes_included else charge.amount
        tax += charge.tax
    cash = refund_cash(refund, history)
    found = discrepancies(refund)
    difference = sum((d.gross for d in found), ZERO)
    calculated = cash + difference     # what Shopify suggested giving back
    refundable = max(paid_before - discrepancy_before, ZERO)
    # Money not capped by what had been paid is the refund's full gross: it settles shipping's basis.
    uncapped = calculated < refundable
    ship_line, ship_tax = _shipping(refund, shipping, taxes_included,
                                    expected_gross=calculated - line - tax if uncapped else None)
    given = [d for d in found if d.gross < 0]
    amounts = CreditAmounts(line + ship_line, tax + ship_tax, cash, kept=tuple(d for d in found if d.gross > 0),
                            given_line=-sum((d.net for d in given), ZERO), given_tax=-sum((d.tax for d in given), ZERO))
    expected_cash = min(amounts.gross, refundable) - amounts.kept_gross + amounts.given_gross
    with_tip = replace(amounts, line=amounts.line + tip_left, tip=tip_left)
    if tip_left and amounts.cash != expected_cash and \
            amounts.cash == min(with_tip.gross, refundable) - amounts.kept_gross + amounts.given_gross:
        # A cancellation gives the tip back too, and the REST refund has no line for it: the
        # money matches only with the tip that is still on the documents, so it is credited.
        return with_tip
    if amounts.cash != expected_cash:
        adjusted = f", {difference} kept by order adjustments" if difference else ""
        raise MappingError(f"refund {refund.get('admin_graphql_api_id')} gave back {amounts.cash} but its "
                           f"lines and shipping come to {amounts.gross} (tax {amounts.tax}) with {refundable} "
                           f"refundable before it{adjusted}: nothing is posted until the difference is explained")
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


def refunded_charges(refund: dict) -> Decimal:
    """Duties and additional fees the refund gives back, as its REST payload totals them."""
    return sum((shop_amount(refund, key) for key in ("total_duties", "total_additional_fees")
                if refund.get(f"{key}_set")), ZERO)


def _check_charges(refund: dict, charges) -> None:
    """The duties and fees credited must be those the refund names: never silently left out."""
    named, given = refunded_charges(refund), sum((c.amount for c in charges), ZERO)
    if named != given:
        raise MappingError(f"refund {refund.get('admin_graphql_api_id')} refunds {named} of duties and additional "
                           f"fees but the Admin API reports {given} of them: nothing is posted until they agree")


def on_account_memo(header: DebitHeader, refund_gid: str, line: Decimal, tax: Decimal, mapping: Mapping, *,
                    taxes_included: bool) -> dict:
    """A REST on-account credit memo for what a refund gave beyond every charge of the order: one
    line on the ``[refund_adjustments]`` memo line and account of a refund discrepancy, its tax as
    a manual tax line. It is applied to nothing: it is what the merchant owes the customer. The
    refund's GID is its ``CustomerReference`` and ``CrossReference``: how reconciliation finds it."""
    where = mapping.kept_line("refund_discrepancy")
    if where is None:
        raise MappingError("a refund gave more than the order's documents hold: add "
                           "[refund_adjustments.refund_discrepancy] (or .default) to the mapping")
    setup = mapping.fusion
    memo_line = {"LineNumber": 1, "LineDescription": "Shopify refund beyond the order's charges",
                 "LineQuantityCredit": 1, "UnitSellingPrice": -(line + tax if taxes_included else line),
                 "MemoLine": where.memo_line}
    if taxes_included:
        memo_line["LineAmountIncludesTax"] = "Y"
    if tax:
        memo_line["receivablesCreditMemoLineTaxLines"] = [{
            "TaxRegimeCode": mapping.tax.regime_code, "TaxRateCode": mapping.tax.rate_code, "TaxAmount": -tax,
            "TaxInclusiveIndicator": "Y" if taxes_included else "N"}]
    memo = {"BusinessUnit": setup.business_unit, "TransactionSource": setup.transaction_source,
            "TransactionType": setup.credit_memo_type, "TransactionNumber": header.number,
            "TransactionDate": header.day, "AccountingDate": header.day,
            "BillToCustomerNumber": header.bill_to_account, "CreditMemoCurrency": header.currency,
            "CustomerReference": refund_gid, "CrossReference": refund_gid,
            "PurchaseOrder": header.purchase_order[:50], "CreditMemoComments": header.comments[:240],
            "receivablesCreditMemoLines": [memo_line],
            "receivablesCreditMemoDistributions": [{"CreditMemoLineNumber": 1, "AccountClass": "Revenue",
                                                    "AccountCombination": where.account, "Percent": 100}]}
    if setup.ledger_currency and header.currency != setup.ledger_currency:
        memo["ConversionRateType"] = setup.conversion_rate_type
        memo["ConversionRateDate"] = header.day
    return memo
