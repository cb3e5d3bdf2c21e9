"""Sending inbox events to their pool, always after the transaction that made them waiting.

The receiver, replay and the sweeper all come through here; none of them sends a task itself.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from connector import flows, logs
from connector.db import after_commit
from workers import publish


def send_after_commit(session: Session, inbox_id: int, topic: str) -> bool:
    """Send the event's task once ``session`` commits. False if no pool handles the topic.

    A send that fails after the commit (the broker unreachable past kombu's retries, the process
    killed in between) is logged and loses nothing: the row stays ``received``, and the beat's
    sweeper (``mlc.inbox.sweep``) sends it again once it has waited ``MLC_INBOX_STALE_AFTER``.
    """
    flow = flows.for_topic(topic)
    if flow is None:
        return False
    # read now: the commit's callbacks may run after the caller's correlation is unbound
    correlation = logs.carried(inbox_id=inbox_id, topic=topic)
    after_commit(session, lambda: publish.send(flow.task, [inbox_id], flow.queue, correlation))
    return True
