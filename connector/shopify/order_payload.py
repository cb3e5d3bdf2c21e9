"""An order, refund or customer read over Admin GraphQL, in the REST shape of its webhook.

Reconciliation finds what a lost webhook should have brought; turned into the body that webhook
would have carried, it goes through the very same inbox and flow (the same claims, the same
create-once keys), so a reconciled order can never be invoiced differently, nor twice.

Only what the flows read is rebuilt (ids and GIDs, money as ``*_set`` bags with their shop-money
scalars, taxes, discounts, duties and fees, addresses, the customer, refunds): a webhook's other
keys (fulfillments, marketing consent, …) are left out. Like a webhook, a refund's transactions
carry presentment ``amount`` only and refund shipping lines no tax: the flows read those from
GraphQL themselves. Every query stays below Shopify's 1,000-point single-query limit (the
requested costs are in the constants' comments); an order with more line items, shipping lines
or refund lines than one page holds reads the rest page by page.
"""
from __future__ import annotations

from datetime import timezone, tzinfo
from decimal import Decimal

from connector.shopify.client import ShopifyClient, ShopifyError
from connector.shopify.shop_zone import local

#: Line items per page: one costs 26 points (prices, discounts, taxes, duties, its product).
LINE_PAGE = 20
#: Shipping lines, discount applications, refund shipping lines, adjustments per page.
SMALL_PAGE = 10
#: Refund line items and refund transactions per page.
REFUND_PAGE = 20
#: ``Order.refunds`` is a plain list, not a connection: an order with more is an error.
REFUND_LIMIT = 100

_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
_TAX = f"title rate priceSet {{ {_BAG} }}"
_ADDRESS = ("firstName lastName company address1 address2 city province provinceCode country countryCodeV2 "
            "zip phone")
_CUSTOMER = (f"id legacyResourceId createdAt updatedAt firstName lastName state note taxExempt "
             f"defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }} "
             f"defaultAddress {{ id {_ADDRESS} }}")
_LINE = (f"id name title variantTitle sku vendor quantity currentQuantity taxable isGiftCard requiresShipping "
         f"product {{ productType }} "
         f"originalUnitPriceSet {{ {_BAG} }} totalDiscountSet {{ {_BAG} }} "
         f"discountAllocations {{ allocatedAmountSet {{ {_BAG} }} discountApplication {{ index }} }} "
         f"taxLines {{ {_TAX} }} "
         f"duties {{ id harmonizedSystemCode countryCodeOfOrigin price {{ {_BAG} }} taxLines {{ {_TAX} }} }}")
_SHIPPING = (f"id title code source isRemoved originalPriceSet {{ {_BAG} }} discountedPriceSet {{ {_BAG} }} "
             f"discountAllocations {{ allocatedAmountSet {{ {_BAG} }} discountApplication {{ index }} }} "
             f"taxLines {{ {_TAX} }}")
_APPLICATION = ("__typename index allocationMethod targetSelection targetType "
                "value { ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } } "
                "... on DiscountCodeApplication { code } "
                "... on ManualDiscountApplication { title description } "
                "... on AutomaticDiscountApplication { title } "
                "... on ScriptDiscountApplication { title }")
_TOTALS = " ".join(f"{name} {{ {_BAG} }}" for name in (
    "totalPriceSet", "subtotalPriceSet", "totalTaxSet", "totalDiscountsSet", "totalShippingPriceSet",
    "currentTotalPriceSet", "currentSubtotalPriceSet", "currentTotalTaxSet", "currentTotalDiscountsSet",
    "totalOutstandingSet", "totalTipReceivedSet", "currentTotalDutiesSet", "originalTotalDutiesSet",
    "currentTotalAdditionalFeesSet", "originalTotalAdditionalFeesSet"))

#: What a B2B order adds (a few points): the purchasing company and location, terms, PO number.
_B2B = ("poNumber paymentTerms { paymentTermsName paymentTermsType dueInDays } "
        "purchasingEntity { __typename ... on PurchasingCompany { company { id } location { id } } }")

#: An order's own fields (no connection): what reconciliation and a backfill's listing read alike.
_ORDER = f"""id legacyResourceId name number email phone note tags test sourceName confirmed
    createdAt updatedAt processedAt cancelledAt cancelReason closedAt
    currencyCode presentmentCurrencyCode taxesIncluded taxExempt
    displayFinancialStatus displayFulfillmentStatus paymentGatewayNames discountCodes
    {_TOTALS}
    taxLines {{ {_TAX} }}
    additionalFees {{ id name price {{ {_BAG} }} taxLines {{ {_TAX} }} }}
    billingAddress {{ {_ADDRESS} }}
    shippingAddress {{ {_ADDRESS} }}
    customer {{ {_CUSTOMER} }}
    {_B2B}"""

#: One order without its refunds' details: about 850 points.
ORDER_QUERY = f"""
query ReconciledOrder($id: ID!) {{
  order(id: $id) {{
    {_ORDER}
    discountApplications(first: {SMALL_PAGE}) {{ nodes {{ {_APPLICATION} }} }}
    shippingLines(first: {SMALL_PAGE}, includeRemovals: true) {{ nodes {{ {_SHIPPING} }} pageInfo {{ hasNextPage }} }}
    lineItems(first: {LINE_PAGE}) {{ nodes {{ {_LINE} }} pageInfo {{ hasNextPage endCursor }} }}
    refunds(first: {REFUND_LIMIT}) {{ id }}
  }}
}}"""

#: Each order of a bulk listing, whole: :data:`ORDER_QUERY`'s fields with its connections unpaged
#: (a bulk operation has neither page limits nor a cost per object; their nodes come as lines of
#: their own, after their order) and its refunds listed. Four connections, two deep: within
#: Shopify's bulk rules.
BULK_ORDER_FIELDS = f"""{_ORDER}
    refunds {{ id legacyResourceId createdAt }}
    discountApplications {{ edges {{ node {{ {_APPLICATION} }} }} }}
    shippingLines(includeRemovals: true) {{ edges {{ node {{ {_SHIPPING} }} }} }}
    lineItems {{ edges {{ node {{ {_LINE} }} }} }}"""

#: The order's next line items: about 500 points.
LINES_QUERY = f"""
query ReconciledOrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {LINE_PAGE}, after: $after) {{ nodes {{ {_LINE} }} pageInfo {{ hasNextPage endCursor }} }}
  }}
}}"""

_REFUND_TX = "id kind status gateway createdAt processedAt amountSet { " + _BAG + " } parentTransaction { id }"
#: One refund: about 400 points.
REFUND_QUERY = f"""
query ReconciledRefund($id: ID!) {{
  refund(id: $id) {{
    id legacyResourceId createdAt note
    order {{ id legacyResourceId }}
    refundLineItems(first: {REFUND_PAGE}) {{
      nodes {{ id quantity restockType lineItem {{ id }} subtotalSet {{ {_BAG} }} totalTaxSet {{ {_BAG} }} }}
      pageInfo {{ hasNextPage }}
    }}
    refundShippingLines(first: {SMALL_PAGE}) {{
      nodes {{ id shippingLine {{ id }} subtotalAmountSet {{ {_BAG} }} }}
      pageInfo {{ hasNextPage }}
    }}
    orderAdjustments(first: {SMALL_PAGE}) {{
      nodes {{ id kind reason amountSet {{ {_BAG} }} taxAmountSet {{ {_BAG} }} }}
      pageInfo {{ hasNextPage }}
    }}
    transactions(first: {REFUND_PAGE}) {{ nodes {{ {_REFUND_TX} }} pageInfo {{ hasNextPage }} }}
    duties {{ amountSet {{ {_BAG} }} originalDuty {{ id }} }}
    additionalFees {{ amountSet {{ {_BAG} }} originalAdditionalFee {{ id }} }}
  }}
}}"""

#: A customer's fields, as a webhook's body is rebuilt from them (a bulk listing reads them too).
CUSTOMER_FIELDS = _CUSTOMER

#: One customer: about 5 points.
CUSTOMER_QUERY = f"""
query ReconciledCustomer($id: ID!) {{
  customer(id: $id) {{ {_CUSTOMER} }}
}}"""


# ------------------------------------------------------------------------------------------ reading


class TooLarge(ShopifyError):
    """The object has more of something than reconciliation reads: it is left to its webhooks."""



def read_order(client: ShopifyClient, order_gid: str) -> dict | None:
    """The order as its ``orders/updated`` webhook would carry it now (refunds included), or None
    when Shopify no longer has it."""
    order = client.graphql(ORDER_QUERY, {"id": order_gid})["order"]
    if order is None:
        return None
    lines = order["lineItems"]
    nodes, page = list(lines["nodes"]), lines["pageInfo"]
    while page["hasNextPage"]:
        more = client.graphql(LINES_QUERY, {"id": order_gid, "after": page["endCursor"]})["order"]["lineItems"]
        nodes += more["nodes"]
        page = more["pageInfo"]
    _whole(client, order_gid, "shipping lines", order["shippingLines"])
    if len(order["refunds"]) >= REFUND_LIMIT:
        raise TooLarge(f"{client.connection.domain}: order {order_gid} has {REFUND_LIMIT} refunds or more; "
                           f"reconciliation reads at most {REFUND_LIMIT - 1}")
    zone = client.timezone()
    refunds = [read_refund(client, r["id"], zone) for r in order["refunds"]]
    return order_from_graphql(order, nodes, [r for r in refunds if r is not None], zone)


def order_from_listing(client: ShopifyClient, node: dict) -> dict:
    """The REST order of an order a bulk listing read whole (:data:`BULK_ORDER_FIELDS`, its
    connections gathered as ``nodes``): only its refunds are read, one request each."""
    if len(node.get("refunds") or []) >= REFUND_LIMIT:
        raise TooLarge(f"{client.connection.domain}: order {node['id']} has {REFUND_LIMIT} refunds or more; "
                       f"a backfill reads at most {REFUND_LIMIT - 1}")
    zone = client.timezone()
    refunds = [read_refund(client, r["id"], zone) for r in node.get("refunds") or []]
    return order_from_graphql(node, None, [r for r in refunds if r is not None], zone)


def read_refund(client: ShopifyClient, refund_gid: str, zone: tzinfo | None = None) -> dict | None:
    """The refund as its ``refunds/create`` webhook would carry it, or None. ``zone``: the
    shop's (read when not given)."""
    refund = client.graphql(REFUND_QUERY, {"id": refund_gid})["refund"]
    if refund is None:
        return None
    for key in ("refundLineItems", "refundShippingLines", "orderAdjustments", "transactions"):
        _whole(client, refund_gid, key, refund[key])
    return refund_from_graphql(refund, zone or client.timezone())


def read_customer(client: ShopifyClient, customer_gid: str) -> dict | None:
    """The customer as its ``customers/update`` webhook would carry it, or None."""
    customer = client.graphql(CUSTOMER_QUERY, {"id": customer_gid})["customer"]
    return customer_from_graphql(customer) if customer else None


def _whole(client: ShopifyClient, gid: str, what: str, page: dict) -> None:
    if page["pageInfo"]["hasNextPage"]:
        raise TooLarge(f"{client.connection.domain}: {gid} has more {what} than reconciliation reads in one "
                           "page; it is left to its webhooks")


# ------------------------------------------------------------------------------------------ shapes


def numeric_id(gid: str | None) -> int | None:
    """``gid://shopify/Order/123`` → 123, as REST writes ids."""
    if not gid:
        return None
    tail = str(gid).rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def _lower(value) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _bag(bag: dict | None) -> dict | None:
    if not bag:
        return None
    return {side: {"amount": bag[key]["amount"], "currency_code": bag[key]["currencyCode"]}
            for side, key in (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney")) if bag.get(key)}


def _shop(bag: dict | None) -> str | None:
    return bag["shopMoney"]["amount"] if bag and bag.get("shopMoney") else None


def _money(rest: dict, key: str, bag: dict | None) -> None:
    """``key`` (shop money) and ``key_set``, as REST writes both."""
    rest[key] = _shop(bag)
    rest[f"{key}_set"] = _bag(bag)


def _tax_lines(taxes: list[dict] | None) -> list[dict]:
    out = []
    for tax in taxes or []:
        line = {"title": tax.get("title"), "rate": tax.get("rate"), "channel_liable": False}
        _money(line, "price", tax.get("priceSet"))
        out.append(line)
    return out


def _allocations(allocations: list[dict] | None) -> list[dict]:
    out = []
    for allocation in allocations or []:
        row = {"discount_application_index": (allocation.get("discountApplication") or {}).get("index")}
        _money(row, "amount", allocation.get("allocatedAmountSet"))
        out.append(row)
    return out


def address(node: dict | None) -> dict | None:
    if not node:
        return None
    out = {"first_name": node.get("firstName"), "last_name": node.get("lastName"), "company": node.get("company"),
           "address1": node.get("address1"), "address2": node.get("address2"), "city": node.get("city"),
           "province": node.get("province"), "province_code": node.get("provinceCode"),
           "country": node.get("country"), "country_code": node.get("countryCodeV2"), "zip": node.get("zip"),
           "phone": node.get("phone")}
    if node.get("id"):
        out["id"] = numeric_id(node["id"])
    return out


_APPLICATION_TYPES = {"DiscountCodeApplication": "discount_code", "ManualDiscountApplication": "manual",
                      "AutomaticDiscountApplication": "automatic", "ScriptDiscountApplication": "script"}


def _application(node: dict) -> dict:
    value = node.get("value") or {}
    percentage = "percentage" in value
    out = {"type": _APPLICATION_TYPES.get(node.get("__typename"), "manual"),
           "value": str(value["percentage"]) if percentage else value.get("amount"),
           "value_type": "percentage" if percentage else "fixed_amount",
           "allocation_method": _lower(node.get("allocationMethod")),
           "target_selection": _lower(node.get("targetSelection")), "target_type": _lower(node.get("targetType"))}
    for key in ("code", "title", "description"):
        if key in node:
            out[key] = node[key]
    return out


def _charge(node: dict) -> dict:
    out = {"id": numeric_id(node["id"]), "admin_graphql_api_id": node["id"],
           "price_set": _bag(node.get("price")), "tax_lines": _tax_lines(node.get("taxLines"))}
    for key, rest in (("harmonizedSystemCode", "harmonized_system_code"),
                      ("countryCodeOfOrigin", "country_code_of_origin"), ("name", "name")):
        if key in node:
            out[rest] = node[key]
    return out


def _line_item(node: dict) -> dict:
    line = {"id": numeric_id(node["id"]), "admin_graphql_api_id": node["id"], "name": node.get("name"),
            "title": node.get("title"), "variant_title": node.get("variantTitle"), "sku": node.get("sku"),
            "vendor": node.get("vendor"), "quantity": node.get("quantity"),
            # Not in the REST webhook's line items: revenue rules by product type need it
            # (a custom item, or one whose product was deleted, has none).
            "product_type": (node.get("product") or {}).get("productType") or "",
            "current_quantity": node.get("currentQuantity"), "taxable": node.get("taxable"),
            "gift_card": node.get("isGiftCard"), "requires_shipping": node.get("requiresShipping"),
            "discount_allocations": _allocations(node.get("discountAllocations")),
            "tax_lines": _tax_lines(node.get("taxLines")),
            "duties": [_charge(duty) for duty in node.get("duties") or []]}
    _money(line, "price", node.get("originalUnitPriceSet"))
    _money(line, "total_discount", node.get("totalDiscountSet"))
    return line


def _shipping_line(node: dict) -> dict:
    line = {"id": numeric_id(node["id"]), "title": node.get("title"), "code": node.get("code"),
            "source": node.get("source"), "is_removed": bool(node.get("isRemoved")),
            "discount_allocations": _allocations(node.get("discountAllocations")),
            "tax_lines": _tax_lines(node.get("taxLines"))}
    _money(line, "price", node.get("originalPriceSet"))
    _money(line, "discounted_price", node.get("discountedPriceSet"))
    return line


def customer_from_graphql(node: dict) -> dict:
    """A ``Customer`` as REST's customer (the ``customers/*`` webhook, an order's ``customer``)."""
    default = address(node.get("defaultAddress"))
    return {"id": numeric_id(node["id"]), "admin_graphql_api_id": node["id"],
            "email": (node.get("defaultEmailAddress") or {}).get("emailAddress"),
            "phone": (node.get("defaultPhoneNumber") or {}).get("phoneNumber"),
            "first_name": node.get("firstName"), "last_name": node.get("lastName"),
            "created_at": node.get("createdAt"), "updated_at": node.get("updatedAt"),
            "state": _lower(node.get("state")), "note": node.get("note"), "tax_exempt": bool(node.get("taxExempt")),
            "default_address": default, "addresses": [default] if default else []}


_TOTALS_REST = (("total_price", "totalPriceSet"), ("subtotal_price", "subtotalPriceSet"),
                ("total_tax", "totalTaxSet"), ("total_discounts", "totalDiscountsSet"),
                ("current_total_price", "currentTotalPriceSet"), ("current_subtotal_price", "currentSubtotalPriceSet"),
                ("current_total_tax", "currentTotalTaxSet"), ("current_total_discounts", "currentTotalDiscountsSet"))
_CHARGE_TOTALS = (("current_total_duties_set", "currentTotalDutiesSet"),
                  ("original_total_duties_set", "originalTotalDutiesSet"),
                  ("current_total_additional_fees_set", "currentTotalAdditionalFeesSet"),
                  ("original_total_additional_fees_set", "originalTotalAdditionalFeesSet"),
                  ("total_additional_fees_set", "originalTotalAdditionalFeesSet"))


def order_from_graphql(node: dict, line_items: list[dict] | None = None, refunds: list[dict] = (),
                       zone: tzinfo = timezone.utc) -> dict:
    """An ``Order`` (as :data:`ORDER_QUERY` reads it) as the REST order of its webhooks.
    ``line_items`` are every page of its line items; ``refunds`` its refunds in REST shape;
    ``zone`` the shop's, in which REST writes the timestamps GraphQL gives in UTC (the invoice
    takes the shop's local date of ``processed_at``, whichever way the order came)."""
    customer = node.get("customer")
    order = {
        "id": numeric_id(node["id"]), "admin_graphql_api_id": node["id"], "name": node.get("name"),
        "order_number": node.get("number"),  # GraphQL's number is the one in the name: REST's order_number
        "email": node.get("email"), "contact_email": node.get("email"), "phone": node.get("phone"),
        "note": node.get("note"), "tags": ", ".join(node.get("tags") or []), "test": bool(node.get("test")),
        "source_name": node.get("sourceName"), "confirmed": node.get("confirmed"),
        "created_at": local(node.get("createdAt"), zone), "updated_at": local(node.get("updatedAt"), zone),
        "processed_at": local(node.get("processedAt"), zone), "cancelled_at": local(node.get("cancelledAt"), zone),
        "cancel_reason": _lower(node.get("cancelReason")), "closed_at": local(node.get("closedAt"), zone),
        "currency": node.get("currencyCode"), "presentment_currency": node.get("presentmentCurrencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")), "tax_exempt": bool(node.get("taxExempt")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": _fulfillment(node.get("displayFulfillmentStatus")),
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "discount_applications": [_application(a) for a in node["discountApplications"]["nodes"]],
        "line_items": [_line_item(li) for li in (line_items if line_items is not None else node["lineItems"]["nodes"])],
        "shipping_lines": [_shipping_line(sl) for sl in node["shippingLines"]["nodes"]],
        "tax_lines": _tax_lines(node.get("taxLines")),
        "additional_fees": [_charge(fee) for fee in node.get("additionalFees") or []],
        "billing_address": address(node.get("billingAddress")),
        "shipping_address": address(node.get("shippingAddress")),
        "customer": customer_from_graphql(customer) if customer else None,
        "refunds": list(refunds),
        "po_number": node.get("poNumber"),
        "payment_terms": _terms(node.get("paymentTerms")),
    }
    entity = node.get("purchasingEntity") or {}
    if entity.get("__typename") == "PurchasingCompany":  # REST's company key, as a B2B webhook carries it
        order["company"] = {"id": numeric_id(entity["company"]["id"]), "location_id": numeric_id(entity["location"]["id"])}
    for key, field in _TOTALS_REST:
        _money(order, key, node.get(field))
    order["total_shipping_price_set"] = _bag(node.get("totalShippingPriceSet"))
    order["total_outstanding"] = _shop(node.get("totalOutstandingSet"))
    order["total_tip_received"] = _shop(node.get("totalTipReceivedSet")) or "0"
    for key, field in _CHARGE_TOTALS:
        order[key] = _bag(node.get(field))
    return order


def _terms(node: dict | None) -> dict | None:
    if not node:
        return None
    return {"payment_terms_name": node.get("paymentTermsName"), "payment_terms_type": _lower(node.get("paymentTermsType")),
            "due_in_days": node.get("dueInDays")}


def _fulfillment(status: str | None) -> str | None:
    status = _lower(status)
    return None if status in (None, "unfulfilled") else status


def refund_from_graphql(node: dict, zone: tzinfo = timezone.utc) -> dict:
    """A ``Refund`` (as :data:`REFUND_QUERY` reads it) as its ``refunds/create`` webhook body,
    its timestamps in the shop's ``zone``."""
    refund_id = numeric_id(node["id"])
    order_id = numeric_id((node.get("order") or {}).get("id"))
    lines = []
    for rli in node["refundLineItems"]["nodes"]:
        line = {"id": numeric_id(rli["id"]), "line_item_id": numeric_id(rli["lineItem"]["id"]),
                "quantity": rli.get("quantity"), "restock_type": _lower(rli.get("restockType"))}
        _money(line, "subtotal", rli.get("subtotalSet"))
        _money(line, "total_tax", rli.get("totalTaxSet"))
        lines.append(line)
    shipping = [{"id": numeric_id(x["id"]), "shipping_line_id": numeric_id(x["shippingLine"]["id"]),
                 "subtotal_amount_set": _bag(x.get("subtotalAmountSet"))}
                for x in node["refundShippingLines"]["nodes"]]
    adjustments = []
    for x in node["orderAdjustments"]["nodes"]:
        adjustment = {"id": numeric_id(x["id"]), "order_id": order_id, "refund_id": refund_id,
                      "kind": _lower(x.get("kind")), "reason": _lower(x.get("reason"))}
        _money(adjustment, "amount", x.get("amountSet"))
        _money(adjustment, "tax_amount", x.get("taxAmountSet"))
        adjustments.append(adjustment)
    transactions = [_refund_transaction(t, order_id, zone) for t in node["transactions"]["nodes"]]
    duties = [{"duty_id": numeric_id(d["originalDuty"]["id"]), "amount_set": _bag(d.get("amountSet"))}
              for d in node.get("duties") or []]
    fees = [{"additional_fee_id": numeric_id(f["originalAdditionalFee"]["id"]), "amount_set": _bag(f.get("amountSet"))}
            for f in node.get("additionalFees") or []]
    return {"id": refund_id, "admin_graphql_api_id": node["id"], "order_id": order_id,
            "created_at": local(node.get("createdAt"), zone), "processed_at": local(node.get("createdAt"), zone),
            "note": node.get("note"),
            "refund_line_items": lines, "refund_shipping_lines": shipping, "order_adjustments": adjustments,
            "transactions": transactions, "duties": duties, "additional_fees": fees,
            "total_duties_set": _summed([d["amount_set"] for d in duties], node),
            "total_additional_fees_set": _summed([f["amount_set"] for f in fees], node)}


def _refund_transaction(node: dict, order_id: int | None, zone: tzinfo) -> dict:
    """As a ``refunds/create`` webhook writes it: ``amount`` in presentment money, no ``amount_set``."""
    money = (node.get("amountSet") or {}).get("presentmentMoney") or {}
    return {"id": numeric_id(node["id"]), "admin_graphql_api_id": node["id"], "order_id": order_id,
            "kind": _lower(node.get("kind")), "status": _lower(node.get("status")), "gateway": node.get("gateway"),
            "amount": money.get("amount"), "currency": money.get("currencyCode"),
            "parent_id": numeric_id((node.get("parentTransaction") or {}).get("id")),
            "created_at": local(node.get("createdAt"), zone), "processed_at": local(node.get("processedAt"), zone)}


def _summed(bags: list[dict | None], refund: dict) -> dict | None:
    """The sum of REST money bags, as a bag of the same currencies; None when there is no
    currency to write it in (a refund with no lines, shipping, duties nor fees)."""
    sample = next((b for b in bags if b), None)
    if sample is None:
        return None
    return {side: {"amount": str(sum((Decimal(str(b[side]["amount"])) for b in bags if b), Decimal(0))),
                   "currency_code": sample[side]["currency_code"]} for side in sample}
