"""Shopify reconciliation: what a lost webhook should have brought is enqueued all the same.

Shopify says plainly that webhooks get lost. Beat runs this every ``MLC_SHOPIFY_RECONCILE_EVERY``
seconds over every shop (``ml-connector reconcile-shopify`` runs it by hand): the orders (with
their refunds) and customers Shopify lists as updated in the last ``MLC_SHOPIFY_RECONCILE_DAYS``
days are compared with what the connector has seen of them, the newest ``updated_at`` of their
binding and of their inbox events:

- an object never seen (no binding, no event) is **missing**;
- an order or customer whose ``updated_at`` is newer than any version seen is **stale**;
- a refund is either seen or missing (Shopify does not change a refund once made);
- a cancelled order whose ``orders/cancelled`` was never received gets that event too.

Each one is read over GraphQL, turned into its webhook's REST body
(:mod:`connector.shopify.order_payload`) and stored in the inbox (``source = reconcile``) under
the topic its webhook has (:data:`connector.flows.RECONCILED`), then sent to its pool like any delivery: the same
flow, the same exactly-once claims. Its event id names the version, so a second run stores
nothing twice; an order's events go before its refunds'. A customer a binding knows without a
version (bound through an order) counts as seen.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit, flows, jsonutil
from connector.models import Binding, BindingKind, InboxEvent, InboxState, Shop
from connector.services import bindings, inbox
from connector.shopify import order_payload, search
from connector.shopify.client import ShopifyClient, ShopifyError

log = logging.getLogger(__name__)

#: ``send(session, inbox_id, topic)``: sends the event's task once the session commits
#: (:func:`workers.dispatch.send_after_commit`).
Send = Callable[[Session, int, str], object]


@dataclass(frozen=True)
class Found:
    """One object reconciliation enqueued (or would have: ``inbox_id`` None when its version was
    stored by a run racing this one)."""

    kind: str             # order, refund, customer
    shopify_id: str
    reason: str           # missing, stale
    topic: str
    updated_at: str
    inbox_id: int | None


@dataclass
class ShopResult:
    shop: str
    orders: int = 0                      # listed by Shopify as updated in the window
    refunds: int = 0
    customers: int = 0
    found: list[Found] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # objects too large to read back: left to their webhooks
    error: str = ""

    @property
    def enqueued(self) -> int:
        return sum(1 for f in self.found if f.inbox_id is not None)


def run(services, session: Session, send: Send, *, shop_domain: str | None = None,
        days: float | None = None) -> list[ShopResult]:
    """One reconciliation of every shop (or of ``shop_domain``) over the last ``days`` days."""
    days = services.settings.shopify_reconcile_days if days is None else days
    since = datetime.now(timezone.utc) - timedelta(days=days)
    query = select(Shop).order_by(Shop.id)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain.strip().lower())
    shops = session.scalars(query).all()
    session.commit()
    results = []
    for shop in shops:
        result = ShopResult(shop.domain)
        try:
            reconcile_shop(services, session, send, shop, since, result)
        except ShopifyError as exc:  # this shop now; the others still, and this one next run
            session.rollback()
            result.error = str(exc)[:500]
            log.warning("reconciliation of %s stopped: %s", shop.domain, result.error)
        if result.found or result.skipped or result.error:
            audit.record(session, "shopify.reconciled", shop_id=shop.id, since=since.isoformat(),
                         orders=result.orders, refunds=result.refunds, customers=result.customers,
                         enqueued=[f"{f.kind} {f.shopify_id} ({f.reason})" for f in result.found][:200],
                         skipped=result.skipped[:50], error=result.error)
            session.commit()
        results.append(result)
    return results


def reconcile_shop(services, session: Session, send: Send, shop: Shop, since: datetime,
                   result: ShopResult) -> None:
    client = services.shopify(session, shop)
    session.commit()  # no transaction stays open across the calls to Shopify
    run = Run(services, session, send, shop, client, result)
    for listed in search.customers_updated_since(client, since):
        result.customers += 1
        run.customer(listed)
    for listed in search.orders_updated_since(client, since):
        result.orders += 1
        result.refunds += len(listed.refunds)
        try:
            run.order(listed)
        except order_payload.TooLarge as exc:
            session.rollback()
            result.skipped.append(str(exc)[:300])


def reconcile_order(services, session: Session, send: Send, shop: Shop, client: ShopifyClient,
                    listed: search.ListedOrder) -> ShopResult:
    """One order (and its refunds) reconciled: what the report's ``--heal`` does for an order."""
    result = ShopResult(shop.domain, orders=1, refunds=len(listed.refunds))
    Run(services, session, send, shop, client, result).order(listed)
    return result


@dataclass
class Run:
    """One shop's reconciliation (or backfill: the same comparison, the same enqueueing)."""

    services: object
    session: Session
    send: Send
    shop: Shop
    client: ShopifyClient
    result: ShopResult
    source: str = "reconcile"   # or backfill (connector.services.backfill)
    #: Commit after each read and each event stored (reconciliation, which reads Shopify between
    #: them); False leaves the commit to the caller (a backfill commits a chunk of orders at once).
    commit_each: bool = True
    #: What :meth:`prefetch` found of a chunk's objects: their versions seen (bindings, events) and
    #: the topics stored for them; objects outside it are looked up one by one.
    _known: dict | None = field(default=None, repr=False)

    def prefetch(self, orders: list[search.ListedOrder]) -> None:
        """Look up what the connector has seen of these orders and their refunds in two queries,
        where :meth:`order` would ask three or four per order: a backfill's thousands of orders
        otherwise spend most of their time in these round trips. What live traffic stores after
        this is caught further on: the inbox's unique event ids and the flows' create-once claims."""
        ids = {o.id for o in orders} | {r.id for o in orders for r in o.refunds}
        kinds = {BindingKind.order, BindingKind.refund}
        known: dict = {"versions": {}, "topics": set(), "ids": ids, "kinds": kinds}
        for kind, shopify_id, updated_at in self.session.execute(
                select(Binding.kind, Binding.shopify_id, Binding.shopify_updated_at).where(
                    Binding.shop_id == self.shop.id, Binding.kind.in_(kinds), Binding.shopify_id.in_(ids))):
            known["versions"].setdefault((BindingKind(kind), shopify_id), {"binding": updated_at or "", "events": None})
        topic_kinds = {topic: kind for kind in kinds for topic in flows.topics_of(kind)}
        for topic, resource_id, body in self.session.execute(
                select(InboxEvent.topic, InboxEvent.resource_id, InboxEvent.body).where(
                    InboxEvent.shop_id == self.shop.id, InboxEvent.resource_id.in_(ids))):
            known["topics"].add((topic, resource_id))
            if topic in topic_kinds:
                seen = known["versions"].setdefault((topic_kinds[topic], resource_id), {"binding": None, "events": None})
                seen["events"] = (seen["events"] or []) + [_updated_at(body)]
        self._commit()
        self._known = known

    def order(self, listed: search.ListedOrder) -> None:
        unseen = {r.id for r in listed.refunds if not self._seen(BindingKind.refund, r.id)}
        reason = self._reason(BindingKind.order, listed)
        more = len(listed.refunds) >= search.REFUNDS_LISTED  # the listing may not show them all
        if reason is None and not unseen and not more:
            return
        order = (order_payload.order_from_listing(self.client, listed.whole) if listed.whole is not None
                 else order_payload.read_order(self.client, listed.gid))
        if order is None:  # deleted since it was listed
            return
        if more:
            unseen |= {str(r["id"]) for r in order["refunds"] if not self._seen(BindingKind.refund, str(r["id"]))}
        if reason is not None:
            self._enqueue(BindingKind.order, reason, listed.id, order["updated_at"], order)
        if order.get("cancelled_at") and not self._has(flows.RECONCILED_CANCELLATION, listed.id):
            self._enqueue(BindingKind.order, reason or "stale", listed.id, order["cancelled_at"], order,
                          topic=flows.RECONCILED_CANCELLATION)
        for refund in order["refunds"]:  # after their order, oldest first
            if str(refund["id"]) in unseen:
                self._enqueue(BindingKind.refund, "missing", str(refund["id"]), refund["created_at"], refund)

    def customer(self, listed: search.Listed, whole: dict | None = None) -> None:
        """``whole``: the customer as a listing read it (a backfill's bulk file), not read again."""
        reason = self._reason(BindingKind.customer, listed)
        if reason is None:
            return
        customer = (order_payload.customer_from_graphql(whole) if whole is not None
                    else order_payload.read_customer(self.client, listed.gid))
        if customer is None:
            return
        self._enqueue(BindingKind.customer, reason, listed.id, customer["updated_at"], customer)

    def _reason(self, kind: BindingKind, listed: search.Listed) -> str | None:
        """``missing``, ``stale`` or None (this version, or a newer one, has been seen)."""
        binding_version, versions = self._seen_versions(kind, listed.id)
        if binding_version is None and versions is None:
            return "missing"
        seen = [v for v in (versions or []) + [binding_version or ""] if v]
        if not seen:
            return None  # known (a customer bound through an order) with no version to compare
        return "stale" if all(bindings.is_older(v, listed.updated_at) for v in seen) else None

    def _seen_versions(self, kind: BindingKind, shopify_id: str) -> tuple[str | None, list[str] | None]:
        """(the binding's version, "" without one, or None when there is no binding; the stored
        events' versions, or None when there is none)."""
        if self._known is not None and kind in self._known["kinds"] and shopify_id in self._known["ids"]:
            seen = self._known["versions"].get((kind, shopify_id)) or {"binding": None, "events": None}
            return seen["binding"], seen["events"]
        binding = bindings.find(self.session, self.shop.id, kind, shopify_id)
        versions = self._event_versions(kind, shopify_id)
        self._commit()
        return (None if binding is None else binding.shopify_updated_at or ""), versions

    def _seen(self, kind: BindingKind, shopify_id: str) -> bool:
        return self._seen_versions(kind, shopify_id) != (None, None)

    def _has(self, topic: str, shopify_id: str) -> bool:
        """Whether an event of ``topic`` is stored for the object (a cancellation happens once)."""
        if self._known is not None and shopify_id in self._known["ids"]:
            return (topic, shopify_id) in self._known["topics"]
        found = self.session.scalar(select(InboxEvent.id).where(
            InboxEvent.shop_id == self.shop.id, InboxEvent.resource_id == shopify_id, InboxEvent.topic == topic)
            .limit(1)) is not None
        self._commit()
        return found

    def _commit(self) -> None:
        if self.commit_each:
            self.session.commit()

    def _event_versions(self, kind: BindingKind, shopify_id: str) -> list[str] | None:
        """The ``updated_at`` of each stored event of the object ("" when its body was erased),
        or None when there is none."""
        bodies = self.session.scalars(select(InboxEvent.body).where(
            InboxEvent.shop_id == self.shop.id, InboxEvent.resource_id == shopify_id,
            InboxEvent.topic.in_(flows.topics_of(kind)))).all()
        if not bodies:
            return None
        return [_updated_at(body) for body in bodies]

    def _enqueue(self, kind: BindingKind, reason: str, shopify_id: str, version: str | None, payload: dict,
                 topic: str = "") -> None:
        topic = topic or flows.RECONCILED[kind][0 if reason == "missing" else 1]
        inbox_id = inbox.accept_reconciled(self.session, self.shop.id, topic, shopify_id, version or "", payload,
                                           api_version=self.client.connection.api_version,
                                           triggered_at=triggered_at(version), source=self.source)
        if inbox_id is not None:
            self.services.tally.moved(self.session, topic, None, InboxState.received.value)
            self.send(self.session, inbox_id, topic)
        self._commit()
        self.result.found.append(Found(kind.value, shopify_id, reason, topic, version or "", inbox_id))


def _updated_at(body: str) -> str:
    try:
        payload = jsonutil.loads(body) if body else {}
    except ValueError:
        return ""
    return str(payload.get("updated_at") or "") if isinstance(payload, dict) else ""


def triggered_at(stamp: str | None) -> str:
    """A Shopify time as ``X-Shopify-Triggered-At`` writes it (UTC, microseconds, ``Z``), so that
    reconciled events sort among delivered ones: a refund waits for its order's earlier events."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
