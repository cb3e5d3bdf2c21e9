"""How much is waiting, done, parked or dead, and why one event ended as it did: for
``ml-connector status``, ``ml-connector replay --show`` and ``/metrics``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import flows
from connector.models import (
    AttemptOutcome,
    Binding,
    InboxEvent,
    InboxState,
    ProcessingAttempt,
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
