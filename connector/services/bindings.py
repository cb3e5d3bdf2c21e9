"""Bindings: the single row that says what one Shopify object became in Fusion."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector import jsonutil
from connector.models import Binding, BindingState


def get_or_create(session: Session, shop_id: int, kind: str, shopify_id: str, gid: str = "") -> Binding:
    """The binding for (shop, kind, id), created if missing; safe when workers race to create it.

    It returns with no transaction open: callers go on to wait for the object's lock, and
    waiting for one lock while holding another (SQLite's write lock) is how deadlocks start.
    """
    binding = find(session, shop_id, kind, shopify_id)
    if binding is None:
        # one statement whoever wins the race (no savepoint and its two round trips), then the row
        session.execute(_INSERTS[session.get_bind().dialect.name],
                        {"shop_id": shop_id, "kind": kind, "shopify_id": shopify_id, "shopify_gid": gid})
        binding = find(session, shop_id, kind, shopify_id)
    session.commit()
    return binding


# The look-ups every task makes, built once: building a statement and computing its cache key
# cost more CPU than running it (BENCHMARKS.md, "Worker CPU per order").
_ONE = (Binding.shop_id == bindparam("shop_id"), Binding.kind == bindparam("kind"),
        Binding.shopify_id == bindparam("shopify_id"))
_FIND = select(Binding).where(*_ONE)
_INSERTS = {name: insert(Binding.__table__).on_conflict_do_nothing(index_elements=["shop_id", "kind", "shopify_id"])
            for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))}
_SETTLED = select(Binding.state, Binding.settled_version).where(*_ONE)


def find(session: Session, shop_id: int, kind: str, shopify_id: str) -> Binding | None:
    return session.scalar(_FIND, {"shop_id": shop_id, "kind": kind, "shopify_id": shopify_id})


def digest(payload: dict) -> str:
    """A stable fingerprint of a payload, to tell a real change from a repeat."""
    return hashlib.sha256(jsonutil.dumps(_without_noise(payload)).encode()).hexdigest()


def version(payload: dict) -> str:
    """A fingerprint of one exact version of a payload, its update time included: two
    deliveries of the same state share it, an edit and its undoing do not."""
    return hashlib.sha256(jsonutil.dumps(payload).encode()).hexdigest()


def settle(session: Session, binding: Binding, payload: dict) -> None:
    """Remember that every effect of this version of the object is in Fusion. Only this column
    is written, so no other worker's change to the binding is overwritten."""
    session.execute(update(Binding).where(Binding.id == binding.id).values(settled_version=version(payload)))
    # (a slower worker settling an older version may overwrite a newer one: that only costs a
    # repeat of the newer one its shortcut, never a skipped effect)
    session.commit()


def is_settled(session: Session, shop_id: int, kind: str, shopify_id: str, payload: dict) -> bool:
    return settles(seen(session, shop_id, kind, shopify_id), payload)


def seen(session: Session, shop_id: int, kind: str, shopify_id: str) -> Row | None:
    """The binding's state and settled version as the row holds them now (``None``: no binding),
    not as an object the session may hold from before another worker settled it."""
    row = session.execute(_SETTLED, {"shop_id": shop_id, "kind": kind, "shopify_id": shopify_id}).first()
    session.commit()
    return row


def settles(row: Row | None, payload: dict) -> bool:
    """Whether that row says every effect of this version of the object is in Fusion."""
    return row is not None and row.state == BindingState.synced and row.settled_version == version(payload)


def _without_noise(payload: dict) -> dict:
    return {k: v for k, v in sorted(payload.items()) if k not in ("updated_at",)}


def _instant(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def is_older(stamp: str | None, than: str | None) -> bool:
    """True when Shopify timestamp ``stamp`` is strictly earlier than ``than``."""
    if not stamp or not than:
        return False
    try:
        return _instant(stamp) < _instant(than)
    except ValueError:
        return False


def latest(current: str, seen: str | None) -> str:
    return seen if seen and (not current or is_older(current, seen)) else current


def is_stale(binding: Binding, updated_at: str | None) -> bool:
    """True when ``updated_at`` is older than a version of the object already seen."""
    return is_older(updated_at, binding.shopify_updated_at)


def park(session: Session, shop_id: int, kind: str, shopify_id: str, message: str, *,
         claim: datetime | None = None) -> None:
    """Mark the object's binding as waiting for a fix, unless Fusion has, or may have, its document.

    A conditional update, so that it cannot overwrite a state another worker wrote meanwhile:
    ``synced`` is never touched, and ``creating`` only by the holder of that create's ``claim``
    who knows Fusion refused it (otherwise the next attempt must look it up before posting).
    """
    mine = Binding.shop_id == shop_id, Binding.kind == kind, Binding.shopify_id == shopify_id
    parkable = Binding.state.in_([BindingState.pending, BindingState.parked])
    if claim is not None:
        parkable = parkable | ((Binding.state == BindingState.creating) & (Binding.claimed_until == claim))
    session.execute(update(Binding).where(*mine, parkable)
                    .values(state=BindingState.parked, claimed_until=None, last_error=message))
    session.execute(update(Binding).where(*mine, Binding.state == BindingState.creating)
                    .values(last_error=message))
    session.commit()


def release_claim(session: Session, binding_id: int, claim: datetime) -> None:
    """Give back this worker's claim on a create (never a newer claim of another worker)."""
    session.execute(update(Binding).where(Binding.id == binding_id, Binding.claimed_until == claim)
                    .values(claimed_until=None))
    session.commit()


def skip(session: Session, shop_id: int, kind, shopify_id: str, gid: str, reason: str,
         refs: dict | None = None) -> bool:
    """Record that the object needs no Fusion document, unless it has or may have one already.

    The binding then answers those that depend on the object (a refund of an order without an
    invoice, a later refund waiting for this one) instead of leaving them waiting; ``refs`` is
    what they need to know of it.
    """
    binding = get_or_create(session, shop_id, kind, shopify_id, gid)
    skipped = session.execute(update(Binding).where(
        Binding.id == binding.id, Binding.state.in_([BindingState.pending, BindingState.parked]))
        .values(state=BindingState.skipped, last_error=reason,
                **({"fusion_refs": refs} if refs is not None else {}))).rowcount == 1
    session.commit()
    return skipped
