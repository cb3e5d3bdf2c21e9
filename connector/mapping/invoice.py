"""A Shopify order as one Fusion receivables invoice, in the shop's currency, to the cent.

Lines are posted gross (quantity × unit price) with Shopify's own tax amounts as manual tax lines;
each discount allocation becomes its own negative line on the discount memo line, and each duty
and additional fee a line of its own on the duties or additional-fees memo line and account (with
its tax lines), so Fusion's total is Shopify's total by construction and every amount can be
traced back to the order. The invoice represents the order as placed; later refunds become credit
memos, edits adjustments.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

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


def tax_lines(item: dict, mapping: Mapping, inclusive: bool, place: tuple[str, str] = ("", "")) -> list[dict]:
    """Shopify's tax amounts of ``item`` as manual tax lines, so Fusion's tax is Shopify's, each
    with the regime and rate the mapping's tax table gives it (``place``: the order's country and
    province, for rows that name one). Taxes a channel is liable for are left to
    :func:`channel_taxes` unless the mapping books them as the merchant's."""
    lines = []
    for tax in item.get("tax_lines") or []:
        amount = shop_amount(tax, "price")
        if amount == ZERO or _channel_liable(tax, mapping):
            continue
        regime, rate = tax_codes(mapping, tax, place)
        lines.append({"TaxRegimeCode": regime, "TaxRateCode": rate,
                      "TaxAmount": amount, "TaxInclusiveIndicator": "Y" if inclusive else "N"})
    return lines


def tax_codes(mapping: Mapping, tax: dict, place: tuple[str, str]) -> tuple[str, str]:
    """(regime, rate code) of a Shopify tax line: the first matching row of ``[[tax.rates]]``, else
    the default, or a park naming the row to add when the mapping says ``unmatched = "park"``."""
    title, raw_rate = str(tax.get("title") or ""), tax.get("rate")
    rate = None if raw_rate in (None, "") else Decimal(str(raw_rate))
    row = mapping.tax.row(title, rate, *place)
    if row is not None:
        return row.regime_code, row.rate_code
    if mapping.tax.unmatched == "park":
        where = "/".join(p for p in place if p)
        raise MappingError(f"no [[tax.rates]] row matches tax line {title!r} at rate {rate}"
                           f"{f' in {where}' if where else ''}: add one with its regime_code and rate_code")
    return mapping.tax.regime_code, mapping.tax.rate_code


def _channel_liable(tax: dict, mapping: Mapping) -> bool:
    return bool(tax.get("channel_liable")) and mapping.tax.channel_liable == "clearing"


def channel_taxes(order: dict, mapping: Mapping) -> Decimal:
    """What the order's channel (a marketplace that collects and remits the tax itself) is liable
    for, when the mapping books it apart: it is in Shopify's total, but not the merchant's tax."""
    taxed = [*(order.get("line_items") or []), *(s for s in order.get("shipping_lines") or [] if not s.get("is_removed")),
             *(duty for _, duty in duties(order)), *additional_fees(order)]
    return sum((shop_amount(t, "price") for obj in taxed for t in obj.get("tax_lines") or []
                if _channel_liable(t, mapping)), ZERO)


def place_of(order: dict) -> tuple[str, str]:
    """(country, province) code of where the order is taxed: its shipping address, else billing."""
    address = order.get("shipping_address") or order.get("billing_address") or {}
    return str(address.get("country_code") or ""), str(address.get("province_code") or "")


def _before_discount(item: dict, taxes: list[dict], gross: Decimal) -> tuple[list[dict], list[dict]]:
    """In a tax-inclusive shop, the item's tax as if undiscounted, and the discount's share of it.

    Shopify's tax lines are after the discount. Sent as they are, the full-price line would carry
    the discounted tax and the discount line none, so Fusion would report the line's taxable base
    too high and the discount as tax-free. Each tax is split instead: its rate of the gross before
    the discount, rounded to the amount's own unit, on the item line; the rest (negative) on the
    discount line. Both still add up to Shopify's tax exactly. Without every rate, as they are."""
    rates = [t.get("rate") for t in item.get("tax_lines") or [] if shop_amount(t, "price")]
    if len(rates) != len(taxes) or any(r in (None, "") for r in rates):
        return taxes, []
    rates = [Decimal(str(r)) for r in rates]
    divisor = 1 + sum(rates, ZERO)
    full, share = [], []
    for tax, rate in zip(taxes, rates):
        after = tax["TaxAmount"]
        before = (gross * rate / divisor).quantize(Decimal(1).scaleb(after.as_tuple().exponent), ROUND_HALF_UP)
        full.append(dict(tax, TaxAmount=before))
        if after - before:
            share.append(dict(tax, TaxAmount=after - before))
    return full, share


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
                  bill_to_site: str = "", payment_terms: str = "", purchase_order: str = "") -> dict:
    """``bill_to_site``: the number of the account's BILL_TO site at the order's billing address
    (Fusion bills the account's primary site when it is empty). ``payment_terms`` and
    ``purchase_order``: a B2B order's own (:mod:`connector.mapping.b2b`); otherwise the mapping's
    terms and the order's name."""
    inclusive = bool(order.get("taxes_included"))
    place = place_of(order)
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
        discount, discount_taxes = _allocations(item), []
        if item.get("gift_card"):
            add(name, quantity, shop_amount(item, "price"), *_gift_card_line(mapping, item, name))
        else:
            taxes = tax_lines(item, mapping, inclusive, place)
            if discount and inclusive:
                taxes, discount_taxes = _before_discount(item, taxes, shop_amount(item, "price") * quantity)
            add(name, quantity, shop_amount(item, "price"), *merchandise_line(mapping, item), taxes)
        if discount:
            label = _discount_label(order, item)
            add(f"Discount{f' {label}' if label else ''}: {name}", 1, -discount, memo.discount, gl.discount,
                discount_taxes)

    for shipping in order.get("shipping_lines") or []:
        if shipping.get("is_removed"):
            continue
        title = f"Shipping: {shipping.get('title') or shipping.get('code') or 'shipping'}"
        price = shop_amount(shipping, "price")
        taxes, discount, discount_taxes = tax_lines(shipping, mapping, inclusive, place), _allocations(shipping), []
        if discount and inclusive:
            taxes, discount_taxes = _before_discount(shipping, taxes, price)
        if price or taxes:
            add(title, 1, price, memo.shipping, gl.freight, taxes)
        if discount:
            add(f"Discount: {title}", 1, -discount, memo.discount, gl.discount, discount_taxes)

    charged = duties(order)
    if charged:
        where = _charge_line(mapping, "duties", "duties")
        for item, duty in charged:
            name = item.get("name") or item.get("title") or item.get("sku") or "Item"
            code = duty.get("harmonized_system_code")
            add(f"Duty: {name}{f' (HS {code})' if code else ''}", 1, charge_price(duty), *where,
                tax_lines(duty, mapping, inclusive, place))
    fees = additional_fees(order)
    if fees:
        where = _charge_line(mapping, "additional_fees", "additional_fees")
        for fee in fees:
            add(f"Additional fee: {fee.get('name') or 'fee'}", 1, charge_price(fee), *where,
                tax_lines(fee, mapping, inclusive, place))

    tip = shop_amount(order, "total_tip_received")
    if tip:
        add("Tip", 1, tip, *_charge_line(mapping, "tip", "tips"))
    collected = channel_taxes(order, mapping)
    if collected:
        add("Tax collected and remitted by the sales channel", 1, collected, *_channel_line(mapping, inclusive))

    if not lines:
        raise MappingError("the order has no billable lines")
    total = invoice_total(lines, inclusive)
    expected = order_total(order)
    if total != expected:
        add(f"Rounding: Shopify's total {expected}, its lines {total}", 1, expected - total,
            *_rounding_line(mapping, total, expected))

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
        "PaymentTerms": payment_terms or mapping.fusion.payment_terms,
        "InvoiceCurrencyCode": _currency(order),
        "CrossReference": order["admin_graphql_api_id"],
        "PurchaseOrder": (purchase_order or str(order.get("name", "")))[:50],
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


def merchandise_line(mapping: Mapping, item: dict) -> tuple[str, str]:
    """(memo line, account) of a merchandise line item: the first ``[[gl.revenue_rules]]`` row its
    product type, vendor and SKU match, else ``[memo_lines] merchandise`` and ``[gl] revenue``.

    The REST order webhook carries no product type; an order read from the Admin API does
    (:mod:`connector.shopify.order_payload`). When the answer hangs on a product type the line does
    not carry (a product-type row would match but for it, before any row that matches), the order
    parks rather than book the line on a guess."""
    product_type = item.get("product_type")
    vendor, sku = str(item.get("vendor") or ""), str(item.get("sku") or "")
    for rule in mapping.gl.revenue_rules:
        if rule.product_type and product_type is None:
            if rule.matches(rule.product_type, vendor, sku):
                raise MappingError(f"line {item.get('name') or sku or item.get('id')!r} carries no product type and "
                                   f"a [[gl.revenue_rules]] row matches on product_type {rule.product_type!r}: "
                                   "turn on the shop's reread_from_admin so orders are read with their product "
                                   "types, or match that row on vendor or sku_prefix")
            continue
        if rule.matches(str(product_type or ""), vendor, sku):
            return rule.memo_line or mapping.memo_lines.merchandise, rule.account
    return mapping.memo_lines.merchandise, mapping.gl.revenue


def _charge_line(mapping: Mapping, memo_key: str, gl_key: str) -> tuple[str, str]:
    """(memo line, account) of a kind of charge with optional keys (duties, additional fees,
    tips, gift cards): a mapping without them parks the order, naming the keys to add."""
    memo_line, account = getattr(mapping.memo_lines, memo_key), getattr(mapping.gl, gl_key)
    if not memo_line or not account:
        missing = " and ".join(key for key, value in ((f"[memo_lines] {memo_key}", memo_line),
                                                     (f"[gl] {gl_key}", account)) if not value)
        raise MappingError(f"the order charges {gl_key.replace('_', ' ')}: add {missing} to the mapping")
    return memo_line, account


def _rounding_line(mapping: Mapping, total: Decimal, expected: Decimal) -> tuple[str, str]:
    """(memo line, account) for a difference within the mapping's rounding tolerance; beyond it,
    or with no rounding line set up, nothing is posted."""
    rounding = mapping.rounding
    if abs(expected - total) > rounding.tolerance:
        beyond = f" (more than the rounding tolerance {rounding.tolerance})" if rounding.tolerance else ""
        raise MappingError(f"invoice lines add up to {total} but Shopify's total is {expected}{beyond}; "
                           "refusing to post an invoice that does not match the shop")
    if not rounding.memo_line or not rounding.account:
        raise MappingError(f"invoice lines add up to {total} but Shopify's total is {expected}: within the "
                           "rounding tolerance, but the mapping names no [rounding] memo_line and account")
    return rounding.memo_line, rounding.account


def _channel_line(mapping: Mapping, inclusive: bool) -> tuple[str, str]:
    """(memo line, account) of the tax a channel collects: the merchant's receivable for it is
    cleared when the channel pays out, and it never reaches the merchant's tax liability."""
    if inclusive:
        raise MappingError("the order carries tax its sales channel is liable for, in a tax-inclusive shop: booking "
                           "it apart is not supported there yet; set [tax] channel_liable = \"merchant\" or book by hand")
    if not mapping.tax.channel_liable_account:
        raise MappingError("the order carries tax its sales channel is liable for: add [tax] channel_liable_account "
                           "to the mapping (or channel_liable = \"merchant\" to book it as the merchant's tax)")
    return mapping.memo_lines.merchandise, mapping.tax.channel_liable_account


def _gift_card_line(mapping: Mapping, item: dict, name: str) -> tuple[str, str]:
    """A gift card sold is money the shop owes its holder until it is redeemed: it goes to a
    liability account, untaxed (tax is charged on what the card later buys). Booking it as
    revenue would count the same sale twice, once now and once at redemption."""
    if any(shop_amount(tax, "price") for tax in item.get("tax_lines") or []):
        raise MappingError(f"gift card {name!r} carries tax, which Shopify never charges on a gift card: "
                           "a person must look at the order")
    return _charge_line(mapping, "gift_card", "gift_cards")


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
