"""SOAP business services: ``/crmService/CustomerAccountService``,
``/fscmService/CreditMemoService`` and ``/fscmService/StandardReceiptService``.

Fusion dispatches on the body's first element (any SOAPAction is accepted), requires the
operation in the service's *types* namespace and the SDO fields in the service namespace, and
reports every business error as HTTP 500 with an ADF ``ServiceErrorMessage``.
"""
from __future__ import annotations

import hmac
from typing import Callable

from flask import Blueprint, request

from . import customers
from .auth import unauthorized
from .errors import ServiceFault, record_missing
from .query import DATE, DATETIME, NUM, STR, coerce, like
from .rest_common import pod
from .soap_xml import (
    WSSE, fault_response, parameter, parse_envelope, parse_find_criteria, result_response,
    sdo_to_dict, sdo_xml, split, text_of,
)

bp = Blueprint("fusion_soap", __name__)

CA_NS = "http://xmlns.oracle.com/apps/cdm/foundation/parties/customerAccountService/"
CA_TYPES = CA_NS + "applicationModule/types/"
CA_ACTION = CA_NS + "applicationModule/"
CA_REPEATABLE = {"CustomerAccountSite", "CustomerAccountSiteUse", "CustomerAccountContact",
                 "CustomerAccountRelationship", "OriginalSystemReference"}
_ACCOUNT_KINDS = {"CustomerAccountId": NUM, "PartyId": NUM, "LastUpdateDate": DATETIME,
                  "CreationDate": DATETIME, "AccountEstablishedDate": DATE,
                  "AccountTerminationDate": DATE}

SERVICES: dict[str, dict] = {}
# which family (URL segment) serves each service; a service under the other family is a 404
SERVICE_FAMILIES = {"CustomerAccountService": "crmService", "CreditMemoService": "fscmService",
                    "StandardReceiptService": "fscmService"}


def operation(service: str, types_ns: str, name: str):
    def register(fn: Callable):
        SERVICES.setdefault(service, {})[(types_ns, name)] = fn
        return fn
    return register


def _soap_authenticated(header) -> bool:
    """Basic or Bearer (as REST), or a wsse:UsernameToken for the configured user."""
    from flask import g
    if g.get("fusion_user"):
        return True
    settings = pod().settings
    if header is None or not settings.soap_accepts_username_token:
        return False
    token = header.find(f".//{{{WSSE}}}UsernameToken")
    if token is None:
        return False
    user = text_of(token, WSSE, "Username") or ""
    password = text_of(token, WSSE, "Password") or ""
    ok = hmac.compare_digest(user, settings.basic_username) and \
        hmac.compare_digest(password, settings.basic_password)
    if ok:
        g.fusion_user = user.upper()
    return ok


@bp.post("/<any(crmService, fscmService):family>/<service>")
def soap_endpoint(family, service):
    if SERVICE_FAMILIES.get(service) != family:
        return "Not Found", 404
    try:
        header, op_el = parse_envelope(request.get_data())
    except ServiceFault as fault:
        return fault_response(fault)
    if not _soap_authenticated(header):
        return unauthorized()
    ns, local = split(op_el.tag)
    handler = SERVICES.get(service, {}).get((ns, local))
    if handler is None:
        return fault_response(ServiceFault("env:Client", f"Unknown method {op_el.tag}"))
    try:
        with pod().store.lock:
            return handler(op_el)
    except ServiceFault as fault:
        return fault_response(fault)


# --- CustomerAccountService ----------------------------------------------------------------------
def account_xml(account: dict, find_attributes: list[str] | None = None) -> str:
    fields = {a: account[a] for a in customers.ACCOUNT_ATTRS}
    if find_attributes:
        fields = {a: v for a, v in fields.items() if a in find_attributes}
        if "CustomerAccountSite" not in find_attributes:
            return sdo_xml("ns1", fields)
    sites = []
    for site in account["sites"]:
        s = {a: site[a] for a in customers.SITE_ATTRS}
        s["CustomerAccountSiteUse"] = [{a: use[a] for a in customers.SITE_USE_ATTRS}
                                       for use in site["CustomerAccountSiteUse"]]
        sites.append(s)
    fields["CustomerAccountSite"] = sites
    return sdo_xml("ns1", fields)


def _respond(op: str, values_xml: list[str], result_type: str = "CustomerAccountResult"):
    """A CustomerAccountService answer: each value wrapped in ``Value`` for *Result types."""
    inner = "".join(f"<ns1:Value>{v}</ns1:Value>" for v in values_xml) \
        if result_type.endswith("Result") else "".join(values_xml)
    return result_response(CA_TYPES, CA_NS, op, result_type, inner, CA_ACTION)


@operation("CustomerAccountService", CA_TYPES, "createCustomerAccount")
def create_customer_account(op_el):
    param = parameter(op_el, CA_TYPES, "customerAccount")
    account = customers.create_account(sdo_to_dict(param, CA_NS, CA_REPEATABLE))
    return _respond("createCustomerAccount", [account_xml(account)])


@operation("CustomerAccountService", CA_TYPES, "mergeCustomerAccount")
def merge_customer_account(op_el):
    param = parameter(op_el, CA_TYPES, "customerAccount")
    account = customers.merge_account(sdo_to_dict(param, CA_NS, CA_REPEATABLE))
    return _respond("mergeCustomerAccount", [account_xml(account)])


@operation("CustomerAccountService", CA_TYPES, "getCustomerAccount")
def get_customer_account(op_el):
    account_id = text_of(op_el, CA_TYPES, "customerAccountId")
    account = customers.get_account(account_id)
    return _respond("getCustomerAccount", [account_xml(account)], "CustomerAccount")


@operation("CustomerAccountService", CA_TYPES, "getCustomerAccountByOriginalSystemReference")
def get_by_orig_ref(op_el):
    system = text_of(op_el, CA_TYPES, "bindOrigSystem")
    ref = text_of(op_el, CA_TYPES, "bindOrigSystemReference")
    if not system or not ref:
        raise ServiceFault("env:Client", "bindOrigSystem and bindOrigSystemReference are required.")
    account = pod().store.account_by_orig_ref(system, ref)
    if account is None and pod().settings.orig_ref_lookup_missing_faults:
        raise record_missing(f"The record for original system reference {ref} of {system} "
                             "doesn't exist.")
    crit = parse_find_criteria(op_el.find(f"{{{CA_TYPES}}}findCriteria"))
    values = [account_xml(account, crit["findAttribute"])] if account else []
    return _respond("getCustomerAccountByOriginalSystemReference", values)


def _item_matches(item: dict, account: dict) -> bool:
    attr = item["attribute"]
    if attr not in customers.ACCOUNT_ATTRS:
        raise ServiceFault("27021", f"JBO-27021: The attribute {attr} isn't valid for "
                           "CustomerAccount.", [{"message": f"Unknown attribute {attr}",
                                                 "attributeName": attr}])
    kind = _ACCOUNT_KINDS.get(attr, STR)
    raw = account.get(attr)
    op = (item["operator"] or "=").upper()
    if op == "ISNULL":
        return raw in (None, "")
    if op == "ISNOTNULL":
        return raw not in (None, "")
    if not item["values"]:
        raise ServiceFault("env:Client", f"The filter item on {attr} has no value.")
    value = coerce(kind, raw, attr) if raw is not None else None
    targets = [coerce(kind, v, attr) for v in item["values"]]
    if item["upper"] and kind == STR:
        value = value.upper() if value is not None else None
        targets = [t.upper() for t in targets]
    if value is None:
        return False
    target = targets[0]
    if op == "=":
        return value == target
    if op == "<>":
        return value != target
    if op == ">":
        return value > target
    if op == ">=":
        return value >= target
    if op == "<":
        return value < target
    if op == "<=":
        return value <= target
    if op == "LIKE":
        return like(str(target), value)
    if op == "STARTSWITH":
        return str(value).startswith(str(target))
    if op == "CONTAINS":
        return str(target) in str(value)
    if op == "BETWEEN":
        return len(targets) >= 2 and targets[0] <= value <= targets[1]
    if op == "IN":
        return value in targets
    raise ServiceFault("env:Client", f"The filter operator {item['operator']} isn't supported.")


def _combine(results: list[tuple[str, bool]]) -> bool:
    """Left-to-right And/Or as the ADF view criteria apply item conjunctions."""
    if not results:
        return True
    value = results[0][1]
    for conj, r in results[1:]:
        value = (value or r) if conj.lower() == "or" else (value and r)
    return value


@operation("CustomerAccountService", CA_TYPES, "findCustomerAccount")
def find_customer_account(op_el):
    crit = parse_find_criteria(op_el.find(f"{{{CA_TYPES}}}findCriteria"))
    accounts = sorted(pod().store.accounts.values(), key=lambda a: a["CustomerAccountId"])
    matched = []
    for account in accounts:
        group_results = []
        for group in crit["groups"]:
            items = [(item["conjunction"], _item_matches(
                {**item, "upper": item["upper"] or group["upper"]}, account)) for item in group["items"]]
            group_results.append((group["conjunction"], _combine(items)))
        if _combine(group_results):
            matched.append(account)
    start = max(crit["fetchStart"], 0)
    size = crit["fetchSize"]
    page = matched[start:] if size is None or size < 0 else matched[start:start + size]
    values = [account_xml(a, crit["findAttribute"]) for a in page]
    return _respond("findCustomerAccount", values)
