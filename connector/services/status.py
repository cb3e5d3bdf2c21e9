"""How much is waiting, done, parked or dead: for ``ml-connector status`` and ``/metrics``."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.models import Binding, InboxEvent


def inbox_counts(session: Session) -> list[tuple[str, str, int]]:
    """(topic, state, count) for every inbox topic and state present."""
    rows = session.execute(select(InboxEvent.topic, InboxEvent.state, func.count())
                           .group_by(InboxEvent.topic, InboxEvent.state).order_by(InboxEvent.topic))
    return [(topic, state.value, count) for topic, state, count in rows]


def binding_counts(session: Session) -> list[tuple[str, str, int]]:
    """(kind, state, count) for every binding kind and state present."""
    rows = session.execute(select(Binding.kind, Binding.state, func.count())
                           .group_by(Binding.kind, Binding.state).order_by(Binding.kind))
    return [(kind, state.value, count) for kind, state, count in rows]
