"""A phone number as one key: however it was typed, one E.164 number, read in the shop's country."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.mapping.phones import order_phone, to_e164


@pytest.mark.parametrize("typed", ["(512) 555-0147", "512-555-0147", "512.555.0147", "+1 512 555 0147",
                                   " 5125550147 ", "1 (512) 555-0147"])
def test_given_one_us_number_typed_many_ways_then_one_key(typed):
    assert to_e164(typed, "US") == "+15125550147"


def test_given_a_national_number_then_it_is_read_in_the_shops_country():
    assert to_e164("030 901820", "DE") == "+4930901820"
    assert to_e164("030 901820", "US") is None           # not a US number
    assert to_e164("+49 30 901820", "US") == "+4930901820"  # its own country code wins


@pytest.mark.parametrize("typed", ["", "   ", None, "n/a", "12", "call me", "555"])
def test_given_no_usable_number_then_none(typed):
    assert to_e164(typed, "US") is None


def test_given_a_national_number_and_no_region_then_none_not_a_guess():
    assert to_e164("512 555 0147", "") is None


def test_given_an_order_then_its_own_phone_first_then_billing_then_shipping():
    order = {"phone": None, "billing_address": {"phone": "nope"}, "shipping_address": {"phone": "(512) 555-0147"}}
    assert order_phone(order, "US") == "+15125550147"
    assert order_phone({**order, "phone": "512 555 0100"}, "US") == "+15125550100"
    assert order_phone({"billing_address": None}, "US") is None


@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
       st.sampled_from(["({a}) {b}-{c}", "{a}-{b}-{c}", "+1 {a} {b} {c}", "{a}.{b}.{c}", "1{a}{b}{c}"]))
def test_any_way_of_writing_a_us_number_gives_the_same_key(digits, layout):
    typed = layout.format(a=digits[:3], b=digits[3:6], c=digits[6:])
    assert to_e164(typed, "US") == to_e164(digits, "US") == "+1" + digits
