"""Amounts go to Fusion exactly as Shopify gives them, whatever the currency's decimals: the
connector never rounds, so whole yen stay whole yen and dinars keep their three decimals."""
from decimal import Decimal as D

from connector import jsonutil
from connector.config import DEFAULT_MAPPING_FILE
from connector.mapping.config import load_mapping
from connector.mapping.credit_memo import credit_amounts
from connector.mapping.invoice import build_invoice, invoice_total
from connector.mapping.receipt import build_receipt
from connector.shopify.orders import Transaction

MAPPING = load_mapping(DEFAULT_MAPPING_FILE)


def bag(amount: str, currency: str) -> dict:
    return {"shop_money": {"amount": amount, "currency_code": currency},
            "presentment_money": {"amount": amount, "currency_code": currency}}


def order(currency: str, price: str, quantity: int, tax: str, total: str) -> dict:
    """One line taxed on top, as the Shopify sandbox (and Shopify) writes it in ``currency``."""
    return jsonutil.loads(jsonutil.dumps({
        "id": 5500000000009, "admin_graphql_api_id": "gid://shopify/Order/5500000000009", "name": "#1009",
        "order_number": 1009, "processed_at": "2026-01-15T10:00:00+09:00", "currency": currency,
        "taxes_included": False, "total_price": total, "total_price_set": bag(total, currency),
        "line_items": [{"name": "Tee", "quantity": quantity, "price": price, "price_set": bag(price, currency),
                        "discount_allocations": [],
                        "tax_lines": [{"title": "Tax", "rate": 0.0725, "price": tax, "price_set": bag(tax, currency)}]}],
        "shipping_lines": []}))


def decimals(amount: D) -> int:
    return max(0, -amount.as_tuple().exponent)


def test_given_a_yen_order_then_the_invoice_carries_whole_yen_and_matches_shopify():
    # given Shopify's JPY order: 3 × 1234 yen, 268 yen of tax, 3970 in all
    invoice = build_invoice(order("JPY", "1234", 3, "268", "3970"), mapping=MAPPING, prefix="JP",
                            bill_to_account="10042")
    # then the invoice is in yen, in whole yen, converted at the mapping's rate type (the ledger is USD)
    [line] = invoice["receivablesInvoiceLines"]
    [tax] = line["receivablesInvoiceLineTaxLines"]
    assert (line["UnitSellingPrice"], tax["TaxAmount"]) == (D(1234), D(268))
    assert decimals(line["UnitSellingPrice"]) == decimals(tax["TaxAmount"]) == 0
    assert invoice_total(invoice["receivablesInvoiceLines"], inclusive=False) == D(3970)
    assert (invoice["InvoiceCurrencyCode"], invoice["ConversionRateType"]) == ("JPY", "Corporate")


def test_given_a_dinar_order_then_the_invoice_keeps_three_decimals():
    # given Shopify's KWD order: 2 × 12.345 dinars, 1.790 of tax, 26.480 in all
    invoice = build_invoice(order("KWD", "12.345", 2, "1.790", "26.480"), mapping=MAPPING, prefix="KW",
                            bill_to_account="10042")
    # then nothing is cut to two decimals
    [line] = invoice["receivablesInvoiceLines"]
    assert line["UnitSellingPrice"] == D("12.345")
    assert invoice_total(invoice["receivablesInvoiceLines"], inclusive=False) == D("26.480")


def test_given_a_yen_refund_then_the_memo_credits_whole_yen():
    # given a refund of one of the three items: Shopify writes subtotal 1111.0 (a JSON float) and
    # "1111" in its bag, tax 89, and gives back 1200 yen
    refund = jsonutil.loads('{"admin_graphql_api_id": "gid://shopify/Refund/9", "refund_line_items": ['
                            '{"subtotal": 1111.0, "subtotal_set": ' + jsonutil.dumps(bag("1111", "JPY")) + ', '
                            '"total_tax": 89.0, "total_tax_set": ' + jsonutil.dumps(bag("89", "JPY")) + '}], '
                            '"transactions": [{"kind": "refund", "status": "success", "amount": "1200", '
                            '"amount_set": ' + jsonutil.dumps(bag("1200", "JPY")) + '}], "order_adjustments": []}')
    # when its memo is worked out
    amounts = credit_amounts(refund, taxes_included=False, shipping=[],
                             paid_before=D(4570))
    # then it credits 1111 + 89 = 1200 yen, which is the money given back
    assert (amounts.line, amounts.tax, amounts.gross, amounts.cash) == (D(1111), D(89), D(1200), D(1200))


def test_given_a_yen_payment_then_the_receipt_is_whole_yen():
    transaction = Transaction(id="7009", gid="gid://shopify/OrderTransaction/7009", kind="sale", status="success",
                              gateway="shopify_payments", amount=D("1200"), currency="JPY",
                              processed_at="2026-03-01T10:00:00Z", parent_id=None)
    receipt = build_receipt(transaction, mapping=MAPPING, prefix="JP", account_number="1", order_name="#1009")
    assert (receipt.amount, receipt.currency, decimals(receipt.amount)) == (D(1200), "JPY", 0)
