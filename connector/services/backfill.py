"""Backfill: a new merchant's history, through the very flows its webhooks go through.

``ml-connector backfill --since DATE [--shop S]`` lists every order created since DATE with one
Shopify bulk operation (:mod:`connector.shopify.bulk`: each order whole, in a JSONL file that costs
no points), then treats each order as reconciliation treats one (:class:`reconcile.Run`): an
order, refund or cancellation the connector has already seen (bound, or stored by a live webhook)
is skipped; the rest is rebuilt into its webhook's body (only its refunds are read over GraphQL),
stored in the inbox (``source = backfill``, an event id naming the version, so a second store
stores nothing) and sent in the backlog lane of its pool: live orders are always taken first.
Orders go by chunks of :data:`CHUNK`: what the connector has seen of a chunk is looked up in two
queries and its events committed at once (per-order round trips were most of a large
backfill's time). Every read goes through the shop's Shopify client, charged to the same cost
bucket as everything else, and the backfill paces itself to spend at most
``MLC_BACKFILL_BUDGET_SHARE`` of the shop's bucket and restore rate (:class:`Pace`). Once every
order is done, the customers created since DATE who placed none of them go through
``customers/create`` (:func:`_customers`).

Resumable: a checkpoint per (shop, since) in Redis keeps the bulk operations, their files' URLs
and the last order done, and what ``ml-connector status`` shows (state, counts, when). Run again
with the same arguments, a backfill reads the same file and goes on after that order; even
without the checkpoint nothing would be created twice (the inbox's unique event ids, the flows'
create-once claims), it would only be slower.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable

from sqlalchemy.orm import Session

from connector import audit
from connector.models import Shop
from connector.services import reconcile
from connector.shopify import bulk, order_payload
from connector.shopify.client import ShopifyError

log = logging.getLogger(__name__)

SOURCE = "backfill"
#: How long a checkpoint is kept: Shopify keeps a bulk operation's file for a week.
CHECKPOINT_TTL_SECONDS = 7 * 24 * 3600

#: Orders looked up and stored per transaction: each chunk is committed, its tasks sent and the
#: checkpoint moved past it at once (a chunk interrupted midway is stored again from its start:
#: the inbox's unique event ids store nothing twice).
CHUNK = 100

#: ``progress(done, total)``, after each order.
Progress = Callable[[int, int], None]


@dataclass
class Result:
    shop: str
    listed: int = 0          # orders created since the date
    done: int = 0            # of which handled, in this run or before (the checkpoint)
    enqueued: int = 0        # events stored and sent by this run
    resumed_from: int = 0    # orders done before this run started
    customers: int = 0       # customers created since the date who placed none of the orders
    operation: str = ""
    skipped: list[str] | None = None
    error: str = ""

    @property
    def complete(self) -> bool:
        return not self.error and self.done == self.listed


#: A running backfill writes its checkpoint at least this often (each chunk, each poll of the
#: bulk operation): one marked running that has not written for longer was interrupted.
HEARTBEAT_SECONDS = 120


class Checkpoint:
    """How far a backfill of one shop since one date has gone (a Redis hash): the bulk operation
    and its file, the last order done, and what ``status`` shows (state, orders listed and done,
    when it started and last wrote)."""

    def __init__(self, redis, shop_id: int, since: date):
        self.redis, self.key = redis, key(shop_id, since)

    def read(self) -> dict:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key).items()}

    def write(self, **fields) -> None:
        fields["updated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key, mapping={k: str(v) for k, v in fields.items()})
            pipe.expire(self.key, CHECKPOINT_TTL_SECONDS)
            pipe.execute()

    def clear(self) -> None:
        self.redis.delete(self.key)


def key(shop_id: int, since: date | str) -> str:
    return f"mlc:backfill:{shop_id}:{since if isinstance(since, str) else since.isoformat()}"


@dataclass(frozen=True)
class State:
    """One backfill of a shop as ``ml-connector status`` shows it, from its checkpoint."""


    since: str
    state: str          # running, interrupted (killed), stopped (an error), partial (--limit), complete
    listed: int
    done: int
    after: str          # the last order done: where a next run goes on
    started_at: str
    updated_at: str
    error: str


def progress_of(redis, shop_id: int, now: datetime | None = None) -> list[State]:
    """The backfills of a shop whose checkpoints Redis still keeps (a week), newest first. A run
    killed midway still says ``running``: it is shown ``interrupted`` when its process is gone
    (same host) or it has not written for :data:`HEARTBEAT_SECONDS`."""
    now = now or datetime.now(timezone.utc)
    found = []
    for name in redis.scan_iter(match=key(shop_id, "*"), count=100):
        saved = {k.decode(): v.decode() for k, v in redis.hgetall(name).items()}
        state = saved.get("state") or "interrupted"
        updated = saved.get("updated_at", "")
        if state == "running" and (_gone(saved) or not updated
                                   or (now - datetime.fromisoformat(updated)).total_seconds() > HEARTBEAT_SECONDS):
            state = "interrupted"
        found.append(State(since=name.decode().rsplit(":", 1)[-1], state=state,
                               listed=int(saved.get("listed") or 0), done=int(saved.get("done") or 0),
                               after=saved.get("after", ""),
                               started_at=saved.get("started_at", ""), updated_at=updated,
                               error=saved.get("error", "")))
    return sorted(found, key=lambda p: p.updated_at, reverse=True)


class Pace:
    """Holds the backfill's spending to ``burst`` points plus ``rate`` points a second since it
    started, as Shopify charged them (the client's tally of ``actualQueryCost``): an order read
    asks for 830 points but is charged about a hundred, so pacing on what was asked would waste
    most of it."""

    def __init__(self, stats, rate: float, burst: float = 0.0, clock=time.monotonic, sleep=time.sleep):
        self.stats, self.rate, self.burst, self.clock, self.sleep = stats, rate, burst, clock, sleep
        self.spent_before, self.started = stats.actual, clock()

    def wait(self) -> float:
        """Sleep until what was spent so far is within the budget; the seconds slept."""
        spent = self.stats.actual - self.spent_before
        due = (spent - self.burst) / self.rate - (self.clock() - self.started)
        if due > 0:
            self.sleep(due)
        return max(0.0, due)


def _gone(saved: dict) -> bool:
    """Whether the process that wrote a running checkpoint is known to have ended (it ran on this
    host and its pid is no longer alive); on another host only the heartbeat tells."""
    if saved.get("host") != socket.gethostname() or not saved.get("pid", "").isdigit():
        return False
    try:
        os.kill(int(saved["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def run(services, session: Session, send: reconcile.Send, shop: Shop, since: date, *,
        limit: int | None = None, restart: bool = False, progress: Progress | None = None,
        poll_seconds: float = bulk.POLL_SECONDS) -> Result:
    """Backfill one shop since ``since``; at most ``limit`` orders in this run (the rest next run)."""
    result = Result(shop.domain, skipped=[])
    checkpoint = Checkpoint(services.redis, shop.id, since)
    if restart:
        checkpoint.clear()
    client = services.shopify(session, shop)
    session.commit()  # no transaction stays open across the calls to Shopify
    checkpoint.write(state="running", error="", started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     host=socket.gethostname(), pid=os.getpid())
    try:
        orders = sorted(_listing(client, checkpoint, since, result, poll_seconds), key=lambda o: int(o.id))
        after = int(checkpoint.read().get("after") or 0)
        result.listed = len(orders)
        result.resumed_from = result.done = sum(1 for o in orders if int(o.id) <= after)
        checkpoint.write(listed=result.listed, done=result.done)
        if progress:
            progress(result.done, result.listed)
        shop_result = reconcile.ShopResult(shop.domain)
        run_ = reconcile.Run(services, session, send, shop, client, shop_result, source=SOURCE, commit_each=False)
        share, settings = services.settings.backfill_budget_share, services.settings
        pace = Pace(client.budget.stats, share * settings.shopify_restore_rate, share * settings.shopify_bucket_size)
        todo = [listed for listed in orders if int(listed.id) > after][:limit]
        for start in range(0, len(todo), CHUNK):
            chunk, done, found = todo[start:start + CHUNK], result.done, len(shop_result.found)
            try:
                _chunk(run_, chunk, pace, result, progress)
            except ShopifyError:
                result.done = done   # the chunk was rolled back: it counts as not done
                del shop_result.found[found:]
                raise
            finally:
                result.enqueued = shop_result.enqueued
            session.commit()  # the chunk's events, then their tasks are sent
            checkpoint.write(after=chunk[-1].id, done=result.done)
        if result.done == result.listed:
            _customers(run_, checkpoint, since, orders, result, poll_seconds)
            result.enqueued = shop_result.enqueued
    except ShopifyError as exc:
        session.rollback()
        result.error = str(exc)[:500]
        log.warning("backfill of %s stopped: %s", shop.domain, result.error)
    checkpoint.write(state="stopped" if result.error else "complete" if result.complete else "partial",
                     error=result.error)
    audit.record(session, "shopify.backfilled", shop_id=shop.id, since=since.isoformat(), operation=result.operation,
                 listed=result.listed, done=result.done, resumed_from=result.resumed_from,
                 customers=result.customers, enqueued=result.enqueued, skipped=result.skipped[:50], error=result.error)
    session.commit()
    return result


def _chunk(run_: reconcile.Run, chunk: list, pace: Pace, result: Result, progress: Progress | None) -> None:
    """Store the events of a chunk of orders, uncommitted."""
    run_.prefetch(chunk)
    for listed in chunk:
        pace.wait()
        try:
            run_.order(listed)  # reads before it stores: an order refused as too large stored nothing
        except order_payload.TooLarge as exc:
            result.skipped.append(str(exc)[:300])
        result.done += 1
        if progress:
            progress(result.done, result.listed)


def _customers(run_: reconcile.Run, checkpoint: Checkpoint, since: date, orders: list, result: Result,
               poll_seconds: float) -> None:
    """Once every order is done: the customers created since the date who placed none of them,
    through the ``customers/create`` flow as their webhook would have gone (the flow creates the
    Fusion customer of one with an address, as it does live; one without waits for its first
    order). A customer who placed an order comes with it; one already seen is skipped, and the
    event id naming the version stores nothing twice."""
    if checkpoint.read().get("customers") == "done":
        return
    # an older listing's file of ids does not say who bought: then every customer is looked at
    buyers = ({(o.whole.get("customer") or {}).get("id") for o in orders}
              if all(o.whole is not None for o in orders) else set())
    lines = _bulk_lines(run_.client, checkpoint, bulk.customers_created_since_query(since), "customers_", poll_seconds)
    for listed, node in bulk.listed_customers(lines):
        if node["id"] in buyers:
            continue
        result.customers += 1
        run_.customer(listed, whole=node)
    run_.session.commit()
    checkpoint.write(customers="done")


def _listing(client, checkpoint: Checkpoint, since: date, result: Result, poll_seconds: float):
    """The orders to backfill (progress starts again from the checkpoint's last order id)."""
    lines = _bulk_lines(client, checkpoint, bulk.orders_created_since_query(since), "", poll_seconds)
    result.operation = checkpoint.read().get("operation", "")
    return list(bulk.listed_orders(lines))


def _bulk_lines(client, checkpoint: Checkpoint, query: str, prefix: str, poll_seconds: float) -> list[dict]:
    """A listing's JSONL: the checkpoint's bulk file (``<prefix>operation``, ``<prefix>url``)
    when it can still be read, else a new bulk operation's."""
    saved = checkpoint.read()
    operation_key, url_key = f"{prefix}operation", f"{prefix}url"
    operation_id, url = saved.get(operation_key), saved.get(url_key)

    def heartbeat() -> None:
        checkpoint.write(state="running")

    if operation_id and url is None:   # an earlier run stopped while Shopify wrote the file: wait on it
        try:
            done = bulk.resume(client, operation_id, poll_seconds=poll_seconds, heartbeat=heartbeat)
            url = done.url or ""
            checkpoint.write(**{url_key: url})
        except bulk.BulkFailed as exc:
            log.info("backfill listing %s ended without a file (%s): listing again", operation_id, exc)
    if url is not None and operation_id:
        try:
            return bulk.download(url or None)
        except (ShopifyError, ValueError, OSError) as exc:
            log.info("backfill listing %s no longer readable (%s): listing again", operation_id, exc)
    operation = bulk.start(client, query)
    checkpoint.write(**{operation_key: operation.id})   # before waiting: an interrupted run resumes it
    done = bulk.wait(client, operation.id, poll_seconds=poll_seconds, heartbeat=heartbeat)
    checkpoint.write(**{operation_key: done.id, url_key: done.url or ""})
    return bulk.download(done.url)
