"""Sending inbox events to their pool, always after the transaction that made them waiting.

The receiver, replay and the sweeper all come through here; none of them sends a task itself.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from connector import flows
from connector.db import after_commit
from workers.app import app


def send_after_commit(session: Session, inbox_id: int, topic: str) -> bool:
    """Send the event's task once ``session`` commits. False if no pool handles the topic."""
    flow = flows.for_topic(topic)
    if flow is None:
        return False
    after_commit(session, lambda: app.send_task(flow.task, args=[inbox_id], queue=flow.queue))
    return True
