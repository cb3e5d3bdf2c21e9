"""Sending inbox events to their pool, always after the transaction that made them waiting.

The receiver, replay and the sweeper all come through here; none of them sends a task itself.

Each queue has two lanes (Celery's priorities on Redis: one list per lane, ``workers.app``), and a
worker always takes from the first lane before the backlog lane. A shop's first
:data:`FIRST_DOCUMENTS` events in each ``MLC_FUSION_SHARE_WINDOW`` go in the first lane, the rest
of a burst or backfill in the backlog lane: a quiet shop's order is not queued behind another
shop's thousand. Once taken, the Fusion budget is shared out per shop (``connector.fair_share``).
"""
from __future__ import annotations

import threading
import time

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from connector import flows, logs
from connector.db import after_commit
from connector.flows import LANES
from workers import publish
from workers.app import app, settings

FIRST, BACKLOG = LANES  # Celery on Redis: the lower number is taken first
#: How many of a shop's events per window go in the first lane: about what one shop's share of a
#: small pod clears in a few seconds; anything beyond is a burst, which waits its turn.
FIRST_DOCUMENTS = 10

_redis: Redis | None = None
_redis_lock = threading.Lock()


def _counter() -> Redis:
    global _redis
    with _redis_lock:
        if _redis is None:
            _redis = Redis.from_url(app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)
        return _redis


def lane(shop_id: int | None, now: float | None = None) -> int:
    """The lane of a shop's next event: its first few in the window first, the rest as backlog.

    An event of no known shop (the sweeper's resends) is backlog; so is every event when Redis
    cannot count (the send that follows will say why). Without MLC_FUSION_FAIR_SHARE every event
    goes first: one lane, first come first served.
    """
    if not settings.fusion_fair_share:
        return FIRST
    if shop_id is None:
        return BACKLOG
    window = settings.fusion_share_window_seconds
    key = f"mlc:lanes:{shop_id}:{int((time.time() if now is None else now) // window)}"
    try:  # no MULTI/EXEC: the EXPIRE follows the INCR on one connection, and a lost EXPIRE costs nothing
        with _counter().pipeline(transaction=False) as pipe:
            count, _ = pipe.incr(key).expire(key, window * 2).execute()
    except RedisError:
        return BACKLOG
    return FIRST if count <= FIRST_DOCUMENTS else BACKLOG


def send_after_commit(session: Session, inbox_id: int, topic: str, shop_id: int | None = None, *,
                      backlog: bool = False) -> bool:
    """Send the event's task once ``session`` commits. False if no pool handles the topic.

    ``backlog``: always the backlog lane, whatever the shop's count (a backfill's history waits
    behind every live event, with or without MLC_FUSION_FAIR_SHARE).

    A send that fails after the commit (the broker unreachable past kombu's retries, the process
    killed in between) is logged and loses nothing: the row stays ``received``, and the beat's
    sweeper (``mlc.inbox.sweep``) sends it again once it has waited ``MLC_INBOX_STALE_AFTER``.
    """
    flow = flows.for_topic(topic)
    if flow is None:
        return False
    # read now: the commit's callbacks may run after the caller's correlation is unbound
    correlation = logs.carried(inbox_id=inbox_id, topic=topic)
    priority = BACKLOG if backlog else lane(shop_id)  # a backfill's events do not count against the shop's first lane
    after_commit(session, lambda: publish.send(flow.task, [inbox_id], flow.queue, correlation, priority=priority))
    return True


def send_backlog_after_commit(session: Session, inbox_id: int, topic: str) -> bool:
    """:func:`send_after_commit` in the backlog lane: what a backfill sends."""
    return send_after_commit(session, inbox_id, topic, backlog=True)
