"""Backfill: a new merchant's history, through the very flows its webhooks go through.

``ml-connector backfill --since DATE [--shop S]`` lists every order created since DATE with one
Shopify bulk operation (:mod:`connector.shopify.bulk`: ids, versions and refund ids, in a JSONL
file), then treats each order as reconciliation treats one (:class:`reconcile.Run`): an order,
refund or cancellation the connector has already seen (bound, or stored by a live webhook) is
skipped without reading it; the rest is read over GraphQL, stored in the inbox as its webhook's
body (``source = backfill``, an event id naming the version, so a second store stores nothing)
and sent in the backlog lane of its pool: live orders are always taken first. Every read goes
through the shop's Shopify client, charged to the same cost bucket as everything else, and the
backfill paces itself to spend at most ``MLC_BACKFILL_BUDGET_SHARE`` of the shop's bucket and
restore rate (:class:`Pace`): a worker reading a live order never waits behind a backfill's reads.

Resumable: a checkpoint per (shop, since) in Redis keeps the bulk operation, its file's URL and
the last order id done. Run again with the same arguments, a backfill reads the same file and
goes on after that order; even without the checkpoint nothing would be created twice (the inbox's
unique event ids, the flows' create-once claims), it would only be slower.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
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

#: ``progress(done, total)``, after each order.
Progress = Callable[[int, int], None]


@dataclass
class Result:
    shop: str
    listed: int = 0          # orders created since the date
    done: int = 0            # of which handled, in this run or before (the checkpoint)
    enqueued: int = 0        # events stored and sent by this run
    resumed_from: int = 0    # orders done before this run started
    operation: str = ""
    skipped: list[str] | None = None
    error: str = ""

    @property
    def complete(self) -> bool:
        return not self.error and self.done == self.listed


class Checkpoint:
    """How far a backfill of one shop since one date has gone (a Redis hash)."""

    def __init__(self, redis, shop_id: int, since: date):
        self.redis, self.key = redis, f"mlc:backfill:{shop_id}:{since.isoformat()}"

    def read(self) -> dict:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key).items()}

    def write(self, **fields) -> None:
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key, mapping={k: str(v) for k, v in fields.items()})
            pipe.expire(self.key, CHECKPOINT_TTL_SECONDS)
            pipe.execute()

    def clear(self) -> None:
        self.redis.delete(self.key)


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
    try:
        orders = sorted(_listing(client, checkpoint, since, result, poll_seconds), key=lambda o: int(o.id))
        after = int(checkpoint.read().get("after") or 0)
        result.listed = len(orders)
        result.resumed_from = result.done = sum(1 for o in orders if int(o.id) <= after)
        if progress:
            progress(result.done, result.listed)
        shop_result = reconcile.ShopResult(shop.domain)
        run_ = reconcile.Run(services, session, send, shop, client, shop_result, source=SOURCE)
        handled = 0
        share, settings = services.settings.backfill_budget_share, services.settings
        pace = Pace(client.budget.stats, share * settings.shopify_restore_rate, share * settings.shopify_bucket_size)
        for listed in orders:
            if int(listed.id) <= after:
                continue
            if limit is not None and handled >= limit:
                break
            pace.wait()
            try:
                run_.order(listed)
            except order_payload.TooLarge as exc:
                session.rollback()
                result.skipped.append(str(exc)[:300])
            checkpoint.write(after=listed.id, done=result.done + 1)
            handled += 1
            result.done += 1
            if progress:
                progress(result.done, result.listed)
        result.enqueued = shop_result.enqueued
    except ShopifyError as exc:
        session.rollback()
        result.error = str(exc)[:500]
        log.warning("backfill of %s stopped: %s", shop.domain, result.error)
    audit.record(session, "shopify.backfilled", shop_id=shop.id, since=since.isoformat(), operation=result.operation,
                 listed=result.listed, done=result.done, resumed_from=result.resumed_from,
                 enqueued=result.enqueued, skipped=result.skipped[:50], error=result.error)
    session.commit()
    return result


def _listing(client, checkpoint: Checkpoint, since: date, result: Result, poll_seconds: float):
    """The orders to backfill: the checkpoint's bulk file when it can still be read, else a new
    bulk operation's (whose progress starts again from the checkpoint's last order id)."""
    saved = checkpoint.read()
    if saved.get("url") is not None and saved.get("operation"):
        try:
            lines = bulk.download(saved["url"] or None)
            result.operation = saved["operation"]
            return list(bulk.listed_orders(lines))
        except (ShopifyError, ValueError, OSError) as exc:
            log.info("backfill listing %s no longer readable (%s): listing again", saved["operation"], exc)
    operation = bulk.start(client, bulk.orders_created_since_query(since))
    checkpoint.write(operation=operation.id)
    done = bulk.wait(client, operation.id, poll_seconds=poll_seconds)
    result.operation = done.id
    checkpoint.write(operation=done.id, url=done.url or "")
    return list(bulk.listed_orders(bulk.download(done.url)))
