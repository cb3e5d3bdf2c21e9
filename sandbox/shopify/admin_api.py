"""The two endpoints a connector calls on a real shop: OAuth tokens and Admin GraphQL.

The shop is found the way Shopify finds it – from the host (``acme.myshopify.com``, also accepted
with a ``.localhost`` suffix) – or from a ``/shops/{shop}`` path prefix, since one sandbox serves
many shops on one port (so ``admin_base_url = {sandbox}/shops/{shop}`` is the exact equivalent of
``https://{shop}``).  A shop so named that the sandbox does not hold is a 404
``{"errors":"Not Found"}``, as on Shopify (reference §3.3), and a token only opens its own shop.
Only when no shop is named at all (a plain ``127.0.0.1:port`` host) does the access token decide
(GraphQL), or the only shop with that client id and secret (OAuth).
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from . import jsonio
from .tokens import TokenError

bp = Blueprint("shopify_admin", __name__)

INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
THROTTLED_DOC = "https://shopify.dev/api/usage/rate-limits"


def ctx():
    return current_app.extensions["shopify_sandbox"]


def respond(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(jsonio.dumps(obj), status=status, headers=headers or {},
                    content_type="application/json; charset=utf-8")


NOT_FOUND = {"errors": "Not Found"}
MYSHOPIFY = ".myshopify.com"


def named_shop(path_shop: str | None = None) -> str | None:
    """The shop domain the request names – the ``/shops/{shop}`` prefix, else a ``*.myshopify.com``
    Host (``.localhost`` suffix allowed) – or None when it names none.  A bare path name
    (``/shops/acme``) means ``acme.myshopify.com``."""
    if path_shop:
        name = path_shop.lower()
        return name if "." in name else name + MYSHOPIFY
    host = (request.host or "").split(":")[0].lower()
    if host.endswith(".localhost"):
        host = host[: -len(".localhost")]
    return host if host.endswith(MYSHOPIFY) and len(host) > len(MYSHOPIFY) else None


def shop_from_request(path_shop: str | None = None):
    """``(named, shop)``: the domain the request names (or None) and that shop if the store has it."""
    named = named_shop(path_shop)
    if named is None:
        return None, None
    store = ctx().store
    return named, store.shop(named) or (store.shop(path_shop) if path_shop else None)


def public_base_url() -> str:
    """Where clients reach this sandbox (for bulk result URLs): ``settings.public_url``, else the
    Host header unless it is a shop domain, else the address the server is bound to."""
    if ctx().settings.public_url:
        return ctx().settings.public_url.rstrip("/")
    if named_shop() is None:
        return request.host_url.rstrip("/")
    host = request.environ.get("SERVER_NAME", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"{request.scheme}://{host}:{request.environ.get('SERVER_PORT', '80')}"


def resolve_version(requested: str) -> str:
    """Shopify serves unsupported versions with the oldest supported stable one ("fall forward")."""
    supported = ctx().settings.supported_api_versions
    if requested in supported:
        return requested
    return next(v for v in supported if v != "unstable")


# ------------------------------------------------------------------------------------------ OAuth


@bp.post("/admin/oauth/access_token")
@bp.post("/shops/<path_shop>/admin/oauth/access_token")
def access_token(path_shop: str | None = None):
    if request.is_json:
        params = jsonio.loads(request.get_data() or b"{}") or {}
    else:
        params = request.form.to_dict() or request.args.to_dict()
    client_id = params.get("client_id")
    named, shop = shop_from_request(path_shop)
    if named is not None and shop is None:
        return respond(NOT_FOUND, 404)
    if shop is None and client_id:
        candidates = [s for s in ctx().store.shops_with_client_id(client_id)
                      if s.client_secret == params.get("client_secret")]
        if len(candidates) > 1:
            return respond({"error": "invalid_request", "error_description":
                            "Several sandbox shops have this app installed; name the shop in the Host header "
                            "or call /shops/{shop}/admin/oauth/access_token."}, 400)
        shop = candidates[0] if candidates else None
    if shop is None:
        return respond(NOT_FOUND, 404)
    if client_id != shop.client_id or params.get("client_secret") != shop.client_secret:
        return respond({"error": "invalid_client",
                        "error_description": "Client authentication failed: wrong client_id or client_secret."}, 400)
    if not shop.installed:
        return respond({"error": "invalid_client", "error_description": "The app is not installed on this shop."}, 400)
    grant = params.get("grant_type")
    tokens = ctx().tokens
    try:
        if grant == "client_credentials":
            return respond(tokens.client_credentials(shop))
        if grant == "refresh_token":
            return respond(tokens.refresh(shop, params.get("refresh_token")))
    except TokenError as err:
        return respond(err.body, err.status)
    return respond({"error": "unsupported_grant_type",
                    "error_description": f"grant_type {grant!r} is not supported by the sandbox."}, 400)


# ------------------------------------------------------------------------------------------ GraphQL


@bp.post("/admin/api/<version>/graphql.json")
@bp.post("/shops/<path_shop>/admin/api/<version>/graphql.json")
def graphql(version: str, path_shop: str | None = None):
    c = ctx()
    served = resolve_version(version)
    headers = {"X-Shopify-API-Version": served}
    named, target = shop_from_request(path_shop)
    if named is not None and target is None:
        return respond(NOT_FOUND, 404, headers)
    token = c.tokens.authenticate(request.headers.get("X-Shopify-Access-Token"))
    if token is None or (target is not None and target.domain != token.shop):
        if target is not None:
            c.tokens.count(target.domain, "unauthorized")
        return respond(INVALID_TOKEN, 401, headers)
    shop = c.store.shop(token.shop)
    if shop is None or not shop.installed:
        c.tokens.count(token.shop, "unauthorized")
        return respond(INVALID_TOKEN, 401, headers)
    try:
        body = jsonio.loads(request.get_data() or b"{}")
    except ValueError:
        body = None
    if request.content_type and request.content_type.startswith("application/graphql"):
        body = {"query": request.get_data(as_text=True)}
    if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
        return respond({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers)
    variables = body.get("variables") or {}
    operation_name = body.get("operationName")
    bucket = c.buckets.get(token.client_id, shop.domain)

    def cost_ext(requested, actual):
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": bucket.status()}}

    document, errors = c.graphql.prepare(body["query"])
    if errors:
        return respond({"errors": errors, "extensions": cost_ext(0, 0)}, 200, headers)
    requested = c.graphql.requested_cost(document, operation_name, variables)
    limit = c.settings.max_query_cost
    if requested > limit:
        message = (f"Query cost is {requested}, which exceeds the single query max cost limit ({limit}).\n\n"
                   "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                   "cost of a query is calculated.\n\n"
                   "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
                   "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n")
        return respond({"errors": [{"message": message, "extensions": {
            "code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": limit, "documentation": THROTTLED_DOC}}],
            "extensions": cost_ext(requested, None)}, 200, headers)
    if not bucket.take(requested):
        status = c.settings.throttled_http_status
        if status == 429:  # the other reading (§3.2, unconfirmed): REST's status and Retry-After
            wait = max(0.0, requested - bucket.status()["currentlyAvailable"]) / bucket.rate
            headers = {**headers, "Retry-After": f"{wait:.3f}"}
        return respond({"errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": THROTTLED_DOC}}],
            "extensions": cost_ext(requested, None)}, status, headers)
    data, errors, actual = c.graphql.execute(document, shop, variables, operation_name,
                                             client_id=token.client_id, base_url=public_base_url())
    actual = min(actual, requested)
    bucket.give_back(requested - actual)
    out = {}
    if errors:
        out["errors"] = errors
    out["data"] = data
    out["extensions"] = cost_ext(requested, actual)
    return respond(out, 200, headers)
