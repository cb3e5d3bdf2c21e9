"""``/_sandbox/...``: what tests and the demo use to play merchant and to steer the sandbox.

Nothing here exists on real Shopify.  Shops are created at run time; merchant actions (orders,
customers, payments, refunds, cancellations) go through ``Merchant`` so they fire the webhooks
Shopify would; ``?deliver=false`` stores without firing.  Webhook knobs, the delivery log and an
idle probe let a test wait for delivery instead of sleeping.
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response, request

from .admin_api import ctx, respond
from .generator import STATUSES, generate_orders
from .jsonio import loads
from .merchant import NotFound
from .orders import OrderError
from .zones import valid_zone

bp = Blueprint("shopify_scenario", __name__, url_prefix="/_sandbox")

SHOP_FIELDS = {"client_id": str, "client_secret": str, "webhook_url": (str, type(None)), "currency": str,
               "taxes_included": bool, "api_version": str, "name": str, "expiring_offline_tokens": bool,
               "webhook_topics": (list, type(None)), "scopes": (str, type(None)), "total_conversion": str,
               "iana_timezone": str}
TOTAL_CONVERSIONS = ("parts", "whole")


def _body():
    data = loads(request.get_data() or b"{}")
    if not isinstance(data, dict):
        raise OrderError("the body must be a JSON object")
    return data


def _deliver() -> bool:
    return request.args.get("deliver", "true").lower() not in ("false", "0", "no")


def _shop_or_404(shop_domain):
    shop = ctx().store.shop(shop_domain)
    if shop is None:
        raise NotFound(f"shop {shop_domain} not found")
    return shop


@bp.errorhandler(OrderError)
def _unprocessable(err):
    return respond({"errors": {"base": [str(err)]}}, 422)


@bp.errorhandler(NotFound)
def _not_found(err):
    return respond({"errors": str(err.args[0]) if err.args else "Not Found"}, 404)


@bp.errorhandler(ValueError)
def _bad_json(err):
    return respond({"errors": f"invalid request: {err}"}, 400)


# ------------------------------------------------------------------------------------------ shops


@bp.put("/shops/<shop_domain>")
def put_shop(shop_domain):
    body = _body()
    attrs = {}
    for key, kind in SHOP_FIELDS.items():
        if key in body:
            if not isinstance(body[key], kind):
                raise OrderError(f"{key} has the wrong type")
            attrs[key] = body[key]
    if attrs.get("total_conversion", "parts") not in TOTAL_CONVERSIONS:
        raise OrderError(f"total_conversion must be one of {', '.join(TOTAL_CONVERSIONS)}")
    if "iana_timezone" in attrs and not valid_zone(attrs["iana_timezone"]):
        raise OrderError(f"iana_timezone {attrs['iana_timezone']!r} is not an IANA time zone")
    store = ctx().store
    if store.shop(shop_domain) is None:
        missing = [k for k in ("client_id", "client_secret") if k not in attrs]
        if missing:
            raise OrderError(f"a new shop needs {', '.join(missing)}")
        attrs.setdefault("api_version", ctx().settings.api_version)
        attrs.setdefault("next_order_number", ctx().settings.first_order_number)
    shop, created = store.put_shop(shop_domain, **attrs)
    return respond(shop.public(), 201 if created else 200)


@bp.get("/shops/<shop_domain>")
def get_shop(shop_domain):
    return respond(_shop_or_404(shop_domain).public())


@bp.post("/shops/<shop_domain>/offline_token")
def offline_token(shop_domain):
    """What installing the app gives it: an expiring offline pair (if the shop is configured with
    ``expiring_offline_tokens``) or a non-expiring offline token."""
    return respond(ctx().tokens.offline(_shop_or_404(shop_domain)))


@bp.post("/shops/<shop_domain>/install")
def install(shop_domain):
    """The merchant installs the app (again, after an uninstall): what installing gives it, an
    expiring offline pair or a non-expiring offline token; the client-credentials grant works again."""
    shop = _shop_or_404(shop_domain)
    shop.installed = True
    return respond(ctx().tokens.offline(shop))


@bp.get("/shops/<shop_domain>/tokens")
def token_counts(shop_domain):
    """How often each grant was issued or refused for the shop, and how many Admin API calls it
    answered 401: ``{"client_credentials", "refresh_token", "refused", "unauthorized"}``."""
    shop = _shop_or_404(shop_domain)
    counts = ctx().tokens.counts(shop.domain)
    return respond({k: counts.get(k, 0) for k in ("client_credentials", "refresh_token", "refused",
                                                  "unauthorized")})


@bp.post("/shops/<shop_domain>/tokens/expire")
def expire_tokens(shop_domain):
    """The shop's expiring access tokens reach their end now (refresh tokens stay valid)."""
    return respond({"expired": ctx().tokens.expire_shop(_shop_or_404(shop_domain).domain)})


@bp.put("/shops/<shop_domain>/bucket")
def put_bucket(shop_domain):
    """The shop's GraphQL cost bucket: ``{maximum_available, restore_rate, currently_available}``
    (each optional), as another plan or another app's traffic would leave it."""
    shop = _shop_or_404(shop_domain)
    body = _body()
    for key in ("maximum_available", "restore_rate", "currently_available"):
        if key in body and (not isinstance(body[key], (int, float, Decimal)) or isinstance(body[key], bool)
                            or body[key] < 0):
            raise OrderError(f"{key} must be a number of at least 0")
    if body.get("restore_rate") == 0:
        raise OrderError("restore_rate must be more than 0")
    bucket = ctx().buckets.get(shop.client_id, shop.domain)
    bucket.reset(*(None if body.get(k) is None else float(body[k])
                   for k in ("maximum_available", "restore_rate", "currently_available")))
    return respond(bucket.status())


@bp.put("/shops/<shop_domain>/bulk")
def hold_bulk(shop_domain):
    """``{"held": true}``: the shop's bulk operations stay RUNNING until ``{"held": false}``; the
    answer also counts how often they were polled."""
    shop = _shop_or_404(shop_domain)
    return respond(ctx().graphql.bulk.hold(shop.domain, bool(_body().get("held"))))


@bp.post("/shops/<shop_domain>/uninstall")
def uninstall(shop_domain):
    shop = _shop_or_404(shop_domain)
    c = ctx()
    payload = {"id": abs(hash(shop.domain)) % 10**11, "name": shop.name, "email": f"owner@{shop.domain}",
               "domain": shop.domain, "myshopify_domain": shop.domain, "currency": shop.currency,
               "iana_timezone": "UTC", "plan_name": "basic", "taxes_included": shop.taxes_included}
    if _deliver():
        c.dispatcher.fire(shop, [("app/uninstalled", payload)])
    c.tokens.revoke_shop(shop.domain)
    shop.installed = False
    return respond(shop.public())


# ------------------------------------------------------------------------------------------ customers


@bp.post("/shops/<shop_domain>/customers")
def create_customer(shop_domain):
    body = _body()
    body = body.get("customer", body)
    return respond(ctx().merchant.create_customer(_shop_or_404(shop_domain), body, _deliver()), 201)


@bp.put("/shops/<shop_domain>/customers/<customer_id>")
def update_customer(shop_domain, customer_id):
    body = _body()
    body = body.get("customer", body)
    return respond(ctx().merchant.update_customer(_shop_or_404(shop_domain), customer_id, body, _deliver()))


@bp.post("/shops/<shop_domain>/customers/merge")
def merge_customers(shop_domain):
    """The merchant merges two customers (``customerMerge``); Shopify sends ``customers/merge``."""
    body = _body()
    return respond(ctx().merchant.merge_customers(_shop_or_404(shop_domain), body.get("customer_one_id"),
                                                  body.get("customer_two_id"), _deliver()))


@bp.get("/shops/<shop_domain>/customers/<customer_id>")
def get_customer(shop_domain, customer_id):
    shop = _shop_or_404(shop_domain)
    with ctx().store.lock:
        try:
            return respond(shop.customers[int(customer_id)])
        except (KeyError, ValueError):
            raise NotFound(f"customer {customer_id} not found") from None


# ------------------------------------------------------------------------------------------ B2B


@bp.post("/shops/<shop_domain>/companies")
def create_company(shop_domain):
    body = _body()
    body = body.get("company", body)
    return respond(ctx().merchant.create_company(_shop_or_404(shop_domain), body, _deliver()), 201)


@bp.get("/shops/<shop_domain>/companies/<company_id>")
def get_company(shop_domain, company_id):
    return respond(ctx().merchant.get_company(_shop_or_404(shop_domain), company_id))


@bp.post("/shops/<shop_domain>/companies/<company_id>/locations")
def add_company_location(shop_domain, company_id):
    body = _body()
    return respond(ctx().merchant.add_company_location(_shop_or_404(shop_domain), company_id,
                                                       body.get("location", body)), 201)


# ------------------------------------------------------------------------------------------ orders


def _order_body():
    body = _body()
    return body.get("order", body) if isinstance(body.get("order"), dict) else body


@bp.post("/shops/<shop_domain>/orders")
def create_order(shop_domain):
    return respond(ctx().merchant.create_order(_shop_or_404(shop_domain), _order_body(), _deliver()), 201)


@bp.get("/shops/<shop_domain>/orders")
def list_orders(shop_domain):
    """Every order of the shop, oldest first (``?since_id=`` and ``?limit=`` to page)."""
    shop = _shop_or_404(shop_domain)
    since = int(request.args.get("since_id", 0))
    limit = int(request.args.get("limit", 250))
    with ctx().store.lock:
        ids = sorted(i for i in shop.orders if i > since)[:limit]
    return respond({"orders": [ctx().merchant.get_order(shop, i) for i in ids]})


MAX_GENERATED = 1000


@bp.post("/shops/<shop_domain>/orders/generate")
def generate(shop_domain):
    """What a dev store's order generator does: the demo and the benchmarks get realistic orders
    over HTTP, so that only the sandbox's own code knows how they are made."""
    shop = _shop_or_404(shop_domain)
    body = _body()
    count, seed, first = body.get("count", 10), body.get("seed", 0), body.get("first", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_GENERATED:
        raise OrderError(f"count must be a whole number from 1 to {MAX_GENERATED}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise OrderError("seed must be a whole number")
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise OrderError("first must be a whole number, 0 or more")
    customers, guest_share, status = body.get("customers"), body.get("guest_share", 0.25), body.get("financial_status")
    if customers is not None and (isinstance(customers, bool) or not isinstance(customers, int) or customers < 1):
        raise OrderError("customers must be a whole number, 1 or more")
    if isinstance(guest_share, bool) or not isinstance(guest_share, (int, float)) or not 0 <= guest_share <= 1:
        raise OrderError("guest_share must be a number from 0 to 1")
    if status is not None and status not in STATUSES:
        raise OrderError(f"financial_status must be one of {', '.join(STATUSES)}")
    made = [ctx().merchant.create_order(shop, o, _deliver())
            for o in generate_orders(count, seed, currency=shop.currency, taxes_included=shop.taxes_included,
                                     first=first, customers=customers, guest_share=float(guest_share),
                                     financial_status=status, convert_total=shop.total_conversion)]
    return respond({"orders": made}, 201)


@bp.get("/shops/<shop_domain>/orders/<order_id>")
def get_order(shop_domain, order_id):
    return respond(ctx().merchant.get_order(_shop_or_404(shop_domain), order_id))


@bp.put("/shops/<shop_domain>/orders/<order_id>")
def edit_order(shop_domain, order_id):
    return respond(ctx().merchant.edit_order(_shop_or_404(shop_domain), order_id, _order_body(), _deliver()))


@bp.get("/shops/<shop_domain>/orders/<order_id>/transactions")
def list_transactions(shop_domain, order_id):
    return respond({"transactions": ctx().merchant.transactions(_shop_or_404(shop_domain), order_id)})


@bp.post("/shops/<shop_domain>/orders/<order_id>/transactions")
def add_transaction(shop_domain, order_id):
    body = _body()
    body = body.get("transaction", body)
    return respond(ctx().merchant.add_transaction(_shop_or_404(shop_domain), order_id, body, _deliver()), 201)


@bp.post("/shops/<shop_domain>/orders/<order_id>/refunds")
def refund(shop_domain, order_id):
    body = _body()
    body = body.get("refund", body)
    return respond(ctx().merchant.refund(_shop_or_404(shop_domain), order_id, body, _deliver()), 201)


@bp.post("/shops/<shop_domain>/orders/<order_id>/transactions/<transaction_id>/settle")
def settle(shop_domain, order_id, transaction_id):
    return respond(ctx().merchant.settle(_shop_or_404(shop_domain), order_id, transaction_id, _body(), _deliver()))


@bp.post("/shops/<shop_domain>/orders/<order_id>/cancel")
def cancel(shop_domain, order_id):
    return respond(ctx().merchant.cancel(_shop_or_404(shop_domain), order_id, _body(), _deliver()))


# ------------------------------------------------------------------------------------------ bulk files


@bp.get("/bulk/<int:op_id>.jsonl")
def bulk_file(op_id):
    """The result file of a bulk operation (Shopify serves it from a signed storage URL)."""
    body = ctx().graphql.bulk.file(op_id)
    if body is None:
        raise NotFound(f"bulk operation {op_id} has no result file")
    return Response(body, content_type="application/jsonl")


# ------------------------------------------------------------------------------------------ webhooks


@bp.post("/webhooks/config")
def webhooks_config():
    body = _body()
    try:
        knobs = ctx().dispatcher.configure(**body)
    except (TypeError, ValueError) as err:
        raise OrderError(str(err)) from None
    return respond(knobs.__dict__)


@bp.get("/webhooks/config")
def get_webhooks_config():
    return respond(ctx().dispatcher.knobs.__dict__)


@bp.get("/webhooks/deliveries")
def deliveries():
    return respond({"deliveries": ctx().dispatcher.deliveries(request.args.get("shop"), request.args.get("topic"))})


@bp.get("/webhooks/idle")
def idle():
    """``{"idle", "pending"}``; ``?wait=S`` blocks up to S seconds for delivery to go idle."""
    d = ctx().dispatcher
    wait = float(request.args.get("wait", 0) or 0)
    if wait > 0:
        d.wait_idle(min(wait, 120))
    pending = d.pending()
    return respond({"idle": pending == 0, "pending": pending})
