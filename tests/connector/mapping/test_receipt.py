"""A payment transaction as a standard receipt: which transactions, which method, which number."""
from decimal import Decimal as D

import pytest

from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import load_mapping
from connector.mapping.invoice import MappingError
from connector.mapping.receipt import build_receipt, is_payment
from connector.shopify.orders import Transaction

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)


def transaction(kind="sale", status="success", gateway="shopify_payments", amount="30.00", currency="USD"):
    return Transaction(id="7001", gid="gid://shopify/OrderTransaction/7001", kind=kind, status=status,
                       gateway=gateway, amount=D(amount), currency=currency,
                       processed_at="2026-03-01T10:00:00Z", parent_id=None)


@pytest.mark.parametrize("kind,status,amount,booked", [
    ("sale", "success", "30.00", True), ("capture", "success", "30.00", True),
    ("authorization", "success", "30.00", False), ("sale", "failure", "30.00", False),
    ("refund", "success", "30.00", False), ("sale", "success", "0.00", False)])
def test_only_money_that_reached_the_shop_is_a_payment(kind, status, amount, booked):
    assert is_payment(transaction(kind=kind, status=status, amount=amount)) is booked


def test_given_a_payment_then_one_receipt_numbered_after_the_transaction_in_shop_money():
    receipt = build_receipt(transaction(), mapping=MAPPING, prefix="ACME", account_number="1001",
                            order_name="#1001")

    assert (receipt.receipt_number, receipt.amount, receipt.currency, receipt.receipt_method,
            receipt.receipt_date, receipt.customer_account_number, receipt.conversion_rate_type) == \
        ("ACME-T7001", D("30.00"), "USD", "Shopify Payments", "2026-03-01", "1001", None)


def test_given_a_gift_card_then_its_method_clears_the_gift_card_liability():
    assert build_receipt(transaction(gateway="gift_card"), mapping=MAPPING, prefix="ACME", account_number="1",
                         order_name="#1").receipt_method == "Gift Card"


def test_given_an_unmapped_gateway_then_refused_naming_the_key_to_add():
    with pytest.raises(MappingError, match=r'add paypal = "<receipt method>" under \[receipt_methods\]'):
        build_receipt(transaction(gateway="paypal"), mapping=MAPPING, prefix="ACME", account_number="1",
                      order_name="#1")


def test_given_a_foreign_currency_then_the_receipt_carries_the_conversion_rate_type():
    receipt = build_receipt(transaction(currency="EUR"), mapping=MAPPING, prefix="ACME", account_number="1",
                            order_name="#1")
    assert receipt.conversion_rate_type == "Corporate"


def test_given_a_default_method_then_a_gift_card_still_needs_its_own():
    mapping = MAPPING.__class__(**{**MAPPING.__dict__, "receipt_methods": {"default": "Manual"}})
    with pytest.raises(MappingError, match="gift_card"):
        build_receipt(transaction(gateway="gift_card"), mapping=mapping, prefix="ACME", account_number="1",
                      order_name="#1")
    assert build_receipt(transaction(gateway="paypal"), mapping=mapping, prefix="ACME", account_number="1",
                         order_name="#1").receipt_method == "Manual"
