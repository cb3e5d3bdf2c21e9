"""Shopify's mandatory compliance webhooks, acted on as soon as the event is processed.

- ``customers/data_request``: the export of what the connector holds about the customer is
  written to ``MLC_PRIVACY_EXPORT_DIR/<shop>/`` for the merchant to pass on; the audit trail
  records that it was made (file name, size of each part, digest), not what it holds.
- ``customers/redact``: the customer's personal data is erased from the connector's tables,
  the request's own stored body included (:mod:`connector.services.erasure`).
- ``shop/redact``: the same for every customer of the shop, and the shop's credentials go.

Their bodies name a shop and a customer, not an object: ``shop_id``, ``shop_domain``,
``customer`` {id, email, phone}, ``orders_requested`` or ``orders_to_redact``, ``data_request``
{id}. Each handler commits its own work in one transaction, so a failure leaves nothing half done
and the retry starts over.
"""
from __future__ import annotations

import re

from sqlalchemy.orm import Session

from connector import audit
from connector.models import BindingKind, Shop, utcnow
from connector.services import erasure, exports, footprint
from connector.services.context import Services

NO_CUSTOMER = "the request names no customer (no id, email address or order): nothing to do"
OTHER_SHOP = "the request's shop_domain is not the shop that signed it: not acted on"
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_DIRECTORY = re.compile(r"[^a-z0-9.-]|^\.+")


def handle_data_request(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    request = _customer_request(shop, payload, "orders_requested")
    if isinstance(request, str):
        return request
    document = exports.build(session, services.keyring, shop, request)
    session.commit()
    written = exports.write(services.settings.privacy_export_dir / _DIRECTORY.sub("_", shop.domain),
                            _file_name(payload, request), document)
    audit.record(session, "privacy.exported", shop_id=shop.id, subject_kind=BindingKind.customer.value,
                 subject_id=request.customer_id, data_request_id=_data_request_id(payload),
                 file=written.path.name, sha256=written.sha256, **written.counts)
    session.commit()
    return ""


def handle_customer_redact(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    request = _customer_request(shop, payload, "orders_to_redact")
    if isinstance(request, str):
        return request
    erasure.erase_customer(session, shop, request)
    session.commit()
    return ""


def handle_shop_redact(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    if not _for_shop(shop, payload):
        return OTHER_SHOP
    erasure.erase_shop(session, shop)
    session.commit()
    return ""


def _customer_request(shop: Shop, payload: dict, orders_key: str) -> footprint.Request | str:
    """Whom the request is about, or why it is not acted on (kept ``deferred`` with that note)."""
    if not _for_shop(shop, payload):
        return OTHER_SHOP
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    orders = payload.get(orders_key) if isinstance(payload.get(orders_key), list) else []
    request = footprint.Request.of(customer.get("id"), customer.get("email"), orders, customer.get("phone"))
    return NO_CUSTOMER if request.empty else request


def _for_shop(shop: Shop, payload: dict) -> bool:
    named = payload.get("shop_domain")
    return named is None or str(named).strip().lower() == shop.domain


def _data_request_id(payload: dict) -> str:
    data_request = payload.get("data_request") if isinstance(payload.get("data_request"), dict) else {}
    return _SAFE.sub("", str(data_request.get("id") or ""))


def _file_name(payload: dict, request: footprint.Request) -> str:
    """``data-request-<id>.json``; without an id, by customer id (never the email) and time."""
    request_id = _data_request_id(payload)
    if request_id:
        return f"data-request-{request_id}.json"
    who = _SAFE.sub("", request.customer_id) or "by-email"
    return f"customer-{who}-{utcnow():%Y%m%dT%H%M%S%f}.json"
