"""Whether the connector may talk to a shop: "ok", or "reauthorize" once the app is revoked.

A shop is revoked when Shopify refuses its refresh token or client credentials (``invalid_grant``,
``invalid_client``), refuses a token that cannot be refreshed or a freshly refreshed one (401),
or says so (``app/uninstalled``). Retrying cannot cure any of these, so the shop's work stops:
its events park with :data:`PARKED_NOTE` instead of failing in a loop, ``status`` and ``ping``
show why, and ``ml-connector shops token`` installs a fresh token, clears the state and replays
what parked meanwhile.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector import audit
from connector.models import AuthState, InboxEvent, InboxState, Shop, utcnow

#: The start of a parked event's message: what ``shops token`` looks for to replay it.
PARKED_NOTE = "shop needs reauthorization"
UNINSTALLED = "the app was uninstalled (app/uninstalled)"


def advice(domain: str) -> str:
    return f"install a fresh token with `ml-connector shops token {domain}`"


def parked_message(shop: Shop) -> str:
    return (f"{PARKED_NOTE}: {shop.domain}: {shop.auth_reason or 'the app was revoked'}; "
            f"{advice(shop.domain)} (events parked meanwhile are replayed then)")


def needs_reauthorization(shop: Shop) -> bool:
    return shop.auth_state == AuthState.reauthorize.value


def mark_reauthorize(session: Session, shop_id: int, reason: str) -> bool:
    """Record that the shop must be authorized again; True when this changed its state. The
    caller commits."""
    changed = session.execute(
        update(Shop).where(Shop.id == shop_id, Shop.auth_state != AuthState.reauthorize.value)
        .values(auth_state=AuthState.reauthorize.value, auth_reason=reason[:1000], auth_changed_at=utcnow())
    ).rowcount
    if changed:
        audit.record(session, "shop.reauthorization_required", shop_id=shop_id, reason=reason)
    return bool(changed)


def clear(session: Session, shop: Shop) -> None:
    if shop.auth_state != AuthState.ok.value:
        audit.record(session, "shop.reauthorized", shop_id=shop.id, previous_reason=shop.auth_reason)
    shop.auth_state, shop.auth_reason, shop.auth_changed_at = AuthState.ok.value, "", utcnow()


def parked_for_reauthorization(session: Session, shop_id: int) -> list[int]:
    """The shop's events parked because it needed reauthorization, oldest first."""
    return list(session.scalars(select(InboxEvent.id).where(
        InboxEvent.shop_id == shop_id, InboxEvent.state == InboxState.parked,
        InboxEvent.last_error.like(f"{PARKED_NOTE}:%")).order_by(InboxEvent.id)))


def handle_uninstalled(services, session: Session, shop: Shop, payload: dict) -> str:
    """``app/uninstalled``: the token stopped working the moment it was sent (reference §1.5)."""
    named = str(payload.get("myshopify_domain") or payload.get("domain") or "").strip().lower()
    if named and named != shop.domain:
        return f"app/uninstalled names {named}, not this shop"
    mark_reauthorize(session, shop.id, UNINSTALLED)
    session.commit()
    return ""
