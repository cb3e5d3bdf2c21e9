"""Orders: completing a posted REST order, checking its arithmetic, and keeping ``current_*`` true.

Shopify never stores an order whose totals contradict its lines, so neither does the sandbox:
``complete_order`` recomputes every total from the lines, shipping lines, allocations, tax lines
and tip – in shop *and* presentment money – and raises ``OrderError`` (→ HTTP 422) when a
posted figure differs.  Missing figures are filled in: ids, gids, money bags, tax prices (from the
rates, rounded per line to the currency's unit), discount allocations (from
``discount_applications``), order-level ``tax_lines``, ``discount_codes[].amount`` and every total.

Every amount is in its currency's decimals (``money.exponent``: none for JPY, three for KWD):
a posted amount with more is rounded half up on the way in, as Shopify's Money objects round, and
every computed one (tax, allocation, pro-rated refund, conversion) is rounded to the unit of the
currency it is in.

Definitions used (Shopify's REST semantics):
* ``total_line_items_price`` = Σ price × quantity
* ``subtotal_price`` = total_line_items_price − line-item discount allocations
* ``total_discounts`` = every allocation, line items and shipping lines
* ``total_shipping_price_set`` = Σ shipping prices before discounts
* ``total_tax`` = Σ tax lines of lines and shipping lines
* ``total_duties`` = Σ line items' ``duties[].price_set``; ``total_additional_fees`` = Σ
  ``additional_fees[].price_set``; their ``tax_lines`` count in ``total_tax``, and their prices are
  in the order's price basis (tax included when ``taxes_included``: the sandbox's reading, L)
* ``total_price`` = subtotal + discounted shipping + duties + additional fees + tip (+ total_tax
  unless taxes_included); in a shop that converts totals as a whole (``Shop.total_conversion``),
  an order in another presentment currency may carry a shop-money total a few units away from
  that sum (no more than the parts' roundings), and ``current_total_price`` keeps the difference
* ``current_*`` are the same after refunds and cancellation; ``total_outstanding`` =
  ``current_total_price`` + refund discrepancies − (captured − refunded).
"""
from __future__ import annotations

import secrets
import string
from decimal import Decimal

from .money import D, ZERO, allocate, bag, bag_amounts, fmt, json_number, rounded, unit

TOTAL_KEYS = ("total_line_items_price", "subtotal_price", "total_discounts", "total_tax", "total_price")
PAID_KINDS = ("sale", "capture")


class OrderError(ValueError):
    """A posted order or refund that Shopify would never produce; the message says why."""


class _Pair:
    """An amount in shop and presentment money, added together component-wise."""
    __slots__ = ("shop", "pres")

    def __init__(self, shop=ZERO, pres=ZERO):
        self.shop, self.pres = D(shop), D(pres)

    def __add__(self, other):
        return _Pair(self.shop + other.shop, self.pres + other.pres)

    def __sub__(self, other):
        return _Pair(self.shop - other.shop, self.pres - other.pres)

    def __mul__(self, n):
        return _Pair(self.shop * n, self.pres * n)

    def __eq__(self, other):
        return self.shop == other.shop and self.pres == other.pres

    def __repr__(self):
        return f"{self.shop}/{self.pres}"


def _psum(pairs) -> _Pair:
    total = _Pair()
    for p in pairs:
        total = total + p
    return total


class _Money:
    """Reads and writes amounts of one order: scalar fields are shop money, ``*_set`` both."""

    def __init__(self, shop_ccy: str, pres_ccy: str):
        self.shop_ccy, self.pres_ccy = shop_ccy, pres_ccy
        self.multi = shop_ccy != pres_ccy

    def round(self, pair: _Pair) -> _Pair:
        """Each side rounded half up to its own currency's unit."""
        return _Pair(rounded(pair.shop, self.shop_ccy), rounded(pair.pres, self.pres_ccy))

    def fmt(self, shop_amount) -> str:
        """A scalar (shop money) string: ``"66.74"`` USD, ``"3970"`` JPY."""
        return fmt(shop_amount, self.shop_ccy)

    def read(self, obj: dict, scalar: str, set_key: str, where: str, required=True) -> _Pair | None:
        """The (shop, presentment) amount of ``obj[scalar]`` / ``obj[set_key]``, checked for
        agreement, each side rounded to its currency (a JPY "1234.5" is 1235, as Shopify stores it)."""
        from_set = bag_amounts(obj.get(set_key))
        if from_set is not None:
            from_set = (rounded(from_set[0], self.shop_ccy), rounded(from_set[1], self.pres_ccy))
        if from_set is not None:
            shop_ccy = obj[set_key]["shop_money"].get("currency_code", self.shop_ccy)
            pres_ccy = obj[set_key]["presentment_money"].get("currency_code", self.pres_ccy)
            if shop_ccy != self.shop_ccy or pres_ccy != self.pres_ccy:
                raise OrderError(f"{where}.{set_key} currencies {shop_ccy}/{pres_ccy} are not the "
                                 f"order's {self.shop_ccy}/{self.pres_ccy}")
        if obj.get(scalar) is not None:
            shop = rounded(obj[scalar], self.shop_ccy)
            if from_set is not None and from_set[0] != shop:
                raise OrderError(f"{where}.{scalar} {obj[scalar]} differs from {set_key}.shop_money "
                                 f"{self.fmt(from_set[0])}")
            if from_set is not None:
                return _Pair(shop, from_set[1])
            if self.multi:
                raise OrderError(f"{where}.{set_key} with presentment_money is required when the "
                                 f"presentment currency ({self.pres_ccy}) differs from the shop's")
            return _Pair(shop, shop)
        if from_set is not None:
            return _Pair(*from_set)
        if required:
            raise OrderError(f"{where}.{scalar} is missing")
        return None

    def bag(self, pair: _Pair) -> dict:
        return bag(pair.shop, self.shop_ccy, pair.pres, self.pres_ccy)

    def write(self, obj: dict, scalar: str | None, set_key: str, pair: _Pair) -> None:
        if scalar:
            obj[scalar] = self.fmt(pair.shop)
        obj[set_key] = self.bag(pair)


def _random_token(n=32) -> str:
    return secrets.token_hex(n // 2)


def _confirmation_number() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))


# --------------------------------------------------------------------------------------------
# discount allocations


def _compute_allocations(apps: list[dict], lines: list[dict], ships: list[dict], m: _Money) -> None:
    """Fill ``discount_allocations`` for applications that no line or shipping line carries yet.

    Only possible when shop and presentment currency agree (there is no exchange rate to use).
    """
    carried = {a.get("discount_application_index")
               for obj in lines + ships for a in obj.get("discount_allocations") or []}
    for index, app in enumerate(apps):
        if index in carried:
            continue
        if m.multi:
            raise OrderError(f"discount_applications[{index}] has no discount_allocations; give "
                             "them (with amount_set) when the presentment currency differs")
        targets = ships if app.get("target_type") == "shipping_line" else lines
        eligible = [t for t in targets if not t.get("gift_card")]
        if not eligible:
            raise OrderError(f"discount_applications[{index}] has nothing to apply to")

        def remaining(t):
            base = rounded(t["price"], m.shop_ccy) * int(t.get("quantity", 1))
            return base - sum((rounded(a["amount"], m.shop_ccy) for a in t.get("discount_allocations") or []), ZERO)

        value = D(app.get("value"))
        method = app.get("allocation_method", "across")
        pct = app.get("value_type") == "percentage"
        ccy = m.shop_ccy  # one currency: shop and presentment agree here

        def share(amount):
            return rounded(amount * value / 100, ccy) if pct else min(rounded(value, ccy), amount)

        amounts: list[Decimal]
        if method == "across":
            bases = [remaining(t) for t in eligible]
            amounts = allocate(share(sum(bases, ZERO)), bases, ccy)
        elif method == "each":
            amounts = [rounded(remaining(t) * value / 100, ccy) if pct
                       else min(rounded(value, ccy) * int(t.get("quantity", 1)), remaining(t)) for t in eligible]
        elif method == "one":
            first = eligible[0]
            amounts = [share(remaining(first))]
            amounts += [ZERO] * (len(eligible) - 1)
        else:
            raise OrderError(f"discount_applications[{index}].allocation_method {method!r} is not "
                             "across, each or one")
        for target, amount in zip(eligible, amounts):
            if amount:
                target.setdefault("discount_allocations", []).append(
                    {"amount": m.fmt(amount), "discount_application_index": index})


# --------------------------------------------------------------------------------------------
# tax


def _tax_lines(obj: dict, base: _Pair, taxes_included: bool, m: _Money, where: str) -> list[tuple[dict, _Pair]]:
    """Complete and check the tax lines of one line item or shipping line (rounded per line)."""
    raw = obj.get("tax_lines") or []
    rates = [D(t.get("rate", 0)) for t in raw]
    rate_sum = sum(rates, Decimal(0))
    out = []
    for i, (tax, rate) in enumerate(zip(raw, rates)):
        here = f"{where}.tax_lines[{i}]"
        if taxes_included:
            expected = rounded(base.pres * rate / (1 + rate_sum), m.pres_ccy)
        else:
            expected = rounded(base.pres * rate, m.pres_ccy)
        given = m.read(tax, "price", "price_set", here, required=False)
        if given is None:
            if m.multi:
                raise OrderError(f"{here}.price_set is required when the presentment currency differs")
            given = _Pair(expected, expected)
        elif given.pres != expected:
            how = "included in" if taxes_included else "of"
            ccy = m.pres_ccy
            raise OrderError(f"{here}.price {fmt(given.pres, ccy)} is not {json_number(rate * 100)}% "
                             f"{how} {fmt(base.pres, ccy)} = {fmt(expected, ccy)} (rounded per line to "
                             f"{unit(ccy)} {ccy})")
        tax["rate"] = json_number(rate)
        tax.setdefault("title", "Tax")
        tax.setdefault("channel_liable", False)
        m.write(tax, "price", "price_set", given)
        out.append((tax, given))
    return out


def _complete_charge(obj: dict, where: str, kind: str, new_id, m: _Money,
                     taxes_included: bool) -> tuple[dict, _Pair, list[tuple[dict, _Pair]]]:
    """A duty of a line item or an additional fee of the order: id, ``price_set`` and tax lines
    (on the order's price basis, as a line's), checked like the rest of the order."""
    obj = dict(obj)
    if obj.get("price_set") is None and obj.get("shop_money"):  # as REST shows a duty
        obj["price_set"] = {"shop_money": obj["shop_money"],
                            "presentment_money": obj.get("presentment_money") or obj["shop_money"]}
    price = m.read(obj, "price", "price_set", where)
    if price.shop < 0 or price.pres < 0:
        raise OrderError(f"{where}.price must not be negative")
    obj.pop("price", None)  # REST duties and fees carry their price as a money bag only
    obj["price_set"] = m.bag(price)
    obj["tax_lines"] = [dict(t) for t in obj.get("tax_lines") or []]
    taxes = _tax_lines(obj, price, taxes_included, m, where)
    obj["id"] = obj.get("id") or new_id(kind)
    obj["admin_graphql_api_id"] = f"gid://shopify/{kind}/{obj['id']}"
    return obj, price, taxes


# --------------------------------------------------------------------------------------------
# completion


def complete_order(posted: dict, *, shop, new_id, order_number: int, now: str) -> dict:
    """A full REST order from a posted (possibly partial) one; raises OrderError if inconsistent."""
    order = dict(posted)
    shop_ccy = shop.currency
    if order.get("currency") not in (None, shop_ccy):
        raise OrderError(f"currency {order['currency']} is not the shop currency {shop_ccy}")
    pres_ccy = order.get("presentment_currency") or shop_ccy
    m = _Money(shop_ccy, pres_ccy)
    taxes_included = bool(order.get("taxes_included", shop.taxes_included))

    lines = [dict(li) for li in order.get("line_items") or []]
    ships = [dict(sl) for sl in order.get("shipping_lines") or []]
    if not lines:
        raise OrderError("line_items must not be empty")
    apps = [dict(a) for a in order.get("discount_applications") or []]
    for obj in lines + ships:
        obj["discount_allocations"] = [dict(a) for a in obj.get("discount_allocations") or []]
        obj["tax_lines"] = [dict(t) for t in obj.get("tax_lines") or []]
    _compute_allocations(apps, lines, ships, m)

    per_app: dict[int, _Pair] = {}

    def allocations(obj, where, gross: _Pair) -> _Pair:
        total = _Pair()
        for j, alloc in enumerate(obj["discount_allocations"]):
            here = f"{where}.discount_allocations[{j}]"
            idx = alloc.get("discount_application_index")
            if not isinstance(idx, int) or not 0 <= idx < len(apps):
                raise OrderError(f"{here}.discount_application_index {idx!r} points at no discount_application")
            amount = m.read(alloc, "amount", "amount_set", here)
            m.write(alloc, "amount", "amount_set", amount)
            per_app[idx] = per_app.get(idx, _Pair()) + amount
            total = total + amount
        if total.shop > gross.shop or total.pres > gross.pres:
            raise OrderError(f"{where} discounts {total} exceed its price {gross}")
        return total

    line_gross, line_disc, tax_total, duty_sum = _Pair(), _Pair(), _Pair(), _Pair()
    agg_tax: dict[tuple, _Pair] = {}

    def add_taxes(taxes) -> None:
        nonlocal tax_total
        for tax, amount in taxes:
            key = (tax["title"], tax["rate"])
            agg_tax[key] = agg_tax.get(key, _Pair()) + amount
            tax_total = tax_total + amount
    for i, li in enumerate(lines):
        where = f"line_items[{i}]"
        qty = li.get("quantity")
        if not isinstance(qty, int) or qty <= 0:
            raise OrderError(f"{where}.quantity must be a positive integer")
        unit = m.read(li, "price", "price_set", where)
        m.write(li, "price", "price_set", unit)
        gross = unit * qty
        disc = allocations(li, where, gross)
        li.setdefault("gift_card", False)
        li.setdefault("taxable", not li["gift_card"])
        if (li["gift_card"] or not li["taxable"]) and any(D(t.get("price", 0)) for t in li["tax_lines"]):
            raise OrderError(f"{where} is not taxable but carries tax")
        add_taxes(_tax_lines(li, gross - disc, taxes_included, m, where))
        duties = []
        for j, posted_duty in enumerate(li.get("duties") or []):
            duty, price, taxes = _complete_charge(posted_duty, f"{where}.duties[{j}]", "Duty", new_id, m,
                                                  taxes_included)
            for key in ("harmonized_system_code", "country_code_of_origin"):
                duty.setdefault(key, None)
            # Shopify's REST samples show a duty's money as top-level shop_money/presentment_money.
            duty.update(duty["price_set"])
            duties.append(duty)
            duty_sum = duty_sum + price
            add_taxes(taxes)
        li["duties"] = duties
        # Sandbox-only input: a real line takes its product type from its product, and REST line
        # items and webhooks do not carry it. Kept private (``_``), served as GraphQL's
        # ``LineItem.product.productType`` only.
        li["_product_type"] = str(li.pop("product_type", None) or li.get("_product_type") or "")
        li_id = li.get("id") or new_id("LineItem")
        li.update({
            "id": li_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{li_id}",
            "current_quantity": qty, "fulfillable_quantity": qty,
        })
        for key, default in (("title", "Item"), ("sku", None), ("variant_title", None), ("vendor", None),
                             ("product_id", None), ("variant_id", None), ("grams", 0),
                             ("requires_shipping", not li["gift_card"]), ("fulfillment_service", "manual"),
                             ("fulfillment_status", None), ("product_exists", True), ("properties", []),
                             ("attributed_staffs", []), ("duties", []), ("tax_lines", []),
                             ("variant_inventory_management", None), ("sales_line_item_group_id", None)):
            li.setdefault(key, default)
        li.setdefault("name", li["title"] + (f" - {li['variant_title']}" if li["variant_title"] else ""))
        # Legacy field: Shopify leaves it at 0.00 although allocations exist (reference §2.2).
        m.write(li, "total_discount", "total_discount_set", _Pair())
        line_gross, line_disc = line_gross + gross, line_disc + disc

    ship_gross, ship_disc = _Pair(), _Pair()
    for i, sl in enumerate(ships):
        where = f"shipping_lines[{i}]"
        price = m.read(sl, "price", "price_set", where)
        m.write(sl, "price", "price_set", price)
        disc = allocations(sl, where, price)
        m.write(sl, "discounted_price", "discounted_price_set", price - disc)
        sl["current_discounted_price_set"] = m.bag(price - disc)
        add_taxes(_tax_lines(sl, price - disc, taxes_included, m, where))
        sl_id = sl.get("id") or new_id("ShippingLine")
        sl["id"] = sl_id
        for key, default in (("title", "Shipping"), ("code", None), ("source", "shopify"),
                             ("carrier_identifier", None), ("requested_fulfillment_service_id", None),
                             ("phone", None), ("is_removed", False), ("discounted_price", m.fmt(price.shop - disc.shop))):
            sl.setdefault(key, default)
        ship_gross, ship_disc = ship_gross + price, ship_disc + disc

    # discount applications and codes
    for index, app in enumerate(apps):
        app.setdefault("type", "discount_code" if app.get("code") else "manual")
        app.setdefault("value_type", "fixed_amount")
        app.setdefault("allocation_method", "across")
        app.setdefault("target_selection", "all")
        app.setdefault("target_type", "line_item")
        if app.get("value") is not None:
            app["value"] = str(D(app["value"]))
        allocated = per_app.get(index, _Pair())
        if app["value_type"] == "fixed_amount" and app["allocation_method"] == "across" and not m.multi:
            value = rounded(app.get("value", 0), shop_ccy)
            eligible_total = (ship_gross if app["target_type"] == "shipping_line" else line_gross).shop
            if allocated.shop != min(value, eligible_total):
                raise OrderError(f"discount_applications[{index}] is a fixed {m.fmt(value)} across "
                                 f"but its allocations sum to {m.fmt(allocated.shop)}")
    codes = [dict(c) for c in order.get("discount_codes") or []]
    for c in codes:
        matching = [i for i, a in enumerate(apps) if a.get("type") == "discount_code" and a.get("code") == c.get("code")]
        amount = _psum(per_app.get(i, _Pair()) for i in matching)
        if c.get("amount") is not None and matching and rounded(c["amount"], shop_ccy) != amount.shop:
            raise OrderError(f"discount_codes {c.get('code')!r} amount {c['amount']} differs from its "
                             f"allocations {m.fmt(amount.shop)}")
        c["amount"] = m.fmt(amount.shop if matching else D(c.get("amount", 0)))
        c.setdefault("type", "fixed_amount")

    fees, fee_sum = [], _Pair()
    for j, posted_fee in enumerate(order.get("additional_fees") or []):
        fee, price, taxes = _complete_charge(posted_fee, f"additional_fees[{j}]", "AdditionalFee", new_id, m,
                                             taxes_included)
        fee.setdefault("name", "Additional fee")
        fees.append(fee)
        fee_sum = fee_sum + price
        add_taxes(taxes)
    order["additional_fees"] = fees
    tip = rounded(order.get("total_tip_received") or 0, shop_ccy)
    if tip and m.multi:
        raise OrderError("tips with a presentment currency other than the shop's are not modelled")
    tip_pair = _Pair(tip, tip)
    subtotal = line_gross - line_disc
    total_disc = line_disc + ship_disc
    ship_net = ship_gross - ship_disc
    total = subtotal + ship_net + duty_sum + fee_sum + tip_pair + (_Pair() if taxes_included else tax_total)
    computed = {"total_line_items_price": line_gross, "subtotal_price": subtotal,
                "total_discounts": total_disc, "total_tax": tax_total, "total_price": total}
    explain = {
        "subtotal_price": f"total_line_items_price {line_gross.shop} − line discounts {line_disc.shop}",
        "total_price": (f"subtotal {subtotal.shop} + shipping {ship_net.shop} + duties {duty_sum.shop} + "
                        f"additional fees {fee_sum.shop} + tip {tip}"
                        + ("" if taxes_included else f" + tax {tax_total.shop}")),
        "total_tax": "the sum of every line's, shipping line's, duty's and additional fee's tax_lines",
        "total_discounts": "the sum of every discount allocation",
        "total_line_items_price": "Σ price × quantity",
    }
    total_rounding = ZERO
    for key, value in computed.items():
        given = m.read(order, key, key + "_set", "order", required=False) if (
            order.get(key) is not None or order.get(key + "_set") is not None) else None
        if key == "total_price" and given is not None and _converted_whole(shop, m, given, value, lines + ships):
            total_rounding, value = given.shop - value.shop, given
        if given is not None and given != value:
            raise OrderError(f"{key} {given} does not add up: Shopify's would be {value} "
                             f"({explain[key]})")
        m.write(order, key, key + "_set", value)
    given_ship = m.read(order, "_", "total_shipping_price_set", "order", required=False)
    if given_ship is not None and given_ship != ship_gross:
        raise OrderError(f"total_shipping_price_set {given_ship} is not the shipping lines' {ship_gross}")
    order["total_shipping_price_set"] = m.bag(ship_gross)
    order["total_tip_received"] = m.fmt(tip)
    # What converting the total on its own added to the converted parts; current_total_price keeps it.
    order["_total_rounding"] = str(total_rounding)
    # Shopify leaves these null on an order without duties (or fees).
    has_duties = any(li["duties"] for li in lines)
    order["original_total_duties_set"] = m.bag(duty_sum) if has_duties else None
    order["original_total_additional_fees_set"] = m.bag(fee_sum) if fees else None
    order["total_additional_fees_set"] = m.bag(fee_sum) if fees else None
    if order.get("tax_lines"):
        given_tax = _psum(m.read(t, "price", "price_set", f"tax_lines[{i}]") for i, t in enumerate(order["tax_lines"]))
        if given_tax != tax_total:
            raise OrderError(f"tax_lines sum to {given_tax}, the lines' taxes to {tax_total}")
        for t in order["tax_lines"]:
            t["rate"] = json_number(t.get("rate", 0))
            m.write(t, "price", "price_set", m.read(t, "price", "price_set", "tax_lines"))
            t.setdefault("channel_liable", False)
    else:
        order["tax_lines"] = [{"price": m.fmt(p.shop), "rate": rate, "title": title,
                               "price_set": m.bag(p), "channel_liable": False}
                              for (title, rate), p in agg_tax.items()]

    oid = new_id("Order")
    status = order.get("financial_status") or "pending"
    if status not in ("pending", "authorized", "paid"):
        raise OrderError(f"financial_status {status!r}: new orders are pending, authorized or paid "
                         "(partial payments and refunds go through the transactions and refunds routes)")
    order.update({
        "id": oid, "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "order_number": order_number, "number": order_number - 1000, "name": f"#{order_number}",
        "currency": shop_ccy, "presentment_currency": pres_ccy, "taxes_included": taxes_included,
        "line_items": lines, "shipping_lines": ships, "discount_applications": apps,
        "discount_codes": codes, "financial_status": status, "refunds": [],
        "created_at": order.get("created_at") or now, "updated_at": now,
        "processed_at": order.get("processed_at") or order.get("created_at") or now,
    })
    token = _random_token()
    for key, default in (
            ("app_id", None), ("browser_ip", None), ("buyer_accepts_marketing", False),
            ("cancel_reason", None), ("cancelled_at", None), ("cart_token", None), ("checkout_id", None),
            ("checkout_token", None), ("client_details", None), ("closed_at", None),
            ("confirmation_number", _confirmation_number()), ("confirmed", True),
            ("customer_locale", "en"), ("device_id", None), ("duties_included", False),
            ("email", ""), ("estimated_taxes", False), ("fulfillment_status", None),
            ("landing_site", None), ("location_id", None), ("merchant_of_record_app_id", None),
            ("merchant_business_entity_id", None), ("note", None), ("note_attributes", []),
            ("original_total_additional_fees_set", None), ("original_total_duties_set", None),
            ("current_total_additional_fees_set", None), ("current_total_duties_set", None),
            ("payment_gateway_names", ["manual"] if status == "paid" else []),
            ("phone", None), ("po_number", None), ("reference", None), ("referring_site", None),
            ("source_identifier", None), ("source_name", "web"), ("source_url", None), ("tags", ""),
            ("tax_exempt", False), ("test", False), ("total_weight", 0), ("user_id", None),
            ("billing_address", None), ("shipping_address", None), ("customer", None),
            ("fulfillments", []), ("returns", []), ("payment_terms", None), ("line_item_groups", [])):
        order.setdefault(key, default)
    order["token"] = token
    order["contact_email"] = order.get("contact_email") or order.get("email") or None
    order["order_status_url"] = f"https://{shop.domain}/{oid}/orders/{token}/authenticate?key={token[:16]}"
    zero = m.bag(_Pair())
    order["total_cash_rounding_payment_adjustment_set"] = zero
    order["total_cash_rounding_refund_adjustment_set"] = zero
    return order


def _converted_whole(shop, m: _Money, given: _Pair, parts: _Pair, charged: list[dict]) -> bool:
    """Whether a posted total is the presentment total converted as a whole: the shop converts that
    way (``Shop.total_conversion``), the order is in another presentment currency, and the shop
    money is no further from the sum of the converted parts than their roundings can take it (half
    a unit for every converted amount: each unit of a line's quantity, tax line and allocation)."""
    if getattr(shop, "total_conversion", "parts") != "whole" or not m.multi or given.pres != parts.pres:
        return False
    converted = sum(obj.get("quantity", 1) + len(obj["tax_lines"]) + len(obj["discount_allocations"])
                    for obj in charged)
    return abs(given.shop - parts.shop) <= unit(m.shop_ccy) * converted / 2


def initial_transactions(order: dict, new_id, now: str) -> list[dict]:
    """The payment Shopify records with a new order: a sale for a paid one, an authorization for
    an authorized one, nothing for a pending or zero-total one."""
    total = bag_amounts(order["total_price_set"])
    status = order["financial_status"]
    if status == "pending" or total[0] == 0:
        return []
    gateway = (order.get("payment_gateway_names") or ["manual"])[0]
    kind = "sale" if status == "paid" else "authorization"
    return [make_transaction(order, new_id, now, kind=kind, amount=_Pair(*total), gateway=gateway)]


def make_transaction(order: dict, new_id, now: str, *, kind: str, amount, gateway: str,
                     parent_id=None, status: str = "success") -> dict:
    tid = new_id("OrderTransaction")
    pair = amount if isinstance(amount, _Pair) else _Pair(*amount)
    m = _Money(order["currency"], order["presentment_currency"])
    # What is left to capture (REST since 2023-04): the amount of an authorization, nothing for
    # settled kinds.  Its bags use the key ``currency`` and amounts like "0.0" (reference §2.1,
    # as in Shopify's samples and captured refunds/create deliveries).
    unsettled = pair if kind == "authorization" else _Pair()
    return {
        "id": tid, "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{tid}",
        "order_id": order["id"], "kind": kind, "status": status, "gateway": gateway,
        "amount": fmt(pair.pres, m.pres_ccy), "currency": order["presentment_currency"],
        "amount_set": m.bag(pair), "parent_id": parent_id, "test": order.get("test", False),
        "created_at": now, "processed_at": now, "error_code": None, "message": None,
        "source_name": "web", "receipt": {}, "payment_id": f"c{order['id']}.{tid}",
        "manual_payment_gateway": gateway == "manual", "user_id": None, "location_id": None,
        "device_id": None, "authorization": None,
        "total_unsettled_set": {
            "presentment_money": {"amount": str(json_number(unsettled.pres)), "currency": order["presentment_currency"]},
            "shop_money": {"amount": str(json_number(unsettled.shop)), "currency": order["currency"]}},
        # Cash rounding of POS cash refunds in some currencies; null for everything else.
        "amount_rounding": None,
    }


def net_paid(transactions: list[dict]) -> _Pair:
    """Captured minus refunded money of successful transactions."""
    total = _Pair()
    for t in transactions:
        if t["status"] != "success":
            continue
        amount = _Pair(*bag_amounts(t["amount_set"]))
        if t["kind"] in PAID_KINDS:
            total = total + amount
        elif t["kind"] == "refund":
            total = total - amount
    return total


def _get(order, key) -> _Pair:
    return _Pair(*bag_amounts(order[key]))


def shipping_refunded(rsl: dict, taxes_included: bool) -> _Pair:
    """A refund shipping line in the order's price basis: its subtotal, plus its tax when the
    order's prices include tax (the subtotal itself is always net)."""
    return _get(rsl, "subtotal_amount_set") + (_get(rsl, "tax_amount_set") if taxes_included else _Pair())


def recompute_current(order: dict, transactions: list[dict]) -> None:
    """Bring ``current_*``, ``total_outstanding`` and ``financial_status`` in line with refunds,
    cancellation and payments – the invariants the connector reconciles against."""
    m = _Money(order["currency"], order["presentment_currency"])
    refunded_sub, refunded_tax, refunded_ship, refunded_disc = _Pair(), _Pair(), _Pair(), _Pair()
    refunded_qty: dict[int, int] = {}
    refunded_charges = {"duties": _Pair(), "additional_fees": _Pair()}
    for refund in order.get("refunds", []):
        for rli in refund["refund_line_items"]:
            refunded_sub = refunded_sub + _get(rli, "subtotal_set")
            refunded_tax = refunded_tax + _get(rli, "total_tax_set")
            refunded_disc = refunded_disc + _Pair(*rli.get("_discount", (ZERO, ZERO)))
            refunded_qty[rli["line_item_id"]] = refunded_qty.get(rli["line_item_id"], 0) + rli["quantity"]
        for rsl in refund.get("refund_shipping_lines", []):
            refunded_ship = refunded_ship + shipping_refunded(rsl, order["taxes_included"])
            refunded_tax = refunded_tax + _get(rsl, "tax_amount_set")
        for key in ("duties", "additional_fees"):
            for charge in refund.get(key) or []:
                refunded_charges[key] = refunded_charges[key] + _get(charge, "amount_set")
                refunded_tax = refunded_tax + _Pair(*charge.get("_tax", (ZERO, ZERO)))
    for li in order["line_items"]:
        li["current_quantity"] = li["quantity"] - refunded_qty.get(li["id"], 0)
        li["fulfillable_quantity"] = li["current_quantity"] if li.get("fulfillment_status") != "fulfilled" else 0
    ship_net = _psum(_get(sl, "discounted_price_set") for sl in order["shipping_lines"])
    shipping_refunded_per_line: dict[int, _Pair] = {}
    for refund in order.get("refunds", []):
        for rsl in refund.get("refund_shipping_lines", []):
            shipping_refunded_per_line[rsl["shipping_line_id"]] = shipping_refunded(rsl, order["taxes_included"])
    for sl in order["shipping_lines"]:
        sl["current_discounted_price_set"] = m.bag(
            _get(sl, "discounted_price_set") - shipping_refunded_per_line.get(sl["id"], _Pair()))
    cur_sub = _get(order, "subtotal_price_set") - refunded_sub
    cur_tax = _get(order, "total_tax_set") - refunded_tax
    cur_ship = ship_net - refunded_ship
    cur_disc = _get(order, "total_discounts_set") - refunded_disc
    tip = D(order.get("total_tip_received") or 0)
    if any(r.get("_tip") for r in order.get("refunds", [])):
        tip = ZERO
    cur_duties = _psum(_get(d, "price_set") for li in order["line_items"] for d in li.get("duties") or []) \
        - refunded_charges["duties"]
    cur_fees = _psum(_get(f, "price_set") for f in order.get("additional_fees") or []) \
        - refunded_charges["additional_fees"]
    if order.get("original_total_duties_set") is not None:
        order["current_total_duties_set"] = m.bag(cur_duties)
    if order.get("original_total_additional_fees_set") is not None:
        order["current_total_additional_fees_set"] = m.bag(cur_fees)
    cur_total = cur_sub + cur_ship + cur_duties + cur_fees + _Pair(tip, tip) + \
        _Pair(D(order.get("_total_rounding") or 0), ZERO) + (_Pair() if order["taxes_included"] else cur_tax)
    m.write(order, "current_subtotal_price", "current_subtotal_price_set", cur_sub)
    m.write(order, "current_total_tax", "current_total_tax_set", cur_tax)
    m.write(order, "current_total_discounts", "current_total_discounts_set", cur_disc)
    m.write(order, "current_total_price", "current_total_price_set", cur_total)
    order["current_shipping_price_set"] = m.bag(cur_ship)
    paid = net_paid(transactions)
    # Customers owe what the order now costs, plus what refunds kept back from them (a restocking
    # fee), less what refunds gave them beyond their lines (an amount-only refund): the
    # discrepancies are not in current_total_price, which Shopify defines as the total "after
    # returns" (schema), so they settle here.
    outstanding = cur_total + refund_discrepancy(order) - paid
    order["total_outstanding"] = m.fmt(outstanding.shop)
    order["total_outstanding_set"] = m.bag(outstanding)  # not in REST payloads; stripped on output
    refunded_money = _psum(_Pair(*bag_amounts(t["amount_set"])) for t in transactions
                           if t["kind"] == "refund" and t["status"] == "success")
    captured = paid + refunded_money
    if refunded_money.shop > 0:
        status = "refunded" if paid.shop <= 0 else "partially_refunded"
    elif order.get("cancelled_at") and captured.shop == 0:
        status = "voided" if any(t["kind"] == "authorization" for t in transactions) or \
            order["financial_status"] in ("pending", "authorized", "voided") else order["financial_status"]
    elif outstanding.shop <= 0 and (captured.shop > 0 or cur_total.shop == 0):
        status = "paid"
    elif captured.shop > 0:
        status = "partially_paid"
    else:
        status = order["financial_status"] if order["financial_status"] in ("pending", "authorized") else "pending"
    order["financial_status"] = status


def rest_view(order: dict, shipping_tax: bool = False) -> dict:
    """The order as REST and webhooks show it: private bookkeeping keys removed."""
    out = {k: v for k, v in order.items() if not k.startswith("_") and k != "total_outstanding_set"}
    out["line_items"] = [{k: v for k, v in li.items() if not k.startswith("_")} for li in order.get("line_items", [])]
    out["refunds"] = [refund_view(r, shipping_tax) for r in order.get("refunds", [])]
    return out


def refund_view(refund: dict, shipping_tax: bool = False) -> dict:
    """The refund as REST and webhooks show it.  The store keeps each refund shipping line's
    ``tax_amount_set`` (GraphQL and the order's arithmetic need it), but REST shows it only when
    ``shipping_tax`` says so (``ShopifySandboxSettings.rest_refund_shipping_tax``)."""
    out = {k: v for k, v in refund.items() if not k.startswith("_")}
    out["refund_line_items"] = [{k: v for k, v in rli.items() if not k.startswith("_")}
                                for rli in refund["refund_line_items"]]
    for key in ("duties", "additional_fees"):
        out[key] = [{k: v for k, v in charge.items() if not k.startswith("_")} for charge in refund.get(key) or []]
    out["refund_shipping_lines"] = [{k: v for k, v in rsl.items() if shipping_tax or k != "tax_amount_set"}
                                    for rsl in refund.get("refund_shipping_lines", [])]
    # A refund's transactions carry ``amount`` and ``currency`` (presentment money) and no
    # ``amount_set``, as in Shopify's 2026-07 refunds/create sample: shop money is GraphQL's.
    out["transactions"] = [{k: v for k, v in t.items() if k != "amount_set"} for t in refund.get("transactions", [])]
    return out


# --------------------------------------------------------------------------------------------
# refunds


def build_refund(order: dict, posted: dict, transactions: list[dict], *, new_id, now: str,
                 duties_in_money: bool = True) -> tuple[dict, list[dict]]:
    """A REST refund for ``order`` from a posted one, and the refund transactions it creates.

    Line subtotals and taxes are the line's discounted total and tax pro rata by quantity, the
    last units taking whatever remains, so refunding every unit gives back exactly the line.
    Duties (``refund_duties``: FULL, or PROPORTIONAL to the units of their line this refund
    returns) and additional fees (``refund_additional_fees``, whole) are given back too, with
    their tax; ``duties_in_money`` (``ShopifySandboxSettings.refund_duties_in_transactions``)
    says whether their money is in the refund's transactions.
    """
    m = _Money(order["currency"], order["presentment_currency"])
    lines = {li["id"]: li for li in order["line_items"]}
    done_qty: dict[int, int] = {}
    done_amounts: dict[int, tuple[_Pair, _Pair, _Pair]] = {}
    for r in order.get("refunds", []):
        for rli in r["refund_line_items"]:
            lid = rli["line_item_id"]
            done_qty[lid] = done_qty.get(lid, 0) + rli["quantity"]
            s, t, d = done_amounts.get(lid, (_Pair(), _Pair(), _Pair()))
            done_amounts[lid] = (s + _get(rli, "subtotal_set"), t + _get(rli, "total_tax_set"),
                                 d + _Pair(*rli.get("_discount", (ZERO, ZERO))))
    rlis = []
    subtotal_sum, tax_sum = _Pair(), _Pair()
    for i, item in enumerate(posted.get("refund_line_items") or []):
        where = f"refund_line_items[{i}]"
        li = lines.get(item.get("line_item_id"))
        if li is None:
            raise OrderError(f"{where}.line_item_id {item.get('line_item_id')} is not a line of this order")
        q = item.get("quantity")
        if item.get("restock_type", "no_restock") not in ("no_restock", "cancel", "return", "legacy_restock"):
            raise OrderError(f"{where}.restock_type must be no_restock, cancel, return or legacy_restock")
        refundable = li["quantity"] - done_qty.get(li["id"], 0)
        if not isinstance(q, int) or q <= 0 or q > refundable:
            raise OrderError(f"{where}.quantity {q!r}: only {refundable} of this line can be refunded")
        gross = _get(li, "price_set") * li["quantity"]
        disc = _psum(_get(a, "amount_set") for a in li["discount_allocations"])
        tax = _psum(_get(t, "price_set") for t in li["tax_lines"])
        net = gross - disc
        prev_s, prev_t, prev_d = done_amounts.get(li["id"], (_Pair(), _Pair(), _Pair()))
        if q == refundable:
            sub, tx, dsc = net - prev_s, tax - prev_t, disc - prev_d
        else:
            frac = Decimal(q) / Decimal(li["quantity"])
            sub, tx, dsc = m.round(net * frac), m.round(tax * frac), m.round(disc * frac)
        done_qty[li["id"]] = done_qty.get(li["id"], 0) + q
        done_amounts[li["id"]] = (prev_s + sub, prev_t + tx, prev_d + dsc)
        rli_id = new_id("RefundLineItem")
        snapshot = {k: li[k] for k in ("id", "admin_graphql_api_id", "sku", "title", "name", "variant_title",
                                       "vendor", "quantity", "price", "price_set", "taxable", "gift_card",
                                       "tax_lines", "discount_allocations", "total_discount", "total_discount_set",
                                       "product_id", "variant_id")}
        rlis.append({
            "id": rli_id, "line_item_id": li["id"], "location_id": item.get("location_id"),
            "quantity": q, "restock_type": item.get("restock_type", "no_restock"),
            "subtotal": json_number(sub.shop), "subtotal_set": m.bag(sub),
            "total_tax": json_number(tx.shop), "total_tax_set": m.bag(tx),
            "line_item": snapshot, "_discount": (dsc.shop, dsc.pres),
        })
        subtotal_sum, tax_sum = subtotal_sum + sub, tax_sum + tx

    already_shipped_back = {rsl["shipping_line_id"] for r in order.get("refunds", [])
                            for rsl in r.get("refund_shipping_lines", [])}
    ship_ids = []
    shipping = posted.get("shipping") or {}
    if shipping.get("full_refund"):
        ship_ids = [sl["id"] for sl in order["shipping_lines"] if sl["id"] not in already_shipped_back]
    elif shipping.get("amount") is not None:
        raise OrderError("partial shipping refunds (shipping.amount) are not modelled; use full_refund")
    for item in posted.get("refund_shipping_lines") or []:
        sid = item.get("shipping_line_id")
        if sid in already_shipped_back or sid not in {sl["id"] for sl in order["shipping_lines"]}:
            raise OrderError(f"shipping line {sid} cannot be refunded (unknown or already refunded)")
        ship_ids.append(sid)
    rsls = []
    ship_sum, ship_tax_sum = _Pair(), _Pair()
    for sl in order["shipping_lines"]:
        if sl["id"] not in ship_ids:
            continue
        tx = _psum(_get(t, "price_set") for t in sl["tax_lines"])
        # The refund shipping subtotal is net of tax even when prices include it (see README).
        sub = _get(sl, "discounted_price_set") - (tx if order["taxes_included"] else _Pair())
        rsls.append({"id": new_id("RefundShippingLine"), "shipping_line_id": sl["id"],
                     "subtotal_amount_set": m.bag(sub), "tax_amount_set": m.bag(tx),
                     "shipping_line": {k: sl[k] for k in ("id", "title", "code", "price", "price_set",
                                                          "discounted_price", "discounted_price_set",
                                                          "tax_lines", "discount_allocations")}})
        ship_sum, ship_tax_sum = ship_sum + sub, ship_tax_sum + tx
    refunded_lines = {rli["line_item_id"]: rli["quantity"] for rli in rlis}
    charges, charge_sum, charge_tax = _refund_charges(order, posted, refunded_lines, done_qty, m)
    given_money = posted.get("transactions")
    if not rlis and not rsls and not given_money and not charge_sum.shop and \
            not (posted.get("_refund_tip") and D(order.get("total_tip_received") or 0)):
        raise OrderError("a refund needs refund_line_items, shipping or transactions (an amount-only refund)")

    # Line subtotals are in the order's price basis (they include tax when taxes_included);
    # shipping subtotals never include their tax.
    money_back = subtotal_sum + ship_sum + ship_tax_sum
    if not order["taxes_included"]:
        money_back = money_back + tax_sum
    if duties_in_money:  # duties and fees are in the order's price basis, as its lines
        money_back = money_back + charge_sum + (_Pair() if order["taxes_included"] else charge_tax)
    tip = _Pair()
    if posted.get("_refund_tip") and not any(r.get("_tip") for r in order.get("refunds", [])):
        tip = _Pair(D(order.get("total_tip_received") or 0), D(order.get("total_tip_received") or 0))
        money_back = money_back + tip
    available = net_paid(transactions)
    parent = next((t for t in transactions if t["kind"] in PAID_KINDS and t["status"] == "success"), None)
    # What Shopify would suggest giving back: the refund's lines and shipping, as far as paid; a
    # restocking fee kept earlier stays paid, money given beyond earlier refunds' lines was paid
    # for these goods (so a return after an amount-only refund is not capped by it).
    refundable = available - refund_discrepancy(order)
    suggested = money_back if money_back.shop <= refundable.shop else refundable
    if suggested.shop < 0:
        suggested = _Pair()
    fee = rounded(posted.get("restocking_fee") or 0, m.shop_ccy)
    if fee < 0 or fee > suggested.shop:
        raise OrderError(f"restocking_fee {m.fmt(fee)} must be between 0 and the {m.fmt(suggested.shop)} given back")
    fee_pair = m.round(_Pair(fee, fee * suggested.pres / suggested.shop if suggested.shop else fee))
    # ``_pending``: the payment provider has not settled the money yet (a bank transfer, some
    # wallets): the refund's transactions stay ``pending`` until settled (Merchant.settle).
    status = "pending" if posted.get("_pending") else "success"
    txs = []
    if given_money is not None:
        for j, t in enumerate(given_money):
            if t.get("kind", "refund") != "refund":
                raise OrderError(f"transactions[{j}].kind must be refund")
            amount = rounded(t.get("amount"), m.shop_ccy)
            if amount <= 0:
                raise OrderError(f"transactions[{j}].amount must be more than zero")
            pres = amount if not m.multi or not money_back.shop else amount * money_back.pres / money_back.shop
            txs.append(make_transaction(order, new_id, now, kind="refund", amount=m.round(_Pair(amount, pres)),
                                        gateway=t.get("gateway") or (parent or {}).get("gateway", "manual"),
                                        parent_id=t.get("parent_id") or (parent or {}).get("id"), status=status))
        given = _psum(_Pair(*bag_amounts(t["amount_set"])) for t in txs)
        if given.shop > available.shop:
            raise OrderError(f"refund transactions total {m.fmt(given.shop)} but only {m.fmt(available.shop)} "
                             "was paid and not refunded yet")
    else:
        given = suggested - fee_pair
        if given.shop > available.shop:
            given = available
        if given.shop > 0:
            txs.append(make_transaction(order, new_id, now, kind="refund", amount=given,
                                        gateway=(parent or {}).get("gateway", "manual"),
                                        parent_id=(parent or {}).get("id"), status=status))
    # What the customer got less (positive) or more (negative) than suggested: order adjustments,
    # "calculated minus actual refund" (reference §2.1), one for the restocking fee (reason
    # RESTOCK) and one for any other difference (REFUND_DISCREPANCY).
    discrepancy = suggested - fee_pair - given
    adjustments = [_order_adjustment(order, new_id, m, reason, amount)
                   for reason, amount in (("restock", fee_pair), ("refund_discrepancy", discrepancy))
                   if amount.shop]
    rid = new_id("Refund")
    refund = {
        "id": rid, "admin_graphql_api_id": f"gid://shopify/Refund/{rid}", "order_id": order["id"],
        "created_at": now, "processed_at": now, "note": posted.get("note"), "user_id": None,
        "restock": any(r["restock_type"] != "no_restock" for r in rlis), "return": None,
        "duties": charges["duties"], "total_duties_set": m.bag(_psum(_get(c, "amount_set") for c in charges["duties"])),
        "additional_fees": charges["additional_fees"],
        "total_additional_fees_set": m.bag(_psum(_get(c, "amount_set") for c in charges["additional_fees"])),
        "refund_line_items": rlis, "refund_shipping_lines": rsls, "order_adjustments": adjustments,
        "transactions": txs,
    }
    for adjustment in adjustments:
        adjustment["refund_id"] = rid
    if tip.shop:
        refund["_tip"] = (tip.shop, tip.pres)  # cancelling gives the tip back too (not in REST payloads)
    return refund, txs


def _charges(order: dict) -> dict[str, dict[int, dict]]:
    return {"duties": {d["id"]: d for li in order["line_items"] for d in li.get("duties") or []},
            "additional_fees": {f["id"]: f for f in order.get("additional_fees") or []}}


def charges_refunded(order: dict) -> dict[str, dict[int, _Pair]]:
    """What the order's refunds gave back of each duty and additional fee, by id."""
    done: dict[str, dict[int, _Pair]] = {"duties": {}, "additional_fees": {}}
    for r in order.get("refunds", []):
        for key, id_key in (("duties", "duty_id"), ("additional_fees", "additional_fee_id")):
            for c in r.get(key) or []:
                done[key][c[id_key]] = done[key].get(c[id_key], _Pair()) + _get(c, "amount_set")
    return done


def _refund_charges(order: dict, posted: dict, refunded_lines: dict[int, int], done_qty: dict[int, int],
                    m: _Money) -> tuple[dict[str, list[dict]], _Pair, _Pair]:
    """The duties and additional fees a posted refund gives back, and their sum and tax.

    A duty refunded FULL gives back what is left of it; PROPORTIONAL the share of its line's units
    this refund returns (what is left once the line's last unit is returned). A fee is given back
    whole.  The tax of a refunded charge is its tax lines pro rata by amount, rounded to the
    currency's unit (Shopify reports no tax on a ``RefundDuty``: the sandbox's reading, L)."""
    known, done = _charges(order), charges_refunded(order)
    line_of = {d["id"]: li for li in order["line_items"] for d in li.get("duties") or []}
    out: dict[str, list[dict]] = {"duties": [], "additional_fees": []}
    total, total_tax = _Pair(), _Pair()
    requests = [("duties", "duty_id", i, item) for i, item in enumerate(posted.get("refund_duties") or [])] + \
        [("additional_fees", "additional_fee_id", i, item)
         for i, item in enumerate(posted.get("refund_additional_fees") or [])]
    for key, id_key, i, item in requests:
        where, what = f"refund_{key}[{i}]", {"duties": "duty", "additional_fees": "additional fee"}[key]
        charge = known[key].get(item.get(id_key))
        if charge is None:
            raise OrderError(f"{where}.{id_key} {item.get(id_key)!r} is not a {what} of this order")
        price = _get(charge, "price_set")
        left = price - done[key].get(charge["id"], _Pair())
        kind = item.get("refund_type", "FULL") if key == "duties" else "FULL"
        if kind not in ("FULL", "PROPORTIONAL"):
            raise OrderError(f"{where}.refund_type must be FULL or PROPORTIONAL")
        amount = left
        if kind == "PROPORTIONAL":
            li = line_of[charge["id"]]
            q = refunded_lines.get(li["id"], 0)
            if done_qty.get(li["id"], 0) < li["quantity"]:
                amount = m.round(price * (Decimal(q) / Decimal(li["quantity"])))
        if left.shop <= 0 or amount.shop <= 0:
            raise OrderError(f"{where}: nothing of {what} {charge['id']} is left to refund"
                             + (" for the units this refund returns" if kind == "PROPORTIONAL" and left.shop > 0 else ""))
        tax = _psum(_get(t, "price_set") for t in charge.get("tax_lines") or [])
        tax = m.round(_Pair(tax.shop * amount.shop / price.shop if price.shop else ZERO,
                            tax.pres * amount.pres / price.pres if price.pres else ZERO))
        done[key][charge["id"]] = done[key].get(charge["id"], _Pair()) + amount
        out[key].append({id_key: charge["id"], "amount_set": m.bag(amount), "_tax": (tax.shop, tax.pres)})
        total, total_tax = total + amount, total_tax + tax
    return out, total, total_tax


def _order_adjustment(order: dict, new_id, m: "_Money", reason: str, amount: _Pair) -> dict:
    """A non-shipping order adjustment as REST shows it: ``kind`` refund_discrepancy (Shopify's
    samples keep the deprecated key), the reason, and no tax (whether Shopify ever puts tax on a
    discrepancy is unknown)."""
    return {"id": new_id("OrderAdjustment"), "order_id": order["id"], "refund_id": None,
            "kind": "refund_discrepancy", "reason": reason,
            "amount": m.fmt(amount.shop), "amount_set": m.bag(amount),
            "tax_amount": m.fmt(ZERO), "tax_amount_set": m.bag(_Pair())}


def refund_discrepancy(order: dict) -> _Pair:
    """Σ of the order's non-shipping order adjustments: positive when customers got less back than
    their refunds' lines and shipping (a restocking fee), negative when they got more."""
    return _psum(_get(a, "amount_set") + _get(a, "tax_amount_set")
                 for r in order.get("refunds", []) for a in r.get("order_adjustments", [])
                 if a.get("kind") != "shipping_refund")


def full_refund_request(order: dict) -> dict:
    """What cancelling with a refund refunds: every remaining unit and all shipping."""
    done: dict[int, int] = {}
    for r in order.get("refunds", []):
        for rli in r["refund_line_items"]:
            done[rli["line_item_id"]] = done.get(rli["line_item_id"], 0) + rli["quantity"]
    items = [{"line_item_id": li["id"], "quantity": li["quantity"] - done.get(li["id"], 0),
              "restock_type": "cancel"} for li in order["line_items"] if li["quantity"] - done.get(li["id"], 0) > 0]
    given, known = charges_refunded(order), _charges(order)
    left = {key: [cid for cid, c in known[key].items()
                  if (_get(c, "price_set") - given[key].get(cid, _Pair())).shop > 0] for key in known}
    return {"refund_line_items": items, "shipping": {"full_refund": True}, "note": "Order cancelled",
            "refund_duties": [{"duty_id": cid, "refund_type": "FULL"} for cid in left["duties"]],
            "refund_additional_fees": [{"additional_fee_id": cid} for cid in left["additional_fees"]],
            "_refund_tip": True}
