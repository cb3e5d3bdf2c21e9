"""Sending inbox events to their pool, always after the transaction that made them waiting.

The receiver, replay and the sweeper all come through here; none of them sends a task itself.

Each queue has two lanes (Celery's priorities on Redis: one list per lane, ``workers.app``), and a
worker always takes from the first lane before the backlog lane. A shop's first
:data:`FIRST_DOCUMENTS` events in each ``MLC_FUSION_SHARE_WINDOW`` go in the first lane, the rest
of a burst or backfill in the backlog lane: a quiet shop's order is not queued behind another
shop's thousand. Once taken, the Fusion budget is shared out per shop (``connector.fair_share``).
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.orm import Session

from connector import flows, logs, metrics
from connector.db import after_commit, pending_after_commit
from connector.flows import LANES
from workers import publish
from workers.app import app, settings

FIRST, BACKLOG = LANES  # Celery on Redis: the lower number is taken first
#: How many of a shop's events per window go in the first lane: about what one shop's share of a
#: small pod clears in a few seconds; anything beyond is a burst, which waits its turn.
FIRST_DOCUMENTS = 10
log = logging.getLogger(__name__)

_redis: Redis | None = None
_redis_lock = threading.Lock()


def _counter() -> Redis:
    global _redis
    with _redis_lock:
        if _redis is None:
            _redis = Redis.from_url(app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)
        return _redis


def _lane_key(shop_id: int, now: float | None = None) -> str:
    window = settings.fusion_share_window_seconds
    return f"mlc:lanes:{shop_id}:{int((time.time() if now is None else now) // window)}"


def lane(shop_id: int | None, now: float | None = None) -> int:
    """The lane of a shop's next event: its first few in the window first, the rest as backlog.

    An event of no known shop (the sweeper's resends) is backlog; so is every event when Redis
    cannot count (the send that follows will say why). Without MLC_FUSION_FAIR_SHARE every event
    goes first: one lane, first come first served. (:func:`send_after_commit` counts in the same
    round trip as its push, ``_HAND_OFF``; this is its fallback when that fails.)
    """
    fixed = _fixed_lane(shop_id)
    if fixed is not None:
        return fixed
    key = _lane_key(shop_id, now)
    try:  # no MULTI/EXEC: the EXPIRE follows the INCR on one connection, and a lost EXPIRE costs nothing
        with _counter().pipeline(transaction=False) as pipe:
            count, _ = pipe.incr(key).expire(key, settings.fusion_share_window_seconds * 2).execute()
    except RedisError:
        return BACKLOG
    return FIRST if count <= FIRST_DOCUMENTS else BACKLOG


def _fixed_lane(shop_id: int | None, backlog: bool = False) -> int | None:
    """The lane an event goes in whatever the counts, or None when its shop's count decides."""
    if backlog:
        return BACKLOG
    if not settings.fusion_fair_share:
        return FIRST
    return BACKLOG if shop_id is None else None


#: One round trip after the commit: the shop's lane count (when it decides), the task's ``LPUSH``
#: in the lane it picked, and the ``/metrics`` counts of the same commit. KEYS: the first and the
#: backlog lane's lists, the shop's counter ("" when the lane is fixed), then one hash per count;
#: ARGV: the fixed lane's index (1, 2; 0: count), the counter's expiry, FIRST_DOCUMENTS, the
#: message for each lane ("" for a lane it cannot go in), then a field and an amount per count.
#: A counter Redis cannot increment puts the event in the backlog lane, as :func:`lane` does.
_HAND_OFF = """
local lane = tonumber(ARGV[1])
if lane == 0 then
  local count = redis.pcall('INCR', KEYS[3])
  if type(count) == 'number' then
    redis.call('EXPIRE', KEYS[3], ARGV[2])
    if count <= tonumber(ARGV[3]) then lane = 1 else lane = 2 end
  else
    lane = 2
  end
end
redis.call('LPUSH', KEYS[lane], ARGV[3 + lane])
for i = 4, #KEYS do
  redis.call('HINCRBY', KEYS[i], ARGV[2 * i - 2], ARGV[2 * i - 1])
end
return lane
"""
_HAND_OFF_SHA = hashlib.sha1(_HAND_OFF.encode()).hexdigest()


def send_after_commit(session: Session, inbox_id: int, topic: str, shop_id: int | None = None, *,
                      backlog: bool = False) -> bool:
    """Send the event's task once ``session`` commits. False if no pool handles the topic.

    ``backlog``: always the backlog lane, whatever the shop's count (a backfill's history waits
    behind every live event, with or without MLC_FUSION_FAIR_SHARE).

    The shop's lane count, the task's message and the ``/metrics`` counts of the same commit
    (``connector.metrics.take``) go to Redis in one script (``_HAND_OFF``): a new webhook costs the
    receiver one round trip, as the durable floor's ``LPUSH``. The scripts of every event sent in
    one transaction (a reconciliation's or a backfill's page) go in one pipelined round trip. The
    lane of a rolled-back event is not counted. An event whose script failed, or all of them when
    the round trip did, goes on its own as before: the lane counted again (backlog if Redis cannot
    count), the counts in their own pipeline, and the task sent through kombu with its retries
    (``workers.publish.send``); a task whose script did run before the round trip failed is then
    sent twice, which its worker's claim makes harmless.

    A send that fails after the commit (the broker unreachable past kombu's retries, the process
    killed in between) is logged and loses nothing: the row stays ``received``, and the beat's
    sweeper (``mlc.inbox.sweep``) sends it again once it has waited ``MLC_INBOX_STALE_AFTER``.
    """
    flow = flows.for_topic(topic)
    if flow is None:
        return False
    # read now: the commit's callbacks may run after the caller's correlation is unbound
    correlation = logs.carried(inbox_id=inbox_id, topic=topic)
    fixed = _fixed_lane(shop_id, backlog)  # a backfill's events do not count against the shop's first lane
    counts = metrics.take(session, app.conf.broker_write_url)
    event = _Event(flow, inbox_id, correlation, fixed, shop_id, counts)
    # the events of one transaction leave together, after it, in one round trip
    batch = next((action for action in pending_after_commit(session) if isinstance(action, _HandOff)), None)
    if batch is None:
        after_commit(session, _HandOff([event]))
    else:
        batch.events.append(event)
    return True


@dataclass(frozen=True)
class _Event:
    """One event's task, waiting for its transaction's commit."""

    flow: flows.Flow
    inbox_id: int
    correlation: dict
    fixed: int | None                   # its lane, when the shop's count does not decide
    shop_id: int | None
    counts: list[metrics.Count]         # the /metrics counts of the same commit, sent along

    @property
    def message(self) -> publish.Message:
        lanes = (self.fixed,) if self.fixed is not None else LANES
        return publish.Message(self.flow.task, [self.inbox_id], self.flow.queue, self.correlation, lanes)


@dataclass
class _HandOff:
    """The tasks of one commit's events: ``_HAND_OFF`` for each, pipelined in one round trip."""

    events: list[_Event]

    def __call__(self) -> None:
        round_trip: Exception | None = None  # what failed the whole round trip, said once for all
        try:
            results = publish.prepare_all([event.message for event in self.events], self._push)
        except publish.NotPrepared:
            results = [None] * len(self.events)
        except Exception as exc:  # Redis unreachable or a message unbuildable: the old way says which
            with logs.acting_as({}):  # about the commit's events together, not the committer's own
                log.warning("the hand-off's round trip failed (%s); sending each task on its own",
                            type(exc).__name__)
            round_trip = exc
            results = [exc] * len(self.events)
        unsent = [(event, result) for event, result in zip(self.events, results) if not isinstance(result, int)]
        for number, (event, result) in enumerate(unsent):  # (a script that ran: its task, lane and counts are in)
            with logs.acting_as(dict(event.correlation)):  # its lines name its own event
                if isinstance(result, Exception) and result is not round_trip:  # its own script failed
                    log.warning("the hand-off of inbox event %s failed (%s); sending it on its own",
                                event.inbox_id, type(result).__name__)
                failure = _send_alone(event)
            if failure is None:
                continue
            left = [e.inbox_id for e, _ in unsent[number + 1:]]
            if _unreachable(failure) and left:  # each would wait out kombu's retries: the sweeper sends them
                with logs.acting_as({}):
                    log.warning("the broker is unreachable; the tasks of inbox events %s are left to the inbox "
                                "sweeper", ", ".join(map(str, left)))
                return

    def _push(self, client: Redis, prepared: list[publish.Prepared]) -> list:
        """Run ``_HAND_OFF`` for each event on the broker's ``client``, pipelined: the lane each
        task went in, or the error Redis answered that event's script with. By digest
        (``EVALSHA``); a Redis that does not hold the script yet (its first use, a restart) is
        given it, and the scripts it refused run again: none runs twice."""
        calls = [_hand_off_call(message, event.fixed, event.shop_id, event.counts)
                 for event, message in zip(self.events, prepared)]
        results = _evalsha_all(client, calls)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing:
            client.script_load(_HAND_OFF)
            for i, result in zip(missing, _evalsha_all(client, [calls[i] for i in missing])):
                results[i] = result
        return [result if isinstance(result, Exception) else LANES[result - 1] for result in results]


def _send_alone(event: _Event) -> Exception | None:
    """An event's task, counts and lane each on their own, as before the hand-off script: what
    follows a hand-off that failed (a task whose script ran after all is sent twice, which its
    worker's claim makes harmless). None once sent, or why the task could not be."""
    for count in event.counts:
        count.apply()
    priority = event.fixed if event.fixed is not None else lane(event.shop_id)
    try:
        publish.send(event.flow.task, [event.inbox_id], event.flow.queue, event.correlation, priority=priority)
    except Exception as exc:  # committed already: the sweeper sends it again (see send_after_commit)
        log.exception("inbox event %s: its task could not be sent; the sweeper sends it again", event.inbox_id)
        return exc
    return None


def _unreachable(exc: BaseException) -> bool:
    """The broker cannot be reached (not one message's fault): kombu says so in an
    ``OperationalError`` for both, so the cause decides."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _evalsha_all(client: Redis, calls: list[tuple[list, list]]) -> list:
    """Each call's result, or the error Redis answered it with, in one round trip."""
    if len(calls) == 1:  # a lone webhook's: redis-py's pipeline costs twice the call itself
        [(keys, args)] = calls
        try:
            return [client.evalsha(_HAND_OFF_SHA, len(keys), *keys, *args)]
        except ResponseError as exc:  # as the pipeline answers it: NOSCRIPT, or the script's own error
            return [exc]
    with client.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            pipe.evalsha(_HAND_OFF_SHA, len(keys), *keys, *args)
        return pipe.execute(raise_on_error=False)


def send_backlog_after_commit(session: Session, inbox_id: int, topic: str) -> bool:
    """:func:`send_after_commit` in the backlog lane: what a backfill sends (``backfill``, the
    demo and ``bench backfill`` import it)."""
    return send_after_commit(session, inbox_id, topic, backlog=True)


def _hand_off_call(prepared: publish.Prepared, fixed: int | None, shop_id: int | None,
                   counts: list[metrics.Count]) -> tuple[list, list]:
    """The keys and arguments of ``_HAND_OFF`` for one event."""
    first, backlog = (prepared.pushes.get(lane_, ("", "")) for lane_ in LANES)
    increments = [increment for count in counts for increment in count.increments]
    keys = [first[0], backlog[0], "" if fixed is not None else _lane_key(shop_id)]  # "": never touched
    keys += [key for key, _, _ in increments]
    args = [0 if fixed is None else LANES.index(fixed) + 1, settings.fusion_share_window_seconds * 2,
            FIRST_DOCUMENTS, first[1], backlog[1]]
    for _, name, amount in increments:
        args += [name, amount]
    return keys, args
