"""GraphQL *views* of the store: Shopify objects as dicts keyed by GraphQL field name.

A value is either plain data or a callable taking the field's arguments (connections, lists with
``first``).  ``__typename`` lets interfaces and unions resolve.  Money comes out as Shopify's
``Decimal`` strings (``"66.74"``), rates as floats (the schema's ``Float``), enums upper-case.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import timezone
from decimal import Decimal

from graphql import GraphQLError

from .bulk import UNBOUNDED
from .merchant import parse_time
from .money import D, fmt


def gid(kind: str, id_) -> str:
    return f"gid://shopify/{kind}/{id_}"


def parse_gid(value, kind: str) -> int | None:
    m = re.fullmatch(rf"gid://shopify/{kind}/(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def money_v2(amount, currency: str) -> dict:
    return {"__typename": "MoneyV2", "amount": fmt(amount, currency), "currencyCode": currency}


def money_bag(rest_bag: dict | None, fallback_ccy: str = "USD") -> dict | None:
    if rest_bag is None:
        rest_bag = {"shop_money": {"amount": "0", "currency_code": fallback_ccy},
                    "presentment_money": {"amount": "0", "currency_code": fallback_ccy}}
    return {"__typename": "MoneyBag",
            "shopMoney": money_v2(rest_bag["shop_money"]["amount"], rest_bag["shop_money"]["currency_code"]),
            "presentmentMoney": money_v2(rest_bag["presentment_money"]["amount"],
                                         rest_bag["presentment_money"].get("currency_code")
                                         or rest_bag["presentment_money"].get("currency"))}


def _sum_bags(bags: list[dict], shop_ccy: str, pres_ccy: str) -> dict:
    shop = sum((D(b["shop_money"]["amount"]) for b in bags), Decimal(0))
    pres = sum((D(b["presentment_money"]["amount"]) for b in bags), Decimal(0))
    return {"shop_money": {"amount": fmt(shop, shop_ccy), "currency_code": shop_ccy},
            "presentment_money": {"amount": fmt(pres, pres_ccy), "currency_code": pres_ccy}}


def _plus(a: dict, b: dict) -> dict:
    return {side: {"amount": D(a[side]["amount"]) + D(b[side]["amount"])} for side in ("shop_money", "presentment_money")}


def _enum(value) -> str | None:
    return value.upper() if isinstance(value, str) else None


def encode_cursor(key) -> str:
    return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str):
    try:
        return json.loads(base64.b64decode(cursor.encode()).decode())
    except Exception:  # noqa: BLE001 - any garbage is the same error to the client
        raise GraphQLError("Invalid cursor for current pagination sort.") from None


def connection(typename: str, rows: list[tuple], *, first=None, last=None, after=None, before=None,
               reverse=False, max_page=250) -> dict:
    """A Relay connection over ``rows`` = [(sort key, view)], already sorted ascending."""
    if first is None and last is None:
        if not UNBOUNDED.get():
            raise GraphQLError("you must provide one of first or last")
        first, max_page = len(rows), len(rows)
    for name, n in (("first", first), ("last", last)):
        if n is not None and not 0 <= n <= max_page:
            raise GraphQLError(f"The {name} argument must be between 0 and {max_page}.")
    if reverse:
        rows = list(reversed(rows))
    keys = [json.loads(json.dumps(k, default=str)) for k, _ in rows]
    start, end = 0, len(rows)
    if after is not None:
        key = decode_cursor(after)
        start = next((i + 1 for i, k in enumerate(keys) if k == key), None)
        if start is None:
            start = sum(1 for k in keys if (k < key) != bool(reverse) or k == key)
    if before is not None:
        key = decode_cursor(before)
        end = next((i for i, k in enumerate(keys) if k == key), end)
    window = list(range(start, end))
    has_prev = start > 0
    has_next = end < len(rows)
    if first is not None:
        has_next = has_next or len(window) > first
        window = window[:first]
    if last is not None:
        has_prev = has_prev or len(window) > last
        window = window[-last:] if last else []
    edges = [{"__typename": typename.replace("Connection", "Edge"), "cursor": encode_cursor(keys[i]),
              "node": rows[i][1]} for i in window]
    return {"__typename": typename, "edges": edges, "nodes": [e["node"] for e in edges],
            "pageInfo": {"__typename": "PageInfo", "hasNextPage": has_next, "hasPreviousPage": has_prev,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def _list_conn(typename, views, **args):
    rows = [(i, v) for i, v in enumerate(views)]
    return connection(typename, rows, first=args.get("first"), last=args.get("last"), after=args.get("after"),
                      before=args.get("before"), reverse=args.get("reverse", False))


def address_view(addr: dict | None) -> dict | None:
    if not addr:
        return None
    return {"__typename": "MailingAddress", "id": gid("MailingAddress", addr.get("id") or 0),
            "address1": addr.get("address1"), "address2": addr.get("address2"), "city": addr.get("city"),
            "company": addr.get("company"), "country": addr.get("country"),
            "countryCodeV2": addr.get("country_code"), "firstName": addr.get("first_name"),
            "lastName": addr.get("last_name"),
            "name": addr.get("name") or " ".join(x for x in (addr.get("first_name"), addr.get("last_name")) if x) or None,
            "phone": addr.get("phone"), "province": addr.get("province"),
            "provinceCode": addr.get("province_code"), "zip": addr.get("zip"),
            "latitude": addr.get("latitude"), "longitude": addr.get("longitude"),
            "formatted": lambda info, **a: [x for x in (addr.get("address1"), addr.get("address2"), addr.get("city"),
                                                        addr.get("zip"), addr.get("country")) if x],
            "coordinatesValidated": False, "timeZone": None, "formattedArea": None}


def customer_view(cust: dict | None, shop) -> dict | None:
    if not cust:
        return None
    tags = [t.strip() for t in (cust.get("tags") or "").split(",") if t.strip()]
    addresses = [address_view(a) for a in cust.get("addresses") or []]
    email = cust.get("email")
    phone = cust.get("phone")

    def orders() -> list[dict]:  # read when asked for: every order view shows its customer
        return [o for o in shop.orders.values() if (o.get("customer") or {}).get("id") == cust["id"]] if shop else []
    return {
        "__typename": "Customer", "id": gid("Customer", cust["id"]), "legacyResourceId": str(cust["id"]),
        "createdAt": cust.get("created_at"), "updatedAt": cust.get("updated_at"),
        "firstName": cust.get("first_name"), "lastName": cust.get("last_name"),
        "displayName": " ".join(x for x in (cust.get("first_name"), cust.get("last_name")) if x) or email or "",
        "email": email, "phone": phone, "note": cust.get("note"),
        "state": _enum(cust.get("state") or "disabled"), "tags": tags, "taxExempt": bool(cust.get("tax_exempt")),
        "taxExemptions": list(cust.get("tax_exemptions") or []), "verifiedEmail": bool(cust.get("verified_email")),
        "multipassIdentifier": cust.get("multipass_identifier"), "validEmailAddress": bool(email),
        "defaultEmailAddress": {"__typename": "CustomerEmailAddress", "emailAddress": email,
                                "validFormat": True} if email else None,
        "defaultPhoneNumber": {"__typename": "CustomerPhoneNumber", "phoneNumber": phone} if phone else None,
        "defaultAddress": address_view(cust.get("default_address")),
        "addresses": lambda info, **a: addresses[: a.get("first") or len(addresses)],
        "addressesV2": lambda info, **a: _list_conn("MailingAddressConnection", addresses, **a),
        "numberOfOrders": lambda info, **a: str(len(orders())),
        "amountSpent": lambda info, **a: money_v2(sum((D(o["current_total_price"]) for o in orders()), Decimal(0)),
                                                  shop.currency),
    }


def _tax_line_view(t: dict) -> dict:
    rate = D(t.get("rate", 0))
    return {"__typename": "TaxLine", "title": t.get("title"), "rate": float(rate),
            "ratePercentage": float(rate * 100), "priceSet": money_bag(t["price_set"]),
            "price": t.get("price"), "channelLiable": bool(t.get("channel_liable")), "source": None}


def _discount_application_view(app: dict, index: int, currency: str) -> dict:
    kind = {"discount_code": "DiscountCodeApplication", "manual": "ManualDiscountApplication",
            "automatic": "AutomaticDiscountApplication", "script": "ScriptDiscountApplication"}.get(
        app.get("type"), "ManualDiscountApplication")
    if app.get("value_type") == "percentage":
        value = {"__typename": "PricingPercentageValue", "percentage": float(D(app.get("value")))}
    else:
        value = money_v2(app.get("value"), currency)
    view = {"__typename": kind, "index": index, "allocationMethod": _enum(app.get("allocation_method")),
            "targetSelection": _enum(app.get("target_selection")), "targetType": _enum(app.get("target_type")),
            "value": value, "code": app.get("code"), "title": app.get("title") or app.get("code"),
            "description": app.get("description")}
    return view


def _allocation_views(obj: dict, apps: list[dict]) -> list[dict]:
    return [{"__typename": "DiscountAllocation", "allocatedAmountSet": money_bag(a["amount_set"]),
             "allocatedAmount": money_v2(a["amount"], a["amount_set"]["shop_money"]["currency_code"]),
             "discountApplication": apps[a["discount_application_index"]]}
            for a in obj.get("discount_allocations") or []]


def transaction_view(t: dict, transactions: list[dict] = ()) -> dict:
    """``transactions`` are the order's, where a parent transaction (the authorization a capture
    settles, the sale a refund returns) is found."""
    parent = next((p for p in transactions if p["id"] == t.get("parent_id")), None)
    return {"__typename": "OrderTransaction", "id": gid("OrderTransaction", t["id"]),
            "kind": _enum(t["kind"]), "status": _enum(t["status"]), "gateway": t.get("gateway"),
            "formattedGateway": (t.get("gateway") or "").replace("_", " ").title(),
            "amountSet": money_bag(t["amount_set"]), "createdAt": t.get("created_at"),
            "processedAt": t.get("processed_at"), "test": bool(t.get("test")),
            "manualPaymentGateway": bool(t.get("manual_payment_gateway")),
            "paymentId": t.get("payment_id"), "errorCode": None, "authorizationCode": None,
            "parentTransaction": lambda info, **a: transaction_view(parent, transactions) if parent else None}


def _charge_view(charge: dict, typename: str) -> dict:
    """A ``Duty`` or an ``AdditionalFee``."""
    view = {"__typename": typename, "id": charge["admin_graphql_api_id"], "price": money_bag(charge["price_set"]),
            "taxLines": [_tax_line_view(t) for t in charge.get("tax_lines") or []]}
    if typename == "Duty":
        view |= {"harmonizedSystemCode": charge.get("harmonized_system_code"),
                 "countryCodeOfOrigin": charge.get("country_code_of_origin")}
    else:
        view["name"] = charge.get("name")
    return view


def _product_view(li: dict) -> dict | None:
    """A line's product as far as the sandbox knows it: its id and product type (a line posted
    without a product id or type is a custom item, with no product)."""
    if not li.get("product_id") and not li.get("_product_type"):
        return None
    return {"__typename": "Product", "id": gid("Product", li.get("product_id") or li["id"]),
            "productType": li.get("_product_type") or ""}


def order_view(order: dict, shop, transactions: list[dict]) -> dict:
    shop_ccy, pres_ccy = order["currency"], order["presentment_currency"]
    duties = {d["id"]: d for li in order["line_items"] for d in li.get("duties") or []}
    fees = {f["id"]: f for f in order.get("additional_fees") or []}
    apps = [_discount_application_view(a, i, pres_ccy) for i, a in enumerate(order.get("discount_applications") or [])]

    def line_view(li: dict) -> dict:
        unit = li["price_set"]
        qty = li["quantity"]
        alloc_bags = [a["amount_set"] for a in li.get("discount_allocations") or []]
        total = {side: {"amount": fmt(D(unit[side]["amount"]) * qty, unit[side]["currency_code"]),
                        "currency_code": unit[side]["currency_code"]}
                 for side in ("shop_money", "presentment_money")}
        disc = _sum_bags(alloc_bags, shop_ccy, pres_ccy)
        net = {side: {"amount": fmt(D(total[side]["amount"]) - D(disc[side]["amount"]), total[side]["currency_code"]),
                      "currency_code": total[side]["currency_code"]} for side in total}
        return {
            "__typename": "LineItem", "id": gid("LineItem", li["id"]), "sku": li.get("sku"),
            "name": li.get("name"), "title": li.get("title"), "variantTitle": li.get("variant_title"),
            "vendor": li.get("vendor"), "quantity": qty, "currentQuantity": li.get("current_quantity", qty),
            "refundableQuantity": li.get("current_quantity", qty), "unfulfilledQuantity": li.get("fulfillable_quantity", 0),
            "nonFulfillableQuantity": 0, "taxable": bool(li.get("taxable")), "isGiftCard": bool(li.get("gift_card")),
            "requiresShipping": bool(li.get("requires_shipping")), "restockable": True, "merchantEditable": True,
            "originalUnitPriceSet": money_bag(unit), "originalTotalSet": money_bag(total),
            "totalDiscountSet": money_bag(disc), "discountedTotalSet": money_bag(net),
            "discountAllocations": _allocation_views(li, apps),
            "taxLines": lambda info, **a: [_tax_line_view(t) for t in li.get("tax_lines") or []][: a.get("first") or None],
            "customAttributes": [], "duties": [_charge_view(d, "Duty") for d in li.get("duties") or []], "product": _product_view(li), "variant": None, "image": None,
        }

    def shipping_view(sl: dict) -> dict:
        return {"__typename": "ShippingLine", "id": gid("ShippingLine", sl["id"]), "title": sl.get("title"),
                "code": sl.get("code"), "source": sl.get("source"), "carrierIdentifier": sl.get("carrier_identifier"),
                "phone": sl.get("phone"), "custom": False, "isRemoved": bool(sl.get("is_removed")),
                "originalPriceSet": money_bag(sl["price_set"]), "discountedPriceSet": money_bag(sl["discounted_price_set"]),
                "currentDiscountedPriceSet": money_bag(sl.get("current_discounted_price_set") or sl["discounted_price_set"]),
                "discountAllocations": _allocation_views(sl, apps),
                "taxLines": [_tax_line_view(t) for t in sl.get("tax_lines") or []],
                "deliveryCategory": None, "shippingRateHandle": None}

    lines = {li["id"]: li for li in order["line_items"]}
    ships = {sl["id"]: sl for sl in order["shipping_lines"]}

    def refund_view(r: dict) -> dict:
        rlis = [{"__typename": "RefundLineItem", "id": gid("RefundLineItem", x["id"]), "quantity": x["quantity"],
                 "restockType": _enum(x.get("restock_type")), "restocked": x.get("restock_type") not in (None, "no_restock"),
                 "lineItem": line_view(lines[x["line_item_id"]]), "subtotalSet": money_bag(x["subtotal_set"]),
                 "totalTaxSet": money_bag(x["total_tax_set"]),
                 "priceSet": money_bag(lines[x["line_item_id"]]["price_set"]), "location": None}
                for x in r["refund_line_items"]]
        rsls = [{"__typename": "RefundShippingLine", "id": gid("RefundShippingLine", x["id"]),
                 "shippingLine": shipping_view(ships[x["shipping_line_id"]]),
                 "subtotalAmountSet": money_bag(x["subtotal_amount_set"]), "taxAmountSet": money_bag(x["tax_amount_set"])}
                for x in r.get("refund_shipping_lines", [])]
        adjustments = [{"__typename": "OrderAdjustment", "id": gid("OrderAdjustment", x["id"]),
                        "amountSet": money_bag(x["amount_set"]), "taxAmountSet": money_bag(x["tax_amount_set"]),
                        "reason": _enum(x.get("reason")), "kind": _enum(x.get("kind"))}
                       for x in r.get("order_adjustments", [])]
        txs = [transaction_view(t, transactions) for t in r.get("transactions", [])]
        refunded = _sum_bags([t["amount_set"] for t in r.get("transactions", []) if t["status"] == "success"],
                             shop_ccy, pres_ccy)
        return {"__typename": "Refund", "id": gid("Refund", r["id"]), "legacyResourceId": str(r["id"]),
                "createdAt": r.get("created_at"), "updatedAt": r.get("created_at"), "note": r.get("note"),
                "totalRefundedSet": money_bag(refunded), "return": None,
                "duties": [{"__typename": "RefundDuty", "amountSet": money_bag(x["amount_set"]),
                            "originalDuty": _charge_view(duties[x["duty_id"]], "Duty")} for x in r.get("duties") or []],
                "additionalFees": [{"__typename": "RefundAdditionalFee", "amountSet": money_bag(x["amount_set"]),
                                    "originalAdditionalFee": _charge_view(fees[x["additional_fee_id"]], "AdditionalFee")}
                                   for x in r.get("additional_fees") or []],
                "staffMember": None, "order": lambda info, **a: order_view(order, shop, transactions),
                "refundLineItems": lambda info, **a: _list_conn("RefundLineItemConnection", rlis, **a),
                "refundShippingLines": lambda info, **a: _list_conn("RefundShippingLineConnection", rsls, **a),
                "orderAdjustments": lambda info, **a: _list_conn("OrderAdjustmentConnection", adjustments, **a),
                "transactions": lambda info, **a: _list_conn("OrderTransactionConnection", txs, **a)}

    def bag(key):
        return money_bag(order.get(key), shop_ccy)

    paid_bags = [t["amount_set"] for t in transactions if t["status"] == "success" and t["kind"] in ("sale", "capture")]
    refund_bags = [t["amount_set"] for t in transactions if t["status"] == "success" and t["kind"] == "refund"]
    received = _sum_bags(paid_bags, shop_ccy, pres_ccy)
    refunded = _sum_bags(refund_bags, shop_ccy, pres_ccy)
    net_payment = {side: {"amount": fmt(D(received[side]["amount"]) - D(refunded[side]["amount"]),
                                        received[side]["currency_code"]),
                          "currency_code": received[side]["currency_code"]} for side in received}
    outstanding = D(order["total_outstanding"])
    cancel_reason = _enum(order.get("cancel_reason"))
    tags = [t.strip() for t in (order.get("tags") or "").split(",") if t.strip()]
    cust = shop.customers.get((order.get("customer") or {}).get("id")) if order.get("customer") else None
    from .graphql_b2b import payment_terms_view, purchasing_entity_view  # (it builds on this module)
    return {
        "__typename": "Order", "id": order["admin_graphql_api_id"], "legacyResourceId": str(order["id"]),
        "name": order["name"],
        # the number in the name ("#1001" → 1001), as REST's order_number; REST's ``number`` is 1000 less
        "number": order["order_number"], "email": order.get("email") or None,
        "phone": order.get("phone"), "note": order.get("note"), "tags": tags, "test": bool(order.get("test")),
        "poNumber": order.get("po_number"), "sourceName": order.get("source_name"),
        "confirmationNumber": order.get("confirmation_number"), "confirmed": bool(order.get("confirmed")),
        "createdAt": order["created_at"], "updatedAt": order["updated_at"], "processedAt": order["processed_at"],
        "cancelledAt": order.get("cancelled_at"), "cancelReason": cancel_reason, "closedAt": order.get("closed_at"),
        "closed": bool(order.get("closed_at")), "currencyCode": shop_ccy, "presentmentCurrencyCode": pres_ccy,
        "taxesIncluded": bool(order["taxes_included"]), "taxExempt": bool(order.get("tax_exempt")),
        "dutiesIncluded": False, "estimatedTaxes": False,
        "displayFinancialStatus": _enum(order["financial_status"]),
        "displayFulfillmentStatus": _enum(order.get("fulfillment_status") or "unfulfilled"),
        "fullyPaid": outstanding <= 0, "unpaid": order["financial_status"] in ("pending", "authorized"),
        "canMarkAsPaid": outstanding > 0 and not order.get("cancelled_at"),
        "paymentGatewayNames": list(order.get("payment_gateway_names") or []),
        "customer": customer_view(cust, shop),
        "purchasingEntity": lambda info, **a: purchasing_entity_view(order, shop, customer_view(cust, shop)),
        "paymentTerms": lambda info, **a: payment_terms_view(order),
        "billingAddress": address_view(order.get("billing_address")),
        "shippingAddress": address_view(order.get("shipping_address")),
        "subtotalPriceSet": bag("subtotal_price_set"), "currentSubtotalPriceSet": bag("current_subtotal_price_set"),
        "totalPriceSet": bag("total_price_set"), "currentTotalPriceSet": bag("current_total_price_set"),
        "originalTotalPriceSet": bag("total_price_set"),
        "totalTaxSet": bag("total_tax_set"), "currentTotalTaxSet": bag("current_total_tax_set"),
        "totalDiscountsSet": bag("total_discounts_set"), "currentTotalDiscountsSet": bag("current_total_discounts_set"),
        "totalShippingPriceSet": bag("total_shipping_price_set"), "currentShippingPriceSet": bag("current_shipping_price_set"),
        "totalOutstandingSet": bag("total_outstanding_set"), "totalTipReceivedSet": money_bag(
            {"shop_money": {"amount": order.get("total_tip_received", "0"), "currency_code": shop_ccy},
             "presentment_money": {"amount": order.get("total_tip_received", "0"), "currency_code": pres_ccy}}),
        "totalReceivedSet": money_bag(received), "totalRefundedSet": money_bag(refunded),
        "netPaymentSet": money_bag(net_payment),
        "refundDiscrepancySet": money_bag(_sum_bags(
            [_plus(a["amount_set"], a["tax_amount_set"]) for r in order.get("refunds", [])
             for a in r.get("order_adjustments", []) if a.get("kind") != "shipping_refund"], shop_ccy, pres_ccy)),
        "totalRefundedShippingSet": money_bag(_sum_bags(
            [x["subtotal_amount_set"] for r in order.get("refunds", []) for x in r.get("refund_shipping_lines", [])],
            shop_ccy, pres_ccy)),
        # null on an order without duties (fees), as Shopify answers
        **{name: money_bag(order[key]) if order.get(key) else None for name, key in (
            ("currentTotalDutiesSet", "current_total_duties_set"), ("originalTotalDutiesSet", "original_total_duties_set"),
            ("currentTotalAdditionalFeesSet", "current_total_additional_fees_set"),
            ("originalTotalAdditionalFeesSet", "original_total_additional_fees_set"))},
        "additionalFees": [_charge_view(f, "AdditionalFee") for f in order.get("additional_fees") or []],
        "taxLines": [_tax_line_view(t) for t in order.get("tax_lines") or []],
        "currentTaxLines": [_tax_line_view(t) for t in order.get("tax_lines") or []],
        "discountCodes": [c["code"] for c in order.get("discount_codes") or []],
        "discountCode": (order.get("discount_codes") or [{}])[0].get("code"),
        "discountApplications": lambda info, **a: _list_conn("DiscountApplicationConnection", apps, **a),
        "lineItems": lambda info, **a: _list_conn("LineItemConnection", [line_view(li) for li in order["line_items"]], **a),
        "shippingLines": lambda info, **a: _list_conn(
            "ShippingLineConnection", [shipping_view(sl) for sl in order["shipping_lines"]
                                       if a.get("includeRemovals") or not sl.get("is_removed")], **a),
        "shippingLine": shipping_view(order["shipping_lines"][0]) if order["shipping_lines"] else None,
        "refunds": lambda info, **a: [refund_view(r) for r in order.get("refunds", [])][: a.get("first") or None],
        "transactions": lambda info, **a: [transaction_view(t, transactions) for t in transactions][: a.get("first") or None],
        "transactionsCount": {"__typename": "Count", "count": len(transactions), "precision": "EXACT"},
        "customAttributes": [{"__typename": "Attribute", "key": n.get("name"), "value": n.get("value")}
                             for n in order.get("note_attributes") or []],
    }


# ------------------------------------------------------------------------------------------ search


_TERM = re.compile(r"""(-?)(\w+):(>=|<=|>|<|)?('([^']*)'|"([^"]*)"|(\S+))""")


def search_filter(query: str | None, kind: str):
    """Shopify search syntax, the subset a connector uses: ``field:[op]value`` terms ANDed."""
    if not query:
        return lambda obj: True
    tests = []
    for m in _TERM.finditer(query):
        negate, field, op, value = m.group(1), m.group(2), m.group(3) or "=", m.group(5) or m.group(6) or m.group(7)
        if value is None:
            value = ""
        tests.append((negate == "-", field, op, value))

    def compare(a, op, b):
        return {"=": a == b, ">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]

    def check(obj):
        for negate, field, op, value in tests:
            if field in ("updated_at", "created_at", "processed_at"):
                if not obj.get(field):
                    ok = False
                else:
                    want = parse_time(value if "T" in value else value + "T00:00:00+00:00")
                    if want.tzinfo is None:
                        want = want.replace(tzinfo=timezone.utc)
                    ok = compare(parse_time(obj[field]), op, want)
            elif field == "id":
                ok = compare(obj["id"], op, int(parse_gid(value, "Order" if kind == "order" else "Customer") or value))
            elif field == "financial_status" and kind == "order":
                ok = obj["financial_status"] == value.lower()
            elif field == "status" and kind == "order":
                state = "cancelled" if obj.get("cancelled_at") else "closed" if obj.get("closed_at") else "open"
                ok = value.lower() in ("any", state)
            elif field == "email":
                ok = (obj.get("email") or "").lower() == value.lower()
            elif field == "name" and kind == "order":
                ok = obj["name"].lstrip("#") == value.lstrip("#")
            elif field == "state" and kind == "customer":
                ok = (obj.get("state") or "").lower() == value.lower()
            else:
                continue  # Shopify ignores unknown filters (and warns); so do we
            if ok == negate:
                return False
        return True
    return check


ORDER_SORT = {"ID": lambda o: o["id"], "CREATED_AT": lambda o: o["created_at"],
               "UPDATED_AT": lambda o: o["updated_at"], "PROCESSED_AT": lambda o: o["processed_at"],
               "ORDER_NUMBER": lambda o: o["order_number"], "TOTAL_PRICE": lambda o: str(o["total_price"]).zfill(20),
               "CUSTOMER_NAME": lambda o: ((o.get("customer") or {}).get("last_name") or "")}
CUSTOMER_SORT = {"ID": lambda c: c["id"], "CREATED_AT": lambda c: c["created_at"],
                  "UPDATED_AT": lambda c: c["updated_at"],
                  "NAME": lambda c: f"{c.get('first_name') or ''} {c.get('last_name') or ''}"}


def sort_key_value(fn, obj):
    value = fn(obj)
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}T", value):
        value = parse_time(value).astimezone(timezone.utc).isoformat()
    return [value, obj["id"]]
