"""A Shopify order as one Fusion receivables invoice, in the shop's currency, to the cent.

Lines are posted gross (quantity × unit price) with Shopify's own tax amounts as manual tax lines;
each discount allocation becomes its own negative line on the discount memo line, and each duty
and additional fee a line of its own on the duties or additional-fees memo line and account (with
its tax lines), so Fusion's total is Shopify's total by construction and every amount can be
traced back to the order. The invoice represents the order as placed; later refunds become credit
memos, edits adjustments.
"""
from __future__ import annotations

from decimal import Decimal

from connector.jsonutil import money
from connector.mapping.addresses import one_line
from connector.mapping.config import Mapping

ZERO = Decimal("0")


class MappingError(ValueError):
    """The order cannot be represented faithfully; it is parked with this message."""


def transaction_number(prefix: str, order: dict) -> str:
    """Deterministic, human-readable and at most 20 characters (Fusion's limit)."""
    number = f"{prefix}-{order['order_number']}"
    if len(number) > 20:
        raise MappingError(f"transaction number {number!r} is longer than Fusion's 20 characters")
    return number


def shop_amount(obj: dict, key: str) -> Decimal:
    """``key`` in shop money: the ``*_set`` bag when present, else the scalar (shop currency)."""
    bag = obj.get(f"{key}_set")
    if isinstance(bag, dict) and bag.get("shop_money"):
        return money(bag["shop_money"].get("amount"))
    return money(obj.get(key))


def charge_price(charge: dict) -> Decimal:
    """A duty's or an additional fee's price in shop money: ``price_set`` (GraphQL's ``price``), or
    the top-level ``shop_money`` of Shopify's REST duty samples."""
    bag = charge.get("price_set")
    if isinstance(bag, dict) and bag.get("shop_money"):
        return money(bag["shop_money"].get("amount"))
    return money((charge.get("shop_money") or {}).get("amount"))


def charge_tax(charge: dict) -> Decimal:
    return sum((shop_amount(t, "price") for t in charge.get("tax_lines") or []), ZERO)


def duties(order: dict) -> list[tuple[dict, dict]]:
    """(line item, duty) for every duty of the order's line items."""
    return [(item, duty) for item in order.get("line_items") or [] for duty in item.get("duties") or []]


def additional_fees(order: dict) -> list[dict]:
    return list(order.get("additional_fees") or [])


def order_total(order: dict) -> Decimal:
    return shop_amount(order, "total_price")


def tax_lines(item: dict, mapping: Mapping, inclusive: bool) -> list[dict]:
    """Shopify's tax amounts of ``item`` as manual tax lines, so Fusion's tax is Shopify's."""
    lines = []
    for tax in item.get("tax_lines") or []:
        amount = shop_amount(tax, "price")
        if amount == ZERO:
            continue
        lines.append({"TaxRegimeCode": mapping.tax.regime_code, "TaxRateCode": mapping.tax.rate_code,
                      "TaxAmount": amount, "TaxInclusiveIndicator": "Y" if inclusive else "N"})
    return lines


def _allocations(item: dict) -> Decimal:
    return sum((shop_amount(a, "amount") for a in item.get("discount_allocations") or []), ZERO)


def _discount_label(order: dict, item: dict) -> str:
    applications = order.get("discount_applications") or []
    names = []
    for allocation in item.get("discount_allocations") or []:
        index = allocation.get("discount_application_index")
        if isinstance(index, int) and 0 <= index < len(applications):
            app = applications[index]
            names.append(app.get("code") or app.get("title") or app.get("description") or app.get("type", ""))
    return ", ".join(dict.fromkeys(n for n in names if n))


def build_invoice(order: dict, *, mapping: Mapping, prefix: str, bill_to_account: str,
                  bill_to_site: str = "") -> dict:
    """``bill_to_site``: the number of the account's BILL_TO site at the order's billing address
    (Fusion bills the account's primary site when it is empty)."""
    inclusive = bool(order.get("taxes_included"))
    lines: list[dict] = []

    def add(description: str, quantity, unit_price: Decimal, memo_line: str, account: str,
            taxes: list[dict] | None = None) -> None:
        number = len(lines) + 1
        line = {"LineNumber": number, "Description": description[:240], "Quantity": quantity,
                "UnitSellingPrice": unit_price, "MemoLine": memo_line}
        if inclusive:
            line["LineAmountIncludesTax"] = "Y"
        if taxes:
            line["receivablesInvoiceLineTaxLines"] = taxes
        lines.append(line)
        distributions.append({"InvoiceLineNumber": number, "AccountClass": "Revenue",
                              "AccountCombination": account, "Percent": 100})

    distributions: list[dict] = []
    memo, gl = mapping.memo_lines, mapping.gl
    for item in order.get("line_items") or []:
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            continue
        name = item.get("name") or item.get("title") or item.get("sku") or "Item"
        memo_line = memo.gift_card if item.get("gift_card") else memo.merchandise
        add(name, quantity, shop_amount(item, "price"), memo_line, gl.revenue,
            tax_lines(item, mapping, inclusive))
        discount = _allocations(item)
        if discount:
            label = _discount_label(order, item)
            add(f"Discount{f' {label}' if label else ''}: {name}", 1, -discount, memo.discount, gl.discount)

    for shipping in order.get("shipping_lines") or []:
        if shipping.get("is_removed"):
            continue
        title = f"Shipping: {shipping.get('title') or shipping.get('code') or 'shipping'}"
        price = shop_amount(shipping, "price")
        taxes = tax_lines(shipping, mapping, inclusive)
        if price or taxes:
            add(title, 1, price, memo.shipping, gl.freight, taxes)
        discount = _allocations(shipping)
        if discount:
            add(f"Discount: {title}", 1, -discount, memo.discount, gl.discount)

    charged = duties(order)
    if charged:
        where = _charge_line(mapping, "duties")
        for item, duty in charged:
            name = item.get("name") or item.get("title") or item.get("sku") or "Item"
            code = duty.get("harmonized_system_code")
            add(f"Duty: {name}{f' (HS {code})' if code else ''}", 1, charge_price(duty), *where,
                tax_lines(duty, mapping, inclusive))
    fees = additional_fees(order)
    if fees:
        where = _charge_line(mapping, "additional_fees")
        for fee in fees:
            add(f"Additional fee: {fee.get('name') or 'fee'}", 1, charge_price(fee), *where,
                tax_lines(fee, mapping, inclusive))

    tip = shop_amount(order, "total_tip_received")
    if tip:
        add("Tip", 1, tip, memo.tip, gl.revenue)

    if not lines:
        raise MappingError("the order has no billable lines")
    total = invoice_total(lines, inclusive)
    expected = order_total(order)
    if total != expected:
        raise MappingError(f"invoice lines add up to {total} but Shopify's total is {expected}; "
                           "refusing to post an invoice that does not match the shop")

    comments = f"Shopify order {order.get('name', '')}"
    billing = one_line(order.get("billing_address"))
    if billing:
        comments += f"; bill to: {billing}"
    invoice = {
        "BusinessUnit": mapping.fusion.business_unit,
        "TransactionSource": mapping.fusion.transaction_source,
        "TransactionType": mapping.fusion.invoice_type,
        "TransactionNumber": transaction_number(prefix, order),
        "TransactionDate": _date(order),
        "AccountingDate": _date(order),
        "BillToCustomerNumber": bill_to_account,
        "PaymentTerms": mapping.fusion.payment_terms,
        "InvoiceCurrencyCode": _currency(order),
        "CrossReference": order["admin_graphql_api_id"],
        "PurchaseOrder": str(order.get("name", ""))[:50],
        "Comments": comments[:1760],
        "receivablesInvoiceLines": lines,
        "receivablesInvoiceDistributions": distributions,
    }
    if bill_to_site:
        invoice["BillToSite"] = bill_to_site
    ledger = mapping.fusion.ledger_currency
    if ledger and invoice["InvoiceCurrencyCode"] != ledger:
        invoice["ConversionRateType"] = mapping.fusion.conversion_rate_type
        invoice["ConversionDate"] = invoice["TransactionDate"]
    return invoice


def _charge_line(mapping: Mapping, kind: str) -> tuple[str, str]:
    """(memo line, account) of duties or additional fees; a mapping without them parks the order."""
    memo_line, account = getattr(mapping.memo_lines, kind), getattr(mapping.gl, kind)
    if not memo_line or not account:
        missing = " and ".join(key for key, value in ((f"[memo_lines] {kind}", memo_line), (f"[gl] {kind}", account))
                               if not value)
        raise MappingError(f"the order charges {kind.replace('_', ' ')}: add {missing} to the mapping")
    return memo_line, account


def invoice_total(lines: list[dict], inclusive: bool) -> Decimal:
    total = ZERO
    for line in lines:
        total += Decimal(line["Quantity"]) * line["UnitSellingPrice"]
        if not inclusive:
            total += sum((t["TaxAmount"] for t in line.get("receivablesInvoiceLineTaxLines", [])), ZERO)
    return total


def _date(order: dict) -> str:
    stamp = order.get("processed_at") or order.get("created_at") or ""
    if len(stamp) < 10:
        raise MappingError("the order has no processed_at or created_at date")
    return stamp[:10]  # the shop's local date, as Shopify writes it


def _currency(order: dict) -> str:
    bag = order.get("total_price_set") or {}
    return (bag.get("shop_money") or {}).get("currency_code") or order.get("currency") or ""
