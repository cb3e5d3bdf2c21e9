"""Re-reading a delivery's object from the Admin API before anything reaches Fusion (per shop).

A webhook body is signed with the app's secret, but the workers build documents from it: a leaked
secret, or a delivery replayed long after the order changed, would become an invoice as it stands
in the body. A shop with ``reread_from_admin`` on has its order, refund and customer events acted
on as Shopify's Admin API shows the object now (through :mod:`connector.shopify.order_payload`,
the same conversion reconciliation uses), so only what the shop really holds becomes a document.
It costs one to three GraphQL reads per event, charged to the shop's cost budget.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from connector import flows
from connector.mapping.invoice import MappingError
from connector.models import BindingKind, Shop
from connector.services.context import Services
from connector.shopify.order_payload import read_customer, read_order, read_refund

_READERS = {BindingKind.order.value: read_order, BindingKind.refund.value: read_refund,
            BindingKind.customer.value: read_customer}


def rereads(shop: Shop, topic: str, source: str) -> bool:
    """Whether this event's object is read again: the shop asks for it, the topic's body becomes a
    document, and the event did not come from the Admin API already (reconciliation, backfill)."""
    return bool(shop.reread_from_admin) and topic in flows.DOCUMENT_TOPICS and source == "webhook"


def admin_copy(services: Services, session: Session, shop: Shop, topic: str, body: dict) -> dict:
    """The event's object as the shop's Admin API holds it now, in the webhook's shape.

    An object the shop does not have (a forged body, or one deleted since) parks the event with
    the reason: nothing of it is written to Fusion."""
    gid = body.get("admin_graphql_api_id")
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        raise MappingError(f"the {topic} delivery names no admin_graphql_api_id to read again from the Admin API")
    client = services.shopify(session, shop)
    session.commit()  # no transaction held open across the Admin API calls
    fresh = _READERS[flows.kind_of(topic)](client, gid)
    if fresh is None:
        raise MappingError(f"the Admin API of {shop.domain} has no {gid}: the {topic} delivery is not acted on "
                           "(forged, or the object was deleted since)")
    return fresh
