"""The order generator: deterministic, varied, and every figure adds up as Shopify's would."""
from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from sandbox.shopify.generator import generate_orders
from sandbox.shopify.money import fmt, unit


def _r(x: Decimal, currency: str) -> Decimal:
    return x.quantize(unit(currency), rounding=ROUND_HALF_UP)


def _amounts(bag: dict) -> tuple[Decimal, Decimal]:
    return Decimal(bag["shop_money"]["amount"]), Decimal(bag["presentment_money"]["amount"])


def _check(order: dict) -> None:
    """Recompute an order's totals from its parts, in shop and presentment money."""
    incl = order["taxes_included"]
    pres_ccy = order["presentment_currency"]
    assert pres_ccy in {order["total_price_set"]["presentment_money"]["currency_code"]}
    for side in (0, 1):
        lines = Decimal(0)
        line_disc = Decimal(0)
        tax = Decimal(0)
        per_app = defaultdict(Decimal)
        for li in order["line_items"]:
            unit = _amounts(li["price_set"])[side]
            assert side == 1 or Decimal(li["price"]) == unit
            gross = unit * li["quantity"]
            allocs = [_amounts(a["amount_set"])[side] for a in li["discount_allocations"]]
            for a in li["discount_allocations"]:
                per_app[a["discount_application_index"]] += _amounts(a["amount_set"])[side]
            assert sum(allocs, Decimal(0)) <= gross
            if li["gift_card"]:
                assert li["tax_lines"] == [] and li["discount_allocations"] == []
            rate_sum = sum((Decimal(str(t["rate"])) for t in li["tax_lines"]), Decimal(0))
            for t in li["tax_lines"]:
                amount = _amounts(t["price_set"])[side]
                if side == 1:  # taxes are computed in presentment money, per line, to its unit
                    base = gross - sum(allocs, Decimal(0))
                    rate = Decimal(str(t["rate"]))
                    assert amount == (_r(base * rate / (1 + rate_sum), pres_ccy) if incl else _r(base * rate, pres_ccy))
                tax += amount
            lines += gross
            line_disc += sum(allocs, Decimal(0))
        ship = ship_disc = Decimal(0)
        for sl in order["shipping_lines"]:
            price = _amounts(sl["price_set"])[side]
            disc = sum((_amounts(a["amount_set"])[side] for a in sl["discount_allocations"]), Decimal(0))
            for a in sl["discount_allocations"]:
                per_app[a["discount_application_index"]] += _amounts(a["amount_set"])[side]
            assert _amounts(sl["discounted_price_set"])[side] == price - disc >= 0
            tax += sum((_amounts(t["price_set"])[side] for t in sl["tax_lines"]), Decimal(0))
            ship += price
            ship_disc += disc
        tip = Decimal(order["total_tip_received"])
        subtotal = lines - line_disc
        total = subtotal + ship - ship_disc + tip + (0 if incl else tax)
        assert _amounts(order["total_line_items_price_set"])[side] == lines
        assert _amounts(order["subtotal_price_set"])[side] == subtotal
        assert _amounts(order["total_discounts_set"])[side] == line_disc + ship_disc
        assert _amounts(order["total_tax_set"])[side] == tax
        assert _amounts(order["total_shipping_price_set"])[side] == ship
        assert _amounts(order["total_price_set"])[side] == total >= 0
        assert sum((_amounts(t["price_set"])[side] for t in order["tax_lines"]), Decimal(0)) == tax
        if side == 0:
            assert Decimal(order["total_price"]) == total and Decimal(order["subtotal_price"]) == subtotal
            for code in order["discount_codes"]:
                index = next(i for i, a in enumerate(order["discount_applications"]) if a.get("code") == code["code"])
                assert Decimal(code["amount"]) == per_app[index]
        if side == 1:  # allocations sum exactly to what each application gives
            for index, app in enumerate(order["discount_applications"]):
                if app["value_type"] == "fixed_amount" and app["allocation_method"] == "across":
                    assert per_app[index] == Decimal(app["value"])
                if app["value_type"] == "percentage" and app["allocation_method"] == "across" \
                        and app["target_type"] == "line_item":
                    base = sum((_amounts(li["price_set"])[1] * li["quantity"] for li in order["line_items"]
                                if not li["gift_card"]), Decimal(0))
                    assert per_app[index] == _r(base * Decimal(app["value"]) / 100, pres_ccy)


def test_generated_totals_add_up_tax_exclusive_and_inclusive():
    for taxes_included in (False, True):
        for order in generate_orders(400, seed=11, taxes_included=taxes_included):
            _check(order)


def _money_strings(value, path=""):
    """Every (path, amount, currency) of a REST money bag side in ``value``."""
    if isinstance(value, dict):
        if "amount" in value and "currency_code" in value:
            yield path, value["amount"], value["currency_code"]
        for key, inner in value.items():
            yield from _money_strings(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _money_strings(inner, f"{path}[{i}]")


def test_a_yen_or_dinar_shop_gets_orders_in_its_own_decimals_that_add_up():
    # given shops in JPY (no decimals) and KWD (three)
    for currency, taxes_included in (("JPY", False), ("JPY", True), ("KWD", False)):
        orders = generate_orders(200, seed=3, currency=currency, taxes_included=taxes_included)
        for order in orders:
            # then every figure adds up, and every amount has its currency's decimals
            _check(order)
            for path, amount, ccy in _money_strings(order):
                assert amount == fmt(amount, ccy), (currency, path, amount)
            assert order["total_price"] == fmt(order["total_price"], currency)
        # and yen prices are yen-sized: a 25.00 tee costs thousands of yen, not 25
        if currency == "JPY":
            assert min(Decimal(li["price"]) for o in orders for li in o["line_items"]
                       if o["presentment_currency"] == "JPY") >= 1000


def test_generator_is_deterministic_per_seed():
    assert generate_orders(20, seed=5) == generate_orders(20, seed=5)
    assert generate_orders(20, seed=5) != generate_orders(20, seed=6)


def test_generator_covers_the_cases_a_connector_meets():
    orders = generate_orders(400, seed=2)
    apps = [a for o in orders for a in o["discount_applications"]]
    emails = [o["customer"]["email"] for o in orders if o["customer"]]
    assert {a["allocation_method"] for a in apps} == {"across", "each", "one"}
    assert {a["value_type"] for a in apps} == {"percentage", "fixed_amount"}
    assert any(a["target_type"] == "shipping_line" for a in apps)
    assert any(o["customer"] is None for o in orders)                      # guests
    assert len(emails) > len(set(emails))                                  # returning customers
    assert any(o["presentment_currency"] != o["currency"] for o in orders)
    assert any(o["total_price"] == "0.00" for o in orders)
    assert any(li["gift_card"] for o in orders for li in o["line_items"])
    assert any(o["total_tip_received"] != "0.00" for o in orders)
    assert any(len(o["tax_lines"]) >= 2 for o in orders)
    assert {o["financial_status"] for o in orders} == {"paid", "pending", "authorized"}


def test_sandbox_accepts_every_generated_order(sandbox):
    for taxes_included, currency in ((False, "USD"), (True, "EUR"), (False, "JPY"), (True, "KWD")):
        domain = f"gen-{currency.lower()}.myshopify.com"
        sandbox.put_shop(domain, client_id="c", client_secret="s", webhook_url=None, currency=currency,
                         taxes_included=taxes_included)
        for order in generate_orders(120, seed=4, currency=currency, taxes_included=taxes_included):
            r = sandbox.post(f"/_sandbox/shops/{domain}/orders?deliver=false", order)
            assert r.status_code == 201, r.text
            stored = r.json()
            assert stored["total_price_set"] == order["total_price_set"]
            assert stored["total_outstanding"] == (fmt(0, currency) if order["financial_status"] == "paid"
                                                   else order["total_price"])
