"""Concurrent deliveries stored together: one INSERT and one commit for all that wait at once.

A delivery's cost to the receiver is mostly its round trips: the INSERT, the COMMIT (PostgreSQL's
fsync) and the task's hand-off to Redis. While one delivery commits, the others that arrive in
the meantime queue here; the next of them to go stores all of them in one multi-row ``INSERT … ON
CONFLICT DO NOTHING`` and one commit, and their tasks leave after that commit as before
(:func:`workers.dispatch.send_after_commit`, each in its own delivery's correlation). Nobody waits
for a timer: a delivery that finds no commit running goes at once, alone. Under load the batch is
whatever arrived during the previous commit (BENCHMARKS.md, "Receiver").

Answers are as if each delivery were stored on its own: Shopify gets its 200 only once its row
is committed, a duplicate in the same batch is a duplicate, and a database that is down fails
every delivery of the batch (503: Shopify retries each). Should the batch's statement fail on one
row's data, each row is stored again on its own, so that only that delivery fails.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.exc import DataError, IntegrityError

from connector import flows, logs
from connector.db import once_more_if_disconnected, session_scope
from connector.metrics import Tally
from connector.services import inbox
from workers import dispatch  # the web process only sends tasks; it never runs them

#: The most deliveries one commit stores (a bound on the statement, not a wait).
MAX_BATCH = 64


@dataclass
class _Ticket:
    admitted: inbox.Admitted
    shop: str                          # the shop's domain, for the delivery's log fields
    correlation: dict[str, Any]        # the delivery's own log fields: its task's message carries them
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False                 # woken to store the next batch, not with its answer
    accepted: inbox.Accepted | None = None
    error: BaseException | None = None


class GroupCommit:
    """Stores admitted deliveries, each call answering for its own once its row is committed."""

    def __init__(self, database_url: str, tally: Tally | None = None,
                 send: Callable = dispatch.send_after_commit):
        self._url, self._tally, self._send = database_url, tally, send
        self._lock = threading.Lock()  # created after gevent patched threading: a greenlet lock there
        self._waiting: list[_Ticket] = []
        self._storing = False

    def store(self, admitted: inbox.Admitted, shop: str, correlation: dict[str, Any]) -> inbox.Accepted:
        """Store ``admitted`` (with whatever else waits) and say what became of it; raises what
        storing it raised. ``correlation`` is the delivery's bound log fields (``logs.bind``)."""
        ticket = _Ticket(admitted, shop, correlation)
        with self._lock:
            self._waiting.append(ticket)
            lead = not self._storing
            self._storing = True
        if not lead:
            ticket.done.wait()
            lead = ticket.lead
        if lead:
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.accepted is not None
        return ticket.accepted

    def _lead(self) -> None:
        """Store what waits, answer each, and hand the lead to the first who came meanwhile."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            self._store(batch)
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                self._storing = successor is not None
            for ticket in batch:
                ticket.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _store(self, batch: list[_Ticket]) -> None:
        try:
            once_more_if_disconnected(lambda: self._commit(batch))
        except (IntegrityError, DataError) as exc:  # one row's data, not the database: each alone, so only it fails
            if len(batch) == 1:
                batch[0].error = exc
                return
            for ticket in batch:
                self._store([ticket])
        except BaseException as exc:  # the database is down, or the pool had no connection in time
            for ticket in batch:
                ticket.error = exc

    def _commit(self, batch: list[_Ticket]) -> None:
        with session_scope(self._url) as session:
            accepted = inbox.store(session, [t.admitted for t in batch], self._tally)
            for ticket, outcome in zip(batch, accepted):
                ticket.accepted = outcome
                if not outcome.created:
                    continue
                with logs.acting_as(ticket.correlation):  # bound before its task is sent: its header carries them
                    topic = ticket.admitted.row["topic"]
                    logs.annotate(inbox_id=outcome.inbox_id, shop=ticket.shop,
                                  topic=topic, event_id=ticket.admitted.row["event_id"],
                                  gid=flows.gid(topic, outcome.resource_id))
                    if outcome.flow is not None:
                        self._send(session, outcome.inbox_id, topic, outcome.shop_id)
            # the commit sends the batch's tasks, in its order, each with its delivery's fields

