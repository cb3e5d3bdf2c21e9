"""An order's money components, from which edits after invoicing are booked."""
from decimal import Decimal as D

from connector.mapping.adjustment import Components, components


def money(amount: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": "USD"}}


def edited_order() -> dict:
    """Three mugs at 10.00 with 8 % tax, edited down to one; 5.00 shipping with 0.40 tax. As in
    Shopify's schema, the line still counts the removed units and their tax; the totals do not."""
    return {"taxes_included": False,
            "subtotal_price": "10.00", "subtotal_price_set": money("10.00"),
            "total_tax": "1.20", "total_tax_set": money("1.20"),
            "total_price": "16.20", "total_price_set": money("16.20"),
            "total_tip_received": "0.00",
            "line_items": [{"quantity": 3, "current_quantity": 1, "price": "10.00",
                            "tax_lines": [{"price": "2.40", "price_set": money("2.40"), "rate": 0.08}]}],
            "shipping_lines": [{"discounted_price": "5.00", "discounted_price_set": money("5.00"),
                                "tax_lines": [{"price": "0.40", "price_set": money("0.40"), "rate": 0.08}]}]}


def test_given_an_edit_that_removed_units_then_the_components_follow_the_order_totals_not_the_line():
    found = components(edited_order())

    assert found == Components(merchandise=D("10.00"), merchandise_tax=D("0.80"), shipping=D("5.00"),
                               shipping_tax=D("0.40"), tip=D("0.00"))
    assert found.total(False) == D("16.20")
