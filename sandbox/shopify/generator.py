"""Realistic, deterministic Shopify orders (REST format) whose every figure adds up.

``generate_orders(count, seed)`` mixes what a connector meets in a real shop: returning and guest
customers; percentage and fixed discounts allocated across, each and one, and shipping discounts;
several tax lines (US state/county/city) or one VAT/GST included in prices; presentment currencies
other than the shop's; zero-total orders; gift card lines; tips; paid, pending and authorized orders.

The arithmetic is Shopify's: money is Decimal; discounts are allocated in the currency's smallest
unit so allocations sum exactly to the discount; tax is computed per line on the discounted line
total and rounded to that unit (a cent, a yen, a fils); with a foreign presentment currency every
component is computed in presentment money and converted component by component, so totals add
up in both currencies.  Catalog prices, shipping rates, fixed discounts and tips are sticker
prices of a two-decimal currency, used as written in one; a currency with other decimals gets
them converted from USD at ``FX`` (a 25.00 tee is 3731 JPY, 7.692 KWD).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .money import ZERO, allocate, bag, exponent, fmt, json_number, rounded

CATALOG = [
    ("TEE-BLK-M", "Tee", "Black / M", "Acme Apparel", "25.00", 180),
    ("TEE-WHT-L", "Tee", "White / L", "Acme Apparel", "25.00", 190),
    ("MUG-01", "Mug", None, "Acme Home", "12.00", 350),
    ("HOOD-GRY-S", "Hoodie", "Grey / S", "Acme Apparel", "59.90", 620),
    ("CAP-NVY", "Cap", "Navy", "Acme Apparel", "19.99", 90),
    ("BTL-750", "Water Bottle", "750 ml", "Acme Outdoor", "14.50", 240),
    ("SOCK-3PK", "Socks", "3 pack", "Acme Apparel", "9.95", 120),
    ("BAG-TOTE", "Tote Bag", None, "Acme Home", "22.00", 200),
    ("NB-A5", "Notebook", "A5 dotted", "Acme Paper", "7.49", 260),
    ("LAMP-DSK", "Desk Lamp", None, "Acme Home", "89.00", 1400),
]
FIRST = ["Ana", "Ben", "Chloé", "Dev", "Eva", "Finn", "Grace", "Hiro", "Ines", "Jon", "Kara", "Liam", "Mona", "Noah"]
LAST = ["Silva", "Okafor", "Müller", "Patel", "Rossi", "Nguyen", "Smith", "Kowalski", "García", "Tanaka"]
US_PLACES = [("Austin", "Texas", "TX", "78701"), ("Denver", "Colorado", "CO", "80202"),
             ("Seattle", "Washington", "WA", "98101"), ("Chicago", "Illinois", "IL", "60601")]
US_TAXES = [[("State Tax", "0.0625")], [("State Tax", "0.0625"), ("County Tax", "0.01")],
            [("State Tax", "0.06"), ("County Tax", "0.01"), ("City Tax", "0.0125")]]
VAT = [("VAT", "0.2"), ("VAT", "0.19"), ("GST", "0.1"), ("VAT", "0.21")]
#: Shop-currency units per presentment unit, per (shop, presentment) pair.
FX = {"EUR": Decimal("1.0850"), "GBP": Decimal("1.2710"), "CAD": Decimal("0.7345"), "AUD": Decimal("0.6580"),
      "USD": Decimal("1"), "JPY": Decimal("0.0067"), "KRW": Decimal("0.00073"), "KWD": Decimal("3.25"),
      "BHD": Decimal("2.65")}
SHIPPING = [("Standard", "STANDARD", "6.00"), ("Express", "EXPRESS", "15.00"), ("Economy", "ECONOMY", "4.99"),
            ("Free Shipping", "FREE", "0.00")]


def _fx(shop_ccy: str, pres_ccy: str) -> Decimal:
    return (FX.get(pres_ccy, Decimal(1)) / FX.get(shop_ccy, Decimal(1))).quantize(Decimal("0.000001"))


def _sticker(amount: str, currency: str) -> Decimal:
    """A sticker price (written for a two-decimal currency) in ``currency``: as written where the
    currency has two decimals, else converted from USD at ``FX`` and rounded to its unit."""
    if exponent(currency) == 2:
        return Decimal(amount)
    return rounded(Decimal(amount) / FX.get(currency, Decimal(1)), currency)


class _Builder:
    """Builds one order: amounts are (shop, presentment) pairs derived from presentment money."""

    def __init__(self, shop_ccy, pres_ccy):
        self.shop_ccy, self.pres_ccy = shop_ccy, pres_ccy
        self.fx = _fx(shop_ccy, pres_ccy)

    def pair(self, pres: Decimal, cap: Decimal | None = None) -> tuple[Decimal, Decimal]:
        shop = rounded(pres * self.fx if self.shop_ccy != self.pres_ccy else pres, self.shop_ccy)
        if cap is not None:
            shop = min(shop, cap)
        return shop, rounded(pres, self.pres_ccy)

    def pres(self, amount: Decimal) -> Decimal:
        """A presentment amount rounded to its currency's unit."""
        return rounded(amount, self.pres_ccy)

    def presented(self, sticker: str) -> Decimal:
        """A sticker price of the shop, in presentment money."""
        return self.pres(_sticker(sticker, self.shop_ccy) / self.fx)

    def bag(self, p):
        return bag(p[0], self.shop_ccy, p[1], self.pres_ccy)

    def fmt(self, shop_amount: Decimal) -> str:
        return fmt(shop_amount, self.shop_ccy)


def _customers(rng: random.Random, n: int, first: int = 0) -> list[dict]:
    out = []
    for i in range(first, first + n):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + 3) % len(LAST)]
        city, province, code, zip_ = US_PLACES[i % len(US_PLACES)]
        addr = {"first_name": first, "last_name": last, "company": f"{last} LLC" if i % 4 == 0 else None,
                "address1": f"{100 + i} Main St", "address2": None, "city": city, "province": province,
                "province_code": code, "country": "United States", "country_code": "US", "zip": zip_,
                "phone": None}
        out.append({"first_name": first, "last_name": last,
                    "email": f"{first.lower().replace('é', 'e')}.{last.lower().replace('ü', 'u').replace('í', 'i')}{i}@example.com",
                    "phone": f"+1512555{1000 + i:04d}" if i % 3 == 0 else None, "tags": "vip" if i % 5 == 0 else "",
                    "addresses": [addr]})
    return out


#: What an order may be forced to (``financial_status``): the generator's mix otherwise.
STATUSES = ("paid", "pending", "authorized")


def generate_orders(count: int, seed: int = 0, *, currency: str = "USD", taxes_included: bool = False,
                    first: int = 0, customers: int | None = None, guest_share: float = 0.25,
                    financial_status: str | None = None, convert_total: str = "parts") -> list[dict]:
    """``count`` REST-format orders ready for ``POST /_sandbox/shops/{shop}/orders``; same seed, same orders.

    Customers and guests are numbered from ``first`` (their emails carry the number): batches made
    one after another with ``first`` = the orders made before them bring customers of their own,
    where batches all numbered from 0 would bring the same customers back. ``customers`` is how
    many returning customers the orders are drawn from (about a third of ``count`` otherwise),
    ``guest_share`` the share of guest checkouts, ``financial_status`` one status for every order
    that has something to pay (a zero-total order is paid): a large history of a few known buyers,
    all unpaid, is what a backfill at scale is measured with. ``convert_total`` ``"whole"``
    converts an order's presentment total on its own instead of adding up its converted parts
    (``Shop.total_conversion``)."""
    if financial_status is not None and financial_status not in STATUSES:
        raise ValueError(f"financial_status must be one of {', '.join(STATUSES)}")
    rng = random.Random(seed)
    pool = _customers(rng, customers if customers else max(3, count // 3 + 2), first)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    orders = []
    for i in range(count):
        start += timedelta(minutes=rng.randint(3, 240))
        orders.append(_order(rng, first + i, pool, currency, taxes_included, start, guest_share, financial_status,
                             convert_total))
    return orders


def _order(rng, i, pool, shop_ccy, taxes_included, when, guest_share=0.25, forced_status=None,
           convert_total="parts") -> dict:
    foreign = [c for c in ("EUR", "GBP", "CAD", "AUD") if c != shop_ccy]
    pres_ccy = rng.choice(foreign) if rng.random() < 0.2 else shop_ccy
    b = _Builder(shop_ccy, pres_ccy)
    multi = pres_ccy != shop_ccy
    zero_total = rng.random() < 0.05
    if taxes_included:
        tax_rates = [rng.choice(VAT)]
    else:
        tax_rates = rng.choice(US_TAXES) if rng.random() < 0.9 else []
    rates = [Decimal(r) for _, r in tax_rates]
    rate_sum = sum(rates, Decimal(0))

    # --- lines (presentment unit prices)
    lines = []
    for sku, title, variant, vendor, price, grams in rng.sample(CATALOG, rng.randint(1, 4)):
        unit_p = b.presented(price)
        lines.append({"sku": sku, "title": title, "variant_title": variant, "vendor": vendor,
                      "quantity": rng.choice([1, 1, 1, 2, 3]), "unit_p": unit_p, "grams": grams,
                      "gift_card": False, "allocs": []})
    if not zero_total and rng.random() < 0.08:
        lines.append({"sku": "GIFT-50", "title": "Gift Card", "variant_title": "$50", "vendor": "Acme",
                      "quantity": 1, "unit_p": b.presented("50.00"), "grams": 0, "gift_card": True, "allocs": []})
    ships = []
    if not zero_total and rng.random() < 0.85:
        title, code, price = rng.choice(SHIPPING)
        ships.append({"title": title, "code": code, "unit_p": b.presented(price),
                      "quantity": 1, "allocs": [], "gift_card": False})

    # --- discounts (computed in presentment money)
    apps = []

    def remaining(t):
        return t["unit_p"] * t["quantity"] - sum((a for _, a in t["allocs"]), ZERO)

    def apply(app, targets, amounts):
        index = len(apps)
        apps.append(app)
        for t, amount in zip(targets, amounts):
            if amount > 0:
                t["allocs"].append((index, amount))

    eligible = [li for li in lines if not li["gift_card"]]
    roll = rng.random()
    if zero_total:
        apply({"type": "manual", "title": "Staff comp", "description": "100% off", "value": "100.0",
               "value_type": "percentage", "allocation_method": "across", "target_selection": "all",
               "target_type": "line_item"}, eligible,
              allocate(sum((remaining(t) for t in eligible), ZERO), [remaining(t) for t in eligible], pres_ccy))
    elif roll < 0.2:
        pct = Decimal(rng.choice(["10.0", "15.0", "20.0"]))
        base = [remaining(t) for t in eligible]
        apply({"type": "discount_code", "code": f"SAVE{int(pct)}", "value": str(pct), "value_type": "percentage",
               "allocation_method": "across", "target_selection": "all", "target_type": "line_item"},
              eligible, allocate(b.pres(sum(base, ZERO) * pct / 100), base, pres_ccy))
    elif roll < 0.35 and not multi:
        sticker = rng.choice(["5.00", "10.00"])
        value = _sticker(sticker, shop_ccy)
        base = [remaining(t) for t in eligible]
        if sum(base, ZERO) >= value:
            apply({"type": "discount_code", "code": f"TAKE{int(Decimal(sticker))}", "value": str(value),
                   "value_type": "fixed_amount", "allocation_method": "across", "target_selection": "all",
                   "target_type": "line_item"}, eligible, allocate(value, base, pres_ccy))
    elif roll < 0.45:
        value = _sticker("2.00", pres_ccy)
        apply({"type": "manual", "title": "Bundle", "description": "2 off each", "value": str(value),
               "value_type": "fixed_amount", "allocation_method": "each", "target_selection": "explicit",
               "target_type": "line_item"}, eligible,
              [min(value * t["quantity"], remaining(t)) for t in eligible])
    elif roll < 0.55:
        pct = Decimal("25.0")
        first = eligible[0]
        apply({"type": "automatic", "title": "25% off one item", "value": str(pct), "value_type": "percentage",
               "allocation_method": "one", "target_selection": "entitled", "target_type": "line_item"},
              [first], [b.pres(remaining(first) * pct / 100)])
    if ships and ships[0]["unit_p"] > 0 and rng.random() < 0.2:
        if rng.random() < 0.5:
            apply({"type": "discount_code", "code": "FREESHIP", "value": "100.0", "value_type": "percentage",
                   "allocation_method": "each", "target_selection": "all", "target_type": "shipping_line"},
                  ships, [remaining(ships[0])])
        elif not multi:
            value = min(_sticker("3.00", shop_ccy), remaining(ships[0]))
            apply({"type": "discount_code", "code": "SHIP3", "value": str(value), "value_type": "fixed_amount",
                   "allocation_method": "across", "target_selection": "all", "target_type": "shipping_line"},
                  ships, [value])

    # --- tax per line, rounded to the currency's unit, then REST output
    def taxes(base_p: Decimal, taxable: bool) -> list[dict]:
        out = []
        if not taxable:
            return out
        for (title, rate), r in zip(tax_rates, rates):
            p = b.pair(b.pres(base_p * r / (1 + rate_sum) if taxes_included else base_p * r))
            out.append({"title": title, "rate": json_number(r), "price": b.fmt(p[0]), "price_set": b.bag(p),
                        "channel_liable": False})
        return out

    tot = {k: [ZERO, ZERO] for k in ("lines", "line_disc", "ship", "ship_disc", "tax")}

    def add(key, p):
        tot[key][0] += p[0]
        tot[key][1] += p[1]

    rest_lines = []
    for n, li in enumerate(lines):
        unit = b.pair(li["unit_p"])
        gross = (unit[0] * li["quantity"], unit[1] * li["quantity"])
        allocs = []
        for index, amount_p in li["allocs"]:
            p = b.pair(amount_p, cap=gross[0] - sum((a[1][0] for a in allocs), ZERO))
            allocs.append((index, p))
        disc_p = sum((a[1][1] for a in allocs), ZERO)
        tax_lines = taxes(gross[1] - disc_p, not li["gift_card"])
        for t in tax_lines:
            add("tax", (Decimal(t["price_set"]["shop_money"]["amount"]), Decimal(t["price_set"]["presentment_money"]["amount"])))
        add("lines", gross)
        for _, p in allocs:
            add("line_disc", p)
        rest_lines.append({
            "sku": li["sku"], "title": li["title"], "variant_title": li["variant_title"], "vendor": li["vendor"],
            "name": li["title"] + (f" - {li['variant_title']}" if li["variant_title"] else ""),
            "quantity": li["quantity"], "price": b.fmt(unit[0]), "price_set": b.bag(unit), "grams": li["grams"],
            "gift_card": li["gift_card"], "taxable": not li["gift_card"], "requires_shipping": not li["gift_card"],
            "product_id": 632910392 + n, "variant_id": 808950810 + n,
            "discount_allocations": [{"amount": b.fmt(p[0]), "amount_set": b.bag(p), "discount_application_index": idx}
                                     for idx, p in allocs],
            "tax_lines": tax_lines})
    rest_ships = []
    for sl in ships:
        price = b.pair(sl["unit_p"])
        allocs = [(idx, b.pair(a, cap=price[0])) for idx, a in sl["allocs"]]
        disc = (sum((p[0] for _, p in allocs), ZERO), sum((p[1] for _, p in allocs), ZERO))
        shipping_taxed = taxes_included or rng.random() < 0.5
        tax_lines = taxes(price[1] - disc[1], shipping_taxed)
        for t in tax_lines:
            add("tax", (Decimal(t["price_set"]["shop_money"]["amount"]), Decimal(t["price_set"]["presentment_money"]["amount"])))
        add("ship", price)
        add("ship_disc", disc)
        net = (price[0] - disc[0], price[1] - disc[1])
        rest_ships.append({"title": sl["title"], "code": sl["code"], "source": "shopify", "price": b.fmt(price[0]),
                           "price_set": b.bag(price), "discounted_price": b.fmt(net[0]), "discounted_price_set": b.bag(net),
                           "discount_allocations": [{"amount": b.fmt(p[0]), "amount_set": b.bag(p),
                                                     "discount_application_index": idx} for idx, p in allocs],
                           "tax_lines": tax_lines})

    tip = _sticker(rng.choice(["1.00", "2.50", "5.00"]), shop_ccy) if (not multi and not zero_total and rng.random() < 0.1) \
        else ZERO
    side = lambda k, s: tot[k][s]  # noqa: E731
    totals = {}
    for s in (0, 1):
        subtotal = side("lines", s) - side("line_disc", s)
        ship_net = side("ship", s) - side("ship_disc", s)
        total = subtotal + ship_net + (ZERO if taxes_included else side("tax", s)) + tip
        for key, value in (("total_line_items_price", side("lines", s)), ("subtotal_price", subtotal),
                           ("total_discounts", side("line_disc", s) + side("ship_disc", s)),
                           ("total_tax", side("tax", s)), ("total_price", total),
                           ("total_shipping_price", side("ship", s))):
            totals.setdefault(key, [ZERO, ZERO])[s] = value
    if convert_total == "whole" and multi:
        totals["total_price"][0] = b.pair(totals["total_price"][1])[0]

    # order-level tax lines aggregate the line ones
    agg: dict[tuple, list] = {}
    for obj in rest_lines + rest_ships:
        for t in obj["tax_lines"]:
            a = agg.setdefault((t["title"], str(t["rate"])), [t["rate"], ZERO, ZERO])
            a[1] += Decimal(t["price_set"]["shop_money"]["amount"])
            a[2] += Decimal(t["price_set"]["presentment_money"]["amount"])
    order_taxes = [{"title": title, "rate": rate, "price": b.fmt(s_), "price_set": b.bag((s_, p_)), "channel_liable": False}
                   for (title, _), (rate, s_, p_) in agg.items()]

    codes = []
    for index, app in enumerate(apps):
        if app["type"] == "discount_code":
            amount = sum((Decimal(a["amount"]) for obj in rest_lines + rest_ships for a in obj["discount_allocations"]
                           if a["discount_application_index"] == index), ZERO)
            codes.append({"code": app["code"], "amount": b.fmt(amount), "type": app["value_type"]})

    customer = None if rng.random() < guest_share else dict(rng.choice(pool))
    address = (customer or {}).get("addresses", [None])[0] if customer else {
        "first_name": "Guest", "last_name": f"Buyer{i}", "company": None, "address1": f"{i} Elm St", "address2": None,
        "city": "Portland", "province": "Oregon", "province_code": "OR", "country": "United States",
        "country_code": "US", "zip": "97201", "phone": None}
    status = "paid" if totals["total_price"][0] == 0 else rng.choices(STATUSES, [75, 20, 5])[0]
    if forced_status and totals["total_price"][0] != 0:
        status = forced_status
    ts = when.isoformat()
    order = {
        "email": customer["email"] if customer else f"guest{i}@example.net",
        "created_at": ts, "processed_at": ts, "currency": shop_ccy, "presentment_currency": pres_ccy,
        "taxes_included": taxes_included, "financial_status": status, "test": False, "source_name": "web",
        "payment_gateway_names": (["gift_card"] if totals["total_price"][0] == 0 else ["shopify_payments"]) if status != "pending" else [],
        "line_items": rest_lines, "shipping_lines": rest_ships, "discount_applications": apps,
        "discount_codes": codes, "tax_lines": order_taxes, "total_tip_received": b.fmt(tip),
        "billing_address": dict(address) if address else None, "shipping_address": dict(address) if address else None,
        "customer": {k: v for k, v in customer.items()} if customer else None,
        "tags": "generated",
    }
    for key in ("total_line_items_price", "subtotal_price", "total_discounts", "total_tax", "total_price"):
        order[key] = b.fmt(totals[key][0])
        order[key + "_set"] = b.bag(totals[key])
    order["total_shipping_price_set"] = b.bag(totals["total_shipping_price"])
    return order
