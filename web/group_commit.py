"""Concurrent deliveries stored together: one INSERT and one commit for all that wait at once.

A new delivery's cost to the receiver is mostly its round trips: the INSERT, the COMMIT and the
task's hand-off to Redis. While one delivery commits, those that arrive in the meantime queue
here; the next of them stores them all in one multi-row ``INSERT … ON CONFLICT DO NOTHING`` and one
commit, answers them, and then hands their tasks to Redis in one pipelined round trip
(:func:`workers.dispatch.send_after_commit`, each task with its own delivery's log fields). Nobody
waits for a timer: a delivery that finds no commit running goes at once, alone, so a quiet receiver
answers as fast as before, and a busy one commits less often than it receives.

Each delivery is answered as if it had been stored alone: its 200 only once its row is committed,
a duplicate in the same batch is a duplicate, and a database that is down fails every delivery of
the batch with 503 (Shopify retries each). Should the batch's statement fail on one row's data
(or on a deadlock with another process's batch), each row is stored again on its own, so that only
a bad one fails. The hand-off runs after the answers: a Redis that is slow or down delays the
deliverer's own answer, never the others', and loses nothing (the sweeper sends what was not).
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from connector import flows, logs
from connector.db import (
    once_more_if_disconnected,
    run_actions,
    session_scope,
    take_after_commit,
)
from connector.metrics import Tally
from connector.services import inbox
from workers import dispatch  # the web process only sends tasks; it never runs them

#: The most deliveries one commit stores (a bound on the statement, not a wait).
MAX_BATCH = 64
#: The longest a delivery waits for the commits ahead of it: Shopify's own wait for an answer (as
#: the database pool's ``pool_timeout``), past which an answer reaches nobody.
WAIT_SECONDS = 5.0
_DEADLOCK = "40P01"


class Interrupted(Exception):
    """The delivery's batch was not stored: the commit storing it was stopped (its request ended,
    its worker is stopping) or took longer than anyone waits. Shopify sends it again (503)."""


@dataclass
class _Ticket:
    admitted: inbox.Admitted
    shop: str                          # the shop's domain, for the delivery's log fields
    correlation: dict[str, Any]        # the delivery's own bound log fields (``logs.bind``)
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False                 # woken to store the next batch, not with its answer
    accepted: inbox.Accepted | None = None
    error: BaseException | None = None


class GroupCommit:
    """Stores admitted deliveries; each call answers for its own once its row is committed.

    One per process, made after gevent patched ``threading`` (in the app factory): its lock and
    events are then a greenlet's.
    """

    def __init__(self, database_url: str, tally: Tally | None = None,
                 send: Callable = dispatch.send_after_commit):
        self._url, self._tally, self._send = database_url, tally, send
        self._lock = threading.Lock()
        self._waiting: list[_Ticket] = []
        self._storing = False

    def store(self, admitted: inbox.Admitted, shop: str, correlation: dict[str, Any]) -> inbox.Accepted:
        """Store ``admitted`` (with whatever else waits) and say what became of it; raises what
        storing it raised (``DBAPIError``, a pool timeout, :class:`Interrupted`)."""
        ticket = _Ticket(admitted, shop, correlation)
        with self._lock:
            self._waiting.append(ticket)
            lead = not self._storing
            self._storing = True
        if not lead:
            try:
                answered = ticket.done.wait(WAIT_SECONDS)
            except BaseException:  # stopped while waiting: its place, or the lead it was given, goes on
                self._leave(ticket)
                raise
            if not answered:
                self._leave(ticket)  # (the lead, had it come just now, is passed on)
                if ticket.accepted is None and ticket.error is None:
                    raise Interrupted(f"the commits ahead of it took over {WAIT_SECONDS:.0f} s")
            lead = ticket.lead
        if lead:
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.accepted is not None
        return ticket.accepted

    def _leave(self, ticket: _Ticket) -> None:
        """A waiting ticket gives up: out of the queue, and the lead passed on if it had it."""
        with self._lock:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            if not ticket.lead:
                return
            ticket.lead = False
            successor = self._next()
        if successor is not None:
            successor.done.set()

    def _next(self) -> _Ticket | None:
        """Under the lock: the first waiting ticket, made the leader; or none, and nobody stores."""
        successor = self._waiting[0] if self._waiting else None
        self._storing = successor is not None
        if successor is not None:
            successor.lead = True
        return successor

    def _lead(self) -> None:
        """Store what waits, answer each, hand the lead to the first who came meanwhile, and only
        then send the batch's tasks."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        actions: list[Callable[[], None]] = []
        try:
            actions = self._store(batch)
        finally:  # answered even when this greenlet is being stopped: each gets its own error then
            for ticket in batch:
                if ticket.accepted is None and ticket.error is None:
                    ticket.error = Interrupted("the commit storing it was stopped")
                ticket.done.set()
            with self._lock:
                successor = self._next()
            if successor is not None:
                successor.done.set()
        with logs.acting_as({}):  # the batch's tasks: each line names its own event, not this one's
            run_actions(actions)

    def _store(self, batch: list[_Ticket]) -> list[Callable[[], None]]:
        """Store ``batch``, setting each ticket's answer; the actions its commit left to run."""
        try:
            return once_more_if_disconnected(lambda: self._commit(batch))
        except (IntegrityError, DataError, DBAPIError) as exc:
            if len(batch) > 1 and _one_rows_fault(exc):  # each alone, so that only a bad one fails
                return [action for ticket in batch for action in self._store([ticket])]
            self._failed(batch, exc)
        except Exception as exc:  # no connection free in time, or a defect: the batch is not stored
            self._failed(batch, exc)
        return []

    def _commit(self, batch: list[_Ticket]) -> list[Callable[[], None]]:
        with session_scope(self._url) as session:
            accepted = inbox.store(session, [t.admitted for t in batch], self._tally)
            for ticket, outcome in zip(batch, accepted):
                if not outcome.created:
                    continue
                with logs.acting_as(ticket.correlation):  # its task's message header carries them
                    topic = ticket.admitted.row["topic"]
                    logs.annotate(inbox_id=outcome.inbox_id, shop=ticket.shop, topic=topic,
                                  event_id=ticket.admitted.row["event_id"], gid=flows.gid(topic, outcome.resource_id))
                    if outcome.flow is not None:
                        self._send(session, outcome.inbox_id, topic, outcome.shop_id)
            actions = take_after_commit(session)  # run by the caller, after the answers
        for ticket, outcome in zip(batch, accepted):  # committed: the answers stand
            ticket.accepted = outcome
        return actions

    @staticmethod
    def _failed(batch: list[_Ticket], exc: BaseException) -> None:
        # each its own copy: one exception raised in many greenlets would collect all their frames
        for ticket in batch:
            ticket.error = exc if ticket is batch[0] else _copy(exc)


def _copy(exc: BaseException) -> BaseException:
    try:
        return copy.copy(exc)
    except Exception:  # an exception that cannot be made again from its arguments
        return exc


def _one_rows_fault(exc: Exception) -> bool:
    """A failure a single row may cause (its data, a key the database refuses) or that another
    process's batch caused (a deadlock): worth storing each row on its own."""
    if isinstance(exc, (IntegrityError, DataError)):
        return True
    return getattr(getattr(exc, "orig", None), "pgcode", None) == _DEADLOCK
