"""How much is waiting, done, parked or dead, and why one event ended as it did: for
``ml-connector status``, ``ml-connector replay --show`` and ``/metrics``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import flows
from connector.models import (
    AttemptOutcome,
    AuditEvent,
    Binding,
    InboxEvent,
    InboxState,
    PollWatermark,
    ProcessingAttempt,
    Shop,
)


@dataclass(frozen=True)
class TopicCount:
    topic: str
    queue: str              # '' for a topic no flow handles
    deferred: str           # why this release keeps the topic's events deferred ('' if it does not)
    state: str
    count: int


def inbox_counts(session: Session) -> list[TopicCount]:
    """Every registered topic (with zero counts too) and every other topic present, by state."""
    counts = {(topic, state.value): count for topic, state, count in session.execute(
        select(InboxEvent.topic, InboxEvent.state, func.count()).group_by(InboxEvent.topic, InboxEvent.state))}
    rows = []
    topics = [f.topic for f in flows.FLOWS] + sorted({t for t, _ in counts} - {f.topic for f in flows.FLOWS})
    for topic in topics:
        flow = flows.for_topic(topic)
        present = [s for s in InboxState if (topic, s.value) in counts] or [InboxState.received]
        rows += [TopicCount(topic, flow.queue if flow else "", flow.deferred if flow else "not handled",
                            state.value, counts.get((topic, state.value), 0)) for state in present]
    return rows


def binding_counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, state, count) for every binding kind and state present."""
    rows = session.execute(select(Binding.kind, Binding.state, func.count())
                           .group_by(Binding.kind, Binding.state).order_by(Binding.kind))
    return [(kind.value, state.value, count) for kind, state, count in rows]


def attempts(session: Session, inbox_id: int) -> list[ProcessingAttempt]:
    """Every processing attempt of one event, oldest first."""
    return list(session.scalars(select(ProcessingAttempt).where(ProcessingAttempt.inbox_id == inbox_id)
                                .order_by(ProcessingAttempt.id)))


def recent_failures(session: Session, limit: int = 10) -> list[tuple[InboxEvent, ProcessingAttempt]]:
    """The newest attempts that did not succeed, with their events: where to look first."""
    failed = [AttemptOutcome.parked, AttemptOutcome.dead, AttemptOutcome.retry]
    return list(session.execute(
        select(InboxEvent, ProcessingAttempt).join(ProcessingAttempt, ProcessingAttempt.inbox_id == InboxEvent.id)
        .where(ProcessingAttempt.outcome.in_(failed)).order_by(ProcessingAttempt.id.desc()).limit(limit)).tuples())


def shop_tokens(session: Session) -> list[Shop]:
    """Every shop with its token mode, expiry and state; the ones needing reauthorization first."""
    shops = list(session.scalars(select(Shop).order_by(Shop.domain)))
    return sorted(shops, key=lambda shop: shop.auth_state == "ok")


def backfills(session: Session, redis) -> list[tuple[str, object, int]]:
    """(shop, :class:`backfill.State`, events the shop's backfills stored) for each backfill whose
    checkpoint Redis keeps: the one running or the last ones, their since date, orders listed and
    done, and the last order done (where a next run goes on). The events are counted in the
    inbox (``source = backfill``), exact whichever run stored them."""
    from connector.services import backfill
    rows = []
    for shop in session.scalars(select(Shop).order_by(Shop.domain)):
        states = backfill.progress_of(redis, shop.id)
        if states:
            stored = session.scalar(select(func.count()).select_from(InboxEvent).where(
                InboxEvent.shop_id == shop.id, InboxEvent.source == backfill.SOURCE))
            rows += [(shop.domain, state, stored) for state in states]
    return rows


def poll_watermarks(session: Session) -> list[PollWatermark]:
    """Each polled Fusion resource: how far it has been read and how its last poll went."""
    return list(session.scalars(select(PollWatermark).order_by(PollWatermark.pod, PollWatermark.resource)))


def fusion_states(session: Session) -> list[tuple[str, str, int, int]]:
    """(kind, status Fusion reported, documents, of them with an open balance) for the bindings
    the poller has read."""
    rows = session.execute(select(Binding.kind, Binding.fusion_status, Binding.fusion_balance)
                           .where(Binding.fusion_updated_at != ""))
    counts: dict[tuple[str, str], list[int]] = {}
    for kind, status, balance in rows:
        entry = counts.setdefault((kind.value, status or "-"), [0, 0])
        entry[0] += 1
        entry[1] += _open(balance)
    return [(kind, status, n, open_) for (kind, status), (n, open_) in sorted(counts.items())]


def changed_in_fusion(session: Session, limit: int = 10) -> list[AuditEvent]:
    """The newest changes the poller saw in Fusion (a person paying, crediting, completing …)."""
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("%.changed_in_fusion"))
                                .order_by(AuditEvent.id.desc()).limit(limit)))


def _open(balance: str) -> int:
    try:
        return int(float(balance or 0) != 0)
    except ValueError:
        return 0


def timeline(session: Session, shop_id: int, order_id: str, *, calls: bool = False) -> list[tuple]:
    """(when, what, object, detail) for one order, oldest first: the webhooks of the order and of
    its payments, refunds and edits, the audit rows of each (calls only with ``calls``), the
    receipts entered in Fusion that were pushed to it, and the changes the Fusion poller saw in
    their documents."""
    from connector import jsonutil
    from connector.models import BindingKind
    related = session.scalars(select(Binding).where(
        Binding.shop_id == shop_id, Binding.kind.in_([BindingKind.payment, BindingKind.refund, BindingKind.adjustment,
                                                  BindingKind.fusion_receipt])))
    subjects = {order_id} | {b.shopify_id for b in related
                             if b.shopify_id.split(":", 1)[0] == order_id
                             or str((b.fusion_refs or {}).get("order_id") or "") == order_id}
    rows = [(e.received_at, f"webhook {e.topic}", e.resource_id, f"inbox {e.id}, {e.state.value}")
            for e in session.scalars(select(InboxEvent).where(InboxEvent.shop_id == shop_id,
                                                                InboxEvent.resource_id.in_(sorted(subjects))))]
    for row in session.scalars(select(AuditEvent).where(AuditEvent.shop_id == shop_id,
                                                        AuditEvent.subject_id.in_(sorted(subjects)))):
        if row.action.endswith(".call") and not calls:
            continue
        if row.action.endswith("_in_fusion"):
            before, after = row.detail.get("before"), row.detail.get("after") or {}
            detail = (f"{row.detail.get('document')} {row.detail.get('number')}: "
                      + (f"{state_text(before)} → " if before else "")
                      + f"{state_text(after)} (LastUpdateDate {row.detail.get('last_update_date')}, "
                        f"by {row.detail.get('last_updated_by') or '?'})")
        elif row.action.endswith(".date_moved"):
            detail = (f"{row.detail.get('document')} {row.detail.get('number')}: accounting date "
                      f"{row.detail.get('original_date')} → {row.detail.get('accounting_date')} "
                      f"({row.detail.get('reason', '')[:120]})")
        else:
            detail = jsonutil.dumps(row.detail)[:200]
        rows.append((row.occurred_at, row.action, f"{row.subject_kind} {row.subject_id}", detail))
    return sorted(rows, key=lambda r: r[0])


def state_text(state: dict | None) -> str:
    """A document's state as an audit row keeps it: 'Complete 0.00'."""
    return " ".join(str(v) for v in ((state or {}).get("status"), (state or {}).get("balance")) if v) or "-"
