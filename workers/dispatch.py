"""Sending inbox events to their pool, always after the transaction that made them waiting.

The receiver, replay and the sweeper all come through here; none of them sends a task itself.

Each queue has two lanes (Celery's priorities on Redis: one list per lane, ``workers.app``), and a
worker always takes from the first lane before the backlog lane. A shop's first
:data:`FIRST_DOCUMENTS` events in each ``MLC_FUSION_SHARE_WINDOW`` go in the first lane, the rest
of a burst or backfill in the backlog lane: a quiet shop's order is not queued behind another
shop's thousand. Once taken, the Fusion budget is shared out per shop (``connector.fair_share``).
"""
from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from connector import flows, logs, metrics
from connector.db import after_commit
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
_hand_off: Script | None = None


def send_after_commit(session: Session, inbox_id: int, topic: str, shop_id: int | None = None, *,
                      backlog: bool = False) -> bool:
    """Send the event's task once ``session`` commits. False if no pool handles the topic.

    ``backlog``: always the backlog lane, whatever the shop's count (a backfill's history waits
    behind every live event, with or without MLC_FUSION_FAIR_SHARE).

    The shop's lane count, the task's message and the ``/metrics`` counts of the same commit
    (``connector.metrics.take``) go to Redis in one round trip (``_HAND_OFF``): a new webhook
    costs the receiver one, as the durable floor's ``LPUSH``. The lane of a rolled-back event is
    not counted. When that round trip fails, each goes on its own as before: the lane counted
    again (backlog if Redis cannot count), the counts in their own pipeline, and the task sent
    through kombu with its retries (``workers.publish.send``).

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

    def hand_off() -> None:
        try:
            publish.prepare(flow.task, [inbox_id], flow.queue, correlation,
                            (fixed,) if fixed is not None else LANES,
                            lambda client, prepared: _push(client, prepared, fixed, shop_id, counts))
            return
        except publish.NotPrepared:
            pass
        except Exception as exc:  # Redis unreachable or the message unbuildable: the old way says which
            log.warning("the hand-off's round trip failed (%s); sending on its own", type(exc).__name__)
        for count in counts:
            count.apply()
        priority = fixed if fixed is not None else lane(shop_id)
        publish.send(flow.task, [inbox_id], flow.queue, correlation, priority=priority)

    after_commit(session, hand_off)
    return True


def send_backlog_after_commit(session: Session, inbox_id: int, topic: str) -> bool:
    """:func:`send_after_commit` in the backlog lane: what a backfill sends (``backfill``, the
    demo and ``bench backfill`` import it)."""
    return send_after_commit(session, inbox_id, topic, backlog=True)


def _push(client: Redis, prepared: publish.Prepared, fixed: int | None, shop_id: int | None,
          counts: list[metrics.Count]) -> int:
    """Run ``_HAND_OFF`` on the broker's ``client``: the lane the task went in."""
    global _hand_off
    if _hand_off is None:
        _hand_off = client.register_script(_HAND_OFF)
    first, backlog = (prepared.pushes.get(lane_, ("", "")) for lane_ in LANES)
    increments = [increment for count in counts for increment in count.increments]
    keys = [first[0], backlog[0], "" if fixed is not None else _lane_key(shop_id)]  # "": never touched
    keys += [key for key, _, _ in increments]
    args = [0 if fixed is None else LANES.index(fixed) + 1, settings.fusion_share_window_seconds * 2,
            FIRST_DOCUMENTS, first[1], backlog[1]]
    for _, name, amount in increments:
        args += [name, amount]
    return LANES[_hand_off(keys=keys, args=args, client=client) - 1]
