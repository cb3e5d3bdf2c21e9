"""The numbers behind ``/metrics``, kept in Redis as events happen, so a scrape reads a few hashes
and never scans a table.

Every change of an inbox event's state (stored by the receiver, finished by a worker, reopened by
a replay) adds to the counts once its transaction has committed (:class:`Tally`). Redis is shared
by every process on every host, so one scrape of the admin app sees the whole pipeline.

The counts can drift from the database: a process killed between its commit and the count, Redis
unreachable for a moment, or Redis emptied. So the admin app counts again from the database (one
GROUP BY over the inbox and one over the bindings) when Redis has no counts, and at most every
``MLC_METRICS_RECOUNT`` seconds across all admin processes (:func:`recount_if_due`); an event that
changes state while a recount runs may be off by one until the next. Bindings by state come from
that recount only: their state changes in too many places to count each one.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from connector.db import after_commit, pending_after_commit

log = logging.getLogger(__name__)

INBOX = "mlc:metrics:inbox"            # gauge: inbox events now, by [topic, state]
STORED = "mlc:metrics:stored"          # counter: events the receiver stored, by topic
FINISHED = "mlc:metrics:finished"      # counter: events that left `received`, by [topic, state]
BINDINGS = "mlc:metrics:bindings"      # gauge: bindings by [kind, state], at the last recount
RECOUNTED = "mlc:metrics:recounted"    # unix time of the last recount
RECOUNT_DUE = "mlc:metrics:recount-due"  # held while a recount is not due (expires after the interval)
RECEIVED = "received"


def field(*labels: str) -> str:
    """A hash field holding any label values (a topic is whatever header Shopify, or not, sent)."""
    return json.dumps(labels)


def labels(name: str | bytes) -> tuple[str, ...]:
    return tuple(json.loads(name))


class Tally:
    """Counts inbox state changes in Redis after their transaction commits; never fails the caller.

    Its own short timeouts: a hung Redis must not hold a webhook's answer for a count.
    """

    WARN_EVERY_SECONDS = 60

    def __init__(self, redis_url: str):
        self.url = redis_url
        self._redis = Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._warned = 0.0
        self._lock = threading.Lock()

    def moved(self, session: Session, topic: str, old: str | None, new: str) -> None:
        """Once ``session`` commits: one event of ``topic`` left state ``old`` (None: it was just
        stored) for ``new``."""
        after_commit(session, Count(self, increments(topic, old, new)))

    def apply(self, increments: list[tuple[str, str, int]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key, name, amount in increments:
            pipe.hincrby(key, name, amount)
        try:
            pipe.execute()
        except RedisError as exc:  # the recount corrects it
            with self._lock:
                if time.monotonic() - self._warned < self.WARN_EVERY_SECONDS:
                    return
                self._warned = time.monotonic()
            log.warning("metrics: a count was lost (%s); the admin app's next recount corrects it",
                        type(exc).__name__)


def increments(topic: str, old: str | None, new: str) -> list[tuple[str, str, int]]:
    """The ``HINCRBY``s (hash, field, amount) that count one event of ``topic`` moving from ``old``
    (None: just stored) to ``new``."""
    counts = [(INBOX, field(topic, new), 1)]
    if old is None:
        counts.append((STORED, field(topic), 1))
    else:
        counts.append((INBOX, field(topic, old), -1))
        if old == RECEIVED:
            counts.append((FINISHED, field(topic, new), 1))
    return counts


class Count:
    """A count waiting for its transaction's commit. A hand-off to the same Redis after the same
    commit may :func:`take` it, to send it in its own round trip (``workers.dispatch``); then it
    does nothing itself, unless that hand-off fails and gives it back (:meth:`apply`)."""

    def __init__(self, tally: Tally, counts: list[tuple[str, str, int]]):
        self.tally, self.increments, self.taken = tally, counts, False

    def __call__(self) -> None:
        if not self.taken:
            self.apply()

    def apply(self) -> None:
        self.tally.apply(self.increments)


def take(session: Session, redis_url: str) -> list[Count]:
    """The counts waiting for ``session``'s commit on the Redis at ``redis_url``, now the caller's
    to send after that commit (in the same order)."""
    taken = [action for action in pending_after_commit(session)
             if isinstance(action, Count) and not action.taken and action.tally.url == redis_url]
    for count in taken:
        count.taken = True
    return taken


@dataclass(frozen=True)
class Counts:
    inbox: dict[tuple[str, str], int]       # (topic, state) -> events
    stored: dict[str, int]                  # topic -> events stored
    finished: dict[tuple[str, str], int]    # (topic, state) -> events finished
    bindings: dict[tuple[str, str], int]    # (kind, state) -> bindings
    recounted: float                        # unix time, 0 if never


def read(redis: Redis) -> Counts:
    """Everything ``/metrics`` shows: four hashes and a key, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for key in (INBOX, STORED, FINISHED, BINDINGS):
        pipe.hgetall(key)
    pipe.get(RECOUNTED)
    inbox, stored, finished, bindings, recounted = pipe.execute()
    return Counts(_pairs(inbox), {labels(k)[0]: int(v) for k, v in stored.items()}, _pairs(finished),
                  _pairs(bindings), float(recounted or 0))


def _pairs(raw: dict) -> dict[tuple[str, str], int]:
    return {labels(k): int(v) for k, v in raw.items()}


def recount(redis: Redis, session: Session) -> None:
    """Replace the gauges with the database's counts (the counters are left alone)."""
    from connector.services import status
    inbox = {field(row.topic, row.state): row.count for row in status.inbox_counts(session)}
    bindings = {field(kind, state): count for kind, state, count in status.binding_counts(session)}
    session.commit()
    pipe = redis.pipeline(transaction=True)
    pipe.delete(INBOX, BINDINGS)
    if inbox:
        pipe.hset(INBOX, mapping=inbox)
    if bindings:
        pipe.hset(BINDINGS, mapping=bindings)
    pipe.set(RECOUNTED, repr(time.time()))
    pipe.execute()


def recount_if_due(redis: Redis, session: Session, interval_seconds: int) -> bool:
    """Recount when Redis holds no counts, or when the last recount is ``interval_seconds`` old
    (one admin process of all takes that turn). True if this call recounted."""
    if redis.exists(RECOUNTED) and not redis.set(RECOUNT_DUE, "1", nx=True, ex=interval_seconds):
        return False
    redis.set(RECOUNT_DUE, "1", ex=interval_seconds)
    try:
        recount(redis, session)
    except Exception:
        redis.delete(RECOUNT_DUE)  # the next scrape tries again
        raise
    return True
