"""What merchants and buyers do to a shop, and the webhooks each action makes Shopify send.

Every public method is one merchant action: it changes the store under its lock, then fires all
the topics of that action as one event (one ``X-Shopify-Event-Id``, one ``X-Shopify-Webhook-Id``
per topic).  The scenario routes and the GraphQL mutations both call these, so an order marked
paid over GraphQL produces the same webhooks as one paid through the scenario API.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from . import companies as b2b
from . import jsonio
from . import orders as order_math
from .money import D, bag_amounts, rounded
from .orders import OrderError
from .store import Shop, Store
from .webhooks import Dispatcher
from .zones import local_stamps


class NotFound(LookupError):
    pass


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Merchant:
    def __init__(self, store: Store, dispatcher: Dispatcher, rest_refund_shipping_tax: bool = False,
                 refund_duties_in_transactions: bool = True, merge_keeps: str = "second",
                 payment_terms_type_case: str = "lower"):
        self.merge_keeps = merge_keeps
        self.store = store
        self.payment_terms_type_case = payment_terms_type_case
        self.dispatcher = dispatcher
        self.rest_refund_shipping_tax = rest_refund_shipping_tax
        self.refund_duties_in_transactions = refund_duties_in_transactions

    def rest_order(self, order: dict, shop: Shop) -> dict:
        """Every REST answer and webhook is made here or in ``rest_refund``, so that the
        shipping-tax setting holds for all of them, and timestamps show the shop's local offset."""
        view = order_math.rest_view(jsonio.clone(order), self.rest_refund_shipping_tax)
        return local_stamps(view, shop.iana_timezone)

    def rest_refund(self, refund: dict, shop: Shop) -> dict:
        view = order_math.refund_view(jsonio.clone(refund), self.rest_refund_shipping_tax)
        return local_stamps(view, shop.iana_timezone)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def stamp(previous: str | None = None) -> str:
        """A REST timestamp (second resolution, like REST).  A change to a resource is stamped
        strictly later than its previous ``updated_at``, so versions never tie even when one
        resource changes twice within a second."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        if previous:
            prev = parse_time(previous)
            if now <= prev:
                now = prev + timedelta(seconds=1)
        return now.isoformat()

    def _order(self, shop: Shop, order_id) -> dict:
        try:
            order = shop.orders[int(order_id)]
        except (KeyError, ValueError, TypeError):
            raise NotFound(f"order {order_id} not found") from None
        return order

    def _fire(self, shop: Shop, topics, deliver: bool):
        if deliver:
            return self.dispatcher.fire(shop, [(t, jsonio.clone(p)) for t, p in topics])
        return None

    # ------------------------------------------------------------------ customers
    def _complete_customer(self, shop: Shop, posted: dict, existing: dict | None) -> dict:
        now = self.stamp(existing["updated_at"] if existing else None)
        cust = jsonio.clone(existing) if existing else {}
        cust.update({k: v for k, v in posted.items() if k not in ("id", "admin_graphql_api_id", "created_at")})
        if existing is None:
            cid = self.store.new_id("Customer")
            cust.update({"id": cid, "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
                         "created_at": posted.get("created_at") or now})
        email = (cust.get("email") or "").strip().lower() or None
        if email:
            for other in shop.customers.values():
                if other["id"] != cust["id"] and (other.get("email") or "").lower() == email:
                    raise OrderError("email has already been taken")
        cust["email"] = email
        cust["updated_at"] = now
        for key, default in (("first_name", None), ("last_name", None), ("phone", None), ("state", "disabled"),
                             ("note", None), ("verified_email", True), ("multipass_identifier", None),
                             ("tax_exempt", False), ("tax_exemptions", []), ("currency", shop.currency),
                             ("tags", "")):
            cust.setdefault(key, default)
        if isinstance(cust.get("tags"), list):
            cust["tags"] = ", ".join(cust["tags"])
        addresses = []
        for i, addr in enumerate(cust.get("addresses") or []):
            addr = dict(addr)
            addr.setdefault("id", self.store.new_id("MailingAddress"))
            addr["customer_id"] = cust["id"]
            for key in ("first_name", "last_name", "company", "address1", "address2", "city", "province",
                        "country", "zip", "phone", "province_code", "country_code"):
                addr.setdefault(key, None)
            addr.setdefault("country_name", addr.get("country"))
            addr.setdefault("name", " ".join(x for x in (addr.get("first_name"), addr.get("last_name")) if x) or None)
            addresses.append(addr)
        if addresses and not any(a.get("default") for a in addresses):
            addresses[0]["default"] = True
        for a in addresses:
            a["default"] = bool(a.get("default"))
        cust["addresses"] = addresses
        cust["default_address"] = next((dict(a) for a in addresses if a["default"]), None)
        return cust

    def create_customer(self, shop: Shop, posted: dict, deliver: bool = True) -> dict:
        with self.store.lock:
            cust = self._complete_customer(shop, posted, None)
            shop.customers[cust["id"]] = cust
            payload = jsonio.clone(cust)
        self._fire(shop, [("customers/create", payload)], deliver)
        return payload

    def update_customer(self, shop: Shop, customer_id, posted: dict, deliver: bool = True) -> dict:
        with self.store.lock:
            try:
                existing = shop.customers[int(customer_id)]
            except (KeyError, ValueError):
                raise NotFound(f"customer {customer_id} not found") from None
            cust = self._complete_customer(shop, posted, existing)
            shop.customers[cust["id"]] = cust
            payload = jsonio.clone(cust)
        self._fire(shop, [("customers/update", payload)], deliver)
        return payload

    def merge_customers(self, shop: Shop, one_id, two_id, deliver: bool = True) -> dict:
        """``customerMerge``: one customer survives (``merge_keeps``) with the other's orders and
        addresses, the other is gone, and ``customers/merge`` says which is which. Done at once
        (Shopify runs a job; the sandbox's job is done when the mutation answers)."""
        with self.store.lock:
            try:
                one, two = shop.customers[int(one_id)], shop.customers[int(two_id)]
            except (KeyError, ValueError, TypeError):
                raise NotFound("customer not found") from None
            if one["id"] == two["id"]:
                raise OrderError("a customer cannot be merged with itself")
            kept, gone = (two, one) if self.merge_keeps == "second" else (one, two)
            posted = {k: gone[k] for k in ("email", "phone", "first_name", "last_name") if not kept.get(k) and gone.get(k)}
            posted["addresses"] = (kept.get("addresses") or []) + [
                {k: v for k, v in a.items() if k not in ("id", "customer_id", "default")}
                for a in gone.get("addresses") or []]
            del shop.customers[gone["id"]]
            survivor = self._complete_customer(shop, posted, kept)
            shop.customers[survivor["id"]] = survivor
            for order in shop.orders.values():
                if (order.get("customer") or {}).get("id") == gone["id"]:
                    order["customer"] = self.slim_customer(survivor)
            job = self.store.new_id("Job")
            payload = {"admin_graphql_api_customer_kept_id": survivor["admin_graphql_api_id"],
                       "admin_graphql_api_customer_deleted_id": gone["admin_graphql_api_id"],
                       "admin_graphql_api_job_id": f"gid://shopify/Job/{job}", "status": "completed", "errors": []}
        self._fire(shop, [("customers/merge", payload)], deliver)
        return {**payload, "customer": jsonio.clone(survivor)}

    @staticmethod
    def slim_customer(cust: dict) -> dict:
        keys = ("id", "email", "created_at", "updated_at", "first_name", "last_name", "state", "note",
                "verified_email", "multipass_identifier", "tax_exempt", "phone", "currency",
                "tax_exemptions", "admin_graphql_api_id", "default_address")
        return {k: jsonio.clone(cust.get(k)) for k in keys}

    # ------------------------------------------------------------------ B2B companies
    def create_company(self, shop: Shop, posted: dict, deliver: bool = True) -> dict:
        """A company with its locations and a contact (an existing customer by ``contact.customer_id``,
        else a new customer from ``contact``, whose ``customers/create`` fires)."""
        new_customer = None
        with self.store.lock:
            now = self.stamp()
            company = b2b.complete_company(self.store, shop, posted, now)
            contact = posted.get("contact") or {}
            if contact.get("customer_id") is not None:
                customer = shop.customers.get(int(contact["customer_id"]))
                if customer is None:
                    raise OrderError(f"customer {contact['customer_id']} does not exist in this shop")
            elif contact:
                customer = self._complete_customer(shop, contact, None)
                shop.customers[customer["id"]] = customer
                new_customer = jsonio.clone(customer)
            else:
                customer = None
            if customer is not None:
                b2b.add_contact(self.store, company, customer, now)
            shop.companies[company["id"]] = company
            answer = b2b.rest_company(shop, company)
        if new_customer is not None:
            self._fire(shop, [("customers/create", new_customer)], deliver)
        return answer

    def add_company_location(self, shop: Shop, company_id, posted: dict) -> dict:
        with self.store.lock:
            company = shop.companies.get(int(company_id))
            if company is None:
                raise NotFound(f"company {company_id} not found")
            location = b2b.add_location(self.store, shop, company, posted, self.stamp())
            company["updated_at"] = location["created_at"]
            return jsonio.clone(location)

    def get_company(self, shop: Shop, company_id) -> dict:
        with self.store.lock:
            company = shop.companies.get(int(company_id))
            if company is None:
                raise NotFound(f"company {company_id} not found")
            return b2b.rest_company(shop, company)

    # ------------------------------------------------------------------ orders
    def create_order(self, shop: Shop, posted: dict, deliver: bool = True) -> dict:
        new_customer = None
        with self.store.lock:
            posted = jsonio.clone(posted)
            purchasing = b2b.purchasing_company(shop, posted)
            terms = posted.pop("payment_terms", None)
            if purchasing is not None:
                company, location = purchasing
                posted["company"] = {"id": company["id"], "location_id": location["id"]}
                posted.setdefault("billing_address", b2b.order_address(location))
                if not posted.get("customer") and company["contacts"]:
                    posted["customer"] = {"id": company["contacts"][0]["customer_id"]}
            customer = posted.get("customer")
            if customer:
                known = None
                if customer.get("id") is not None:
                    known = shop.customers.get(int(customer["id"]))
                    if known is None:
                        raise OrderError(f"customer {customer['id']} does not exist in this shop")
                elif customer.get("email"):
                    email = customer["email"].lower()
                    known = next((c for c in shop.customers.values() if (c.get("email") or "") == email), None)
                if known is None:
                    known = self._complete_customer(shop, customer, None)
                    shop.customers[known["id"]] = known
                    new_customer = jsonio.clone(known)
                posted["customer"] = self.slim_customer(known)
                posted.setdefault("email", known.get("email"))
            now = self.stamp()
            order = order_math.complete_order(posted, shop=shop, new_id=self.store.new_id,
                                              order_number=shop.next_order_number, now=now)
            txs = order_math.initial_transactions(order, self.store.new_id, now)
            order_math.recompute_current(order, txs)
            order["payment_terms"] = b2b.complete_terms(self.store, terms, order, now, self.payment_terms_type_case)
            if purchasing is not None and order.get("customer"):
                b2b.add_contact(self.store, purchasing[0], shop.customers[order["customer"]["id"]], now)
            shop.next_order_number += 1
            shop.orders[order["id"]] = order
            shop.transactions[order["id"]] = txs
            payload = self.rest_order(order, shop)
        if new_customer is not None:
            self._fire(shop, [("customers/create", new_customer)], deliver)
        topics = [("orders/create", payload)]
        if payload["financial_status"] == "paid":
            topics.append(("orders/paid", payload))
        self._fire(shop, topics, deliver)
        return payload

    def get_order(self, shop: Shop, order_id) -> dict:
        with self.store.lock:
            return self.rest_order(self._order(shop, order_id), shop)

    def transactions(self, shop: Shop, order_id) -> list[dict]:
        with self.store.lock:
            self._order(shop, order_id)
            return local_stamps(jsonio.clone(shop.transactions.get(int(order_id), [])), shop.iana_timezone)

    def edit_order(self, shop: Shop, order_id, posted: dict, deliver: bool = True) -> dict:
        """An order edit: the posted fields replace the stored ones and everything is re-priced.

        Lines posted without ``discount_allocations`` are re-discounted from
        ``discount_applications`` and taxes are recomputed from the rates.  Orders with refunds
        cannot be edited here (not modelled).
        """
        with self.store.lock:
            order = self._order(shop, order_id)
            if order.get("refunds"):
                raise OrderError("editing an order that has refunds is not modelled by the sandbox")
            if order.get("cancelled_at"):
                raise OrderError("a cancelled order cannot be edited")
            merged = jsonio.clone(order)
            merged.update(jsonio.clone({k: v for k, v in posted.items() if k not in ("id", "name", "order_number")}))
            reprice = any("discount_allocations" not in li for li in posted.get("line_items", []))
            if "line_items" in posted:
                # A posted line with a known id is a change to that line; without an id, a new line.
                old_lines = {li["id"]: li for li in order["line_items"]}
                merged["line_items"] = [{**jsonio.clone(old_lines.get(li.get("id"), {})), **jsonio.clone(li)}
                                        for li in posted["line_items"]]
            computed = set(order_math.TOTAL_KEYS) | {k + "_set" for k in order_math.TOTAL_KEYS} | {
                "tax_lines", "total_shipping_price_set", "discount_codes"}
            for key in computed:
                if key not in posted:
                    merged.pop(key, None)
            if reprice:
                for obj in merged["line_items"] + merged.get("shipping_lines", []):
                    obj["discount_allocations"] = []
                    obj["tax_lines"] = [{"title": t.get("title"), "rate": t.get("rate")} for t in obj.get("tax_lines", [])]
                    obj.pop("price_set", None)
                    obj.pop("discounted_price", None)
                    obj.pop("discounted_price_set", None)
            merged["discount_codes"] = [{"code": c["code"], "type": c.get("type")} for c in order.get("discount_codes", [])]
            merged["financial_status"] = "pending"
            now = self.stamp(order["updated_at"])
            redone = order_math.complete_order(merged, shop=shop, new_id=self.store.new_id,
                                               order_number=order["order_number"], now=now)
            for key in ("id", "admin_graphql_api_id", "order_number", "number", "name", "created_at",
                        "processed_at", "token", "confirmation_number", "order_status_url", "customer",
                        "payment_gateway_names", "financial_status"):
                redone[key] = order[key]
            txs = shop.transactions.setdefault(order["id"], [])
            before = order["financial_status"]
            order_math.recompute_current(redone, txs)
            shop.orders[order["id"]] = redone
            payload = self.rest_order(redone, shop)
        topics = [("orders/updated", payload)]
        if payload["financial_status"] == "paid" and before != "paid":
            topics.insert(0, ("orders/paid", payload))
        self._fire(shop, topics, deliver)
        return payload

    # ------------------------------------------------------------------ payments
    def add_transaction(self, shop: Shop, order_id, posted: dict, deliver: bool = True) -> dict:
        """A payment (sale or capture) on an existing order."""
        with self.store.lock:
            order = self._order(shop, order_id)
            if order.get("cancelled_at"):
                raise OrderError("a cancelled order cannot take payments")
            kind = posted.get("kind", "sale")
            if kind not in order_math.PAID_KINDS:
                raise OrderError("kind must be sale or capture (refunds go through the refunds route)")
            txs = shop.transactions.setdefault(order["id"], [])
            outstanding = D(order["total_outstanding"])
            amount = rounded(posted.get("amount", order["total_outstanding"]), order["currency"])
            if amount <= 0 or amount > outstanding:
                raise OrderError(f"amount {amount} must be positive and at most the outstanding {outstanding}")
            out_shop, out_pres = bag_amounts(order["total_outstanding_set"])
            pres = out_pres if amount == out_shop else rounded(amount * out_pres / out_shop,
                                                               order["presentment_currency"])
            before = order["financial_status"]
            now = self.stamp(order["updated_at"])
            tx = order_math.make_transaction(order, self.store.new_id, now, kind=kind, amount=(amount, pres),
                                             gateway=posted.get("gateway") or "manual",
                                             parent_id=posted.get("parent_id"))
            txs.append(tx)
            order_math.recompute_current(order, txs)
            gateway = tx["gateway"]
            if gateway not in order["payment_gateway_names"]:
                order["payment_gateway_names"].append(gateway)
            order["updated_at"] = now
            payload = self.rest_order(order, shop)
        topics = []
        if payload["financial_status"] == "paid" and before != "paid":
            topics.append(("orders/paid", payload))
        topics.append(("orders/updated", payload))
        self._fire(shop, topics, deliver)
        return tx

    def mark_as_paid(self, shop: Shop, order_id, deliver: bool = True) -> tuple[dict | None, list[dict]]:
        """``orderMarkAsPaid``: record a manual payment of the whole outstanding amount."""
        with self.store.lock:
            order = self._order(shop, order_id)
            if order.get("cancelled_at") or D(order["total_outstanding"]) <= 0:
                return jsonio.clone(order), [{"field": ["id"], "message": "Order cannot be marked as paid."}]
        self.add_transaction(shop, order_id, {"kind": "sale", "gateway": "manual"}, deliver)
        with self.store.lock:
            return jsonio.clone(self._order(shop, order_id)), []

    def create_manual_payment(self, shop: Shop, order_id, amount, currency: str, method: str | None = None,
                              processed_at: str | None = None, deliver: bool = True) -> tuple[dict | None, list[dict]]:
        """``orderCreateManualPayment``: a manual sale of ``amount`` (shop money) on an order that is not
        fully paid; the errors carry the schema's codes. The payment method's name becomes the
        transaction's gateway (``manual`` when none is given; Shopify's default is named "Other")."""
        with self.store.lock:
            order = self._order(shop, order_id)
            outstanding = D(order["total_outstanding"])
            value = rounded(amount, order["currency"])
            problem = (("ORDER_IS_TEMPORARILY_UNAVAILABLE", "Order is cancelled.") if order.get("cancelled_at") else
                       ("AMOUNT_NOT_POSITIVE", "Amount must be positive.") if value <= 0 else
                       ("AMOUNT_EXCEEDS_BALANCE", "Amount exceeds the remaining balance.") if value > outstanding else
                       (None, f"Currency must be the shop's ({order['currency']}).") if currency != order["currency"] else
                       ("PROCESSED_AT_INVALID", "Processed at must not be in the future.")
                       if processed_at and datetime.fromisoformat(processed_at.replace("Z", "+00:00"))
                       > datetime.now(timezone.utc) else None)
            if problem:
                code, message = problem
                return jsonio.clone(order), [{"field": ["amount"], "message": message, "code": code}]
        tx = self.add_transaction(shop, order_id, {"kind": "sale", "amount": str(value), "gateway": method or "manual"},
                                  deliver)
        with self.store.lock:
            stored = next(t for t in shop.transactions[self._order(shop, order_id)["id"]] if t["id"] == tx["id"])
            stored["manual_payment_gateway"] = True
            if processed_at:
                stored["processed_at"] = processed_at
            return jsonio.clone(self._order(shop, order_id)), []

    # ------------------------------------------------------------------ refunds and cancellation
    def refund(self, shop: Shop, order_id, posted: dict, deliver: bool = True,
               _extra_topics=()) -> dict:
        with self.store.lock:
            order = self._order(shop, order_id)
            txs = shop.transactions.setdefault(order["id"], [])
            now = self.stamp(order["updated_at"])
            refund, new_txs = order_math.build_refund(order, posted, txs, new_id=self.store.new_id, now=now,
                                                        duties_in_money=self.refund_duties_in_transactions)
            order["refunds"].append(refund)
            txs.extend(new_txs)
            order_math.recompute_current(order, txs)
            order["updated_at"] = now
            refund_payload = self.rest_refund(refund, shop)
            payload = self.rest_order(order, shop)
        self._fire(shop, [("refunds/create", refund_payload), ("orders/updated", payload)], deliver)
        return refund_payload

    def settle(self, shop: Shop, order_id, transaction_id, posted: dict, deliver: bool = True) -> dict:
        """The payment provider settles a pending transaction (``success``) or gives up (``failure``):
        the order's figures follow, and Shopify tells apps by ``orders/updated``."""
        status = posted.get("status", "success")
        if status not in ("success", "failure"):
            raise OrderError("status must be success or failure")
        with self.store.lock:
            order = self._order(shop, order_id)
            txs = shop.transactions.setdefault(order["id"], [])
            tx = next((t for t in txs if str(t["id"]) == str(transaction_id)), None)
            if tx is None or tx["status"] != "pending":
                raise OrderError(f"transaction {transaction_id} is not a pending transaction of the order")
            now = self.stamp(order["updated_at"])
            tx["status"], tx["processed_at"] = status, now
            for refund in order.get("refunds", []):  # the refund's own copy of its transactions
                for t in refund.get("transactions", []):
                    if str(t["id"]) == str(transaction_id):
                        t["status"], t["processed_at"] = status, now
            order_math.recompute_current(order, txs)
            order["updated_at"] = now
            payload = self.rest_order(order, shop)
        self._fire(shop, [("orders/updated", payload)], deliver)
        return tx

    def cancel(self, shop: Shop, order_id, posted: dict, deliver: bool = True) -> dict:
        """Cancel: every remaining unit and the shipping are refunded (money back for what was
        paid), authorizations are voided; ``current_*`` and ``total_outstanding`` drop to zero."""
        reason = posted.get("reason", "other")
        if reason not in ("customer", "fraud", "inventory", "declined", "staff", "other"):
            raise OrderError(f"reason {reason!r} is not customer, fraud, inventory, declined, staff or other")
        with self.store.lock:
            order = self._order(shop, order_id)
            if order.get("cancelled_at"):
                raise OrderError("order is already cancelled")
            txs = shop.transactions.setdefault(order["id"], [])
            now = self.stamp(order["updated_at"])
            topics = []
            request = order_math.full_refund_request(order)
            if request["refund_line_items"] or order["shipping_lines"] or request["refund_duties"] \
                    or request["refund_additional_fees"]:
                try:
                    refund, new_txs = order_math.build_refund(
                        order, request, txs, new_id=self.store.new_id, now=now,
                        duties_in_money=self.refund_duties_in_transactions)
                except OrderError:
                    refund, new_txs = None, []
                if refund is not None:
                    order["refunds"].append(refund)
                    txs.extend(new_txs)
                    topics.append(("refunds/create", self.rest_refund(refund, shop)))
            for tx in list(txs):
                if tx["kind"] == "authorization" and tx["status"] == "success":
                    txs.append(order_math.make_transaction(order, self.store.new_id, now, kind="void",
                                                           amount=bag_amounts(tx["amount_set"]),
                                                           gateway=tx["gateway"], parent_id=tx["id"]))
            order["cancelled_at"] = now
            order["cancel_reason"] = reason
            order["closed_at"] = now
            order_math.recompute_current(order, txs)
            order["updated_at"] = now
            payload = self.rest_order(order, shop)
        topics += [("orders/cancelled", payload), ("orders/updated", payload)]
        self._fire(shop, topics, deliver)
        return payload
