"""``customers/merge``: Shopify merged two customers; the merged-away one's later documents bill the
survivor's Fusion customer, and nothing booked moves.

An accountant does not want history moved silently: invoices, credit memos and receipts already
booked to the merged-away customer's Fusion account stay there (a refund of such an order still
credits its own invoice, on that account). What changes is only where a document made *after* the
merge goes: an order event that still names the merged-away customer (one placed before the merge
and delivered or replayed after it) bills the survivor. The link is kept in ``customer_merges``
and written to the audit trail (``customer.merged``) with both Fusion accounts, so that a person
who wants the history moved too can merge the accounts in Fusion, knowingly.

The webhook's body is not in the reference the connector was built from; it is read as
``admin_graphql_api_customer_kept_id`` / ``admin_graphql_api_customer_deleted_id`` (with ``status``
and ``errors`` for a merge that failed). Because that shape is unconfirmed, nothing is taken on its
word alone: the Admin API must show the survivor and must no longer know the merged-away
customer, or the event parks with what it found.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector import audit
from connector.db import before_remote_call
from connector.mapping.invoice import MappingError
from connector.models import BindingKind, CustomerMerge, Shop
from connector.services import bindings
from connector.services.context import Services
from connector.shopify.order_payload import read_customer

KEPT = "admin_graphql_api_customer_kept_id"
DELETED = "admin_graphql_api_customer_deleted_id"
_CUSTOMER_GID = re.compile(r"gid://shopify/Customer/(\d+)")
#: More links than this in one chain (A into B, B into C …) is a loop or a mistake, not a history.
MAX_HOPS = 20


@dataclass(frozen=True)
class Merge:
    merged_id: str
    merged_gid: str
    surviving_id: str
    surviving_gid: str


def parse(payload: dict) -> Merge | None:
    """The merge the body reports; ``None`` for a merge Shopify says did not complete."""
    status = str(payload.get("status") or "completed").strip().lower()
    if status != "completed":
        return None
    kept, deleted = _customer_id(payload.get(KEPT)), _customer_id(payload.get(DELETED))
    if kept is None or deleted is None:
        raise MappingError(f"the customers/merge body names no customer GIDs in {KEPT} and {DELETED}")
    if kept == deleted:
        raise MappingError(f"the customers/merge body merges customer {kept} into itself")
    return Merge(deleted, _gid(deleted), kept, _gid(kept))


def handle(services: Services, session: Session, shop: Shop, payload: dict) -> str:
    """Record the link once, after the Admin API confirmed it; returns a note for a failed merge."""
    merge = parse(payload)
    if merge is None:
        return f"Shopify reports the merge as {payload.get('status')}: no customer changed"
    known = _link(session, shop.id, merge.merged_id)
    if known is not None and known.surviving_id == merge.surviving_id:
        session.commit()
        return ""
    client = services.shopify(session, shop)
    before_remote_call(session)
    if read_customer(client, merge.surviving_gid) is None:
        raise MappingError(f"Shopify has no customer {merge.surviving_gid}, the survivor of the merge of "
                           f"{merge.merged_gid}: the merge is not recorded")
    if read_customer(client, merge.merged_gid) is not None:
        raise MappingError(f"Shopify still has customer {merge.merged_gid}, reported merged into "
                           f"{merge.surviving_gid}: the merge is not recorded; replay once Shopify shows it")
    _record(session, shop, merge)
    return ""


def survivor(session: Session, shop_id: int, customer_id: str) -> Merge | None:
    """Where the customer's documents go now: the end of its chain of merges; ``None`` if it was
    never merged away."""
    link, seen = _link(session, shop_id, customer_id), {customer_id}
    if link is None:
        return None
    end = link
    while (following := _link(session, shop_id, end.surviving_id)) is not None:
        if following.surviving_id in seen or len(seen) > MAX_HOPS:
            raise MappingError(f"the customer merges from {link.merged_gid} go round in a loop: fix customer_merges")
        seen.add(following.surviving_id)
        end = following
    return Merge(customer_id, link.merged_gid, end.surviving_id, end.surviving_gid)


def _record(session: Session, shop: Shop, merge: Merge) -> None:
    merged = bindings.find(session, shop.id, BindingKind.customer, merge.merged_id)
    surviving = bindings.find(session, shop.id, BindingKind.customer, merge.surviving_id)
    known = _link(session, shop.id, merge.merged_id)
    if known is None:
        session.add(CustomerMerge(shop_id=shop.id, merged_id=merge.merged_id, merged_gid=merge.merged_gid,
                                  surviving_id=merge.surviving_id, surviving_gid=merge.surviving_gid))
    else:  # a later webhook names another survivor, and the Admin API confirmed that one
        known.surviving_id, known.surviving_gid = merge.surviving_id, merge.surviving_gid
    audit.record(session, "customer.merged", shop_id=shop.id, subject_kind=BindingKind.customer.value,
                 subject_id=merge.merged_id, merged=merge.merged_gid, surviving=merge.surviving_gid,
                 merged_account=merged.fusion_number if merged else "",
                 surviving_account=surviving.fusion_number if surviving else "",
                 booked="stays on the merged-away customer's account")
    try:
        session.commit()
    except IntegrityError:  # another worker recorded the same merge first
        session.rollback()


def _link(session: Session, shop_id: int, customer_id: str) -> CustomerMerge | None:
    return session.scalar(select(CustomerMerge).where(CustomerMerge.shop_id == shop_id,
                                                      CustomerMerge.merged_id == customer_id))


def _customer_id(value) -> str | None:
    match = _CUSTOMER_GID.fullmatch(str(value or "").strip())
    return match.group(1) if match else None


def _gid(customer_id: str) -> str:
    return f"gid://shopify/Customer/{customer_id}"
