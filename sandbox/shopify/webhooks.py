"""Webhook delivery as Shopify does it: signed exact bytes, background threads, retries.

Each merchant action becomes one *event* (one ``X-Shopify-Event-Id``) with one webhook per topic
(distinct ``X-Shopify-Webhook-Id``).  A webhook is serialised and signed once, when it fires;
every attempt and every retry sends those same bytes and headers to the address that was
configured at that moment.  Success is any 2xx; redirects are not followed and count as
failures, like timeouts (1 s connect, 5 s answer) and connection errors.

Misbehaviour knobs (``WebhookKnobs``) let tests reproduce what real shops do to receivers:
duplicates (every webhook, or a share of them), reordering and delay (of one action's webhooks,
or a share of all webhooks held back so that later ones overtake them), loss, and a pause while a
backlog builds up.  Shopify documents both: a webhook may arrive more than once, and in any order.

With ``remove_subscription_after_failed_retries`` a webhook that fails through all its retries
makes Shopify delete the shop's subscription (reference §1.3): ``on_exhausted`` records that on
the shop, the log gets a ``subscription_removed`` entry, and later events of that shop are
logged as not sent until the shop is PUT again.  Retries already queued still run (they go to
the address of their own event).
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import logging
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable

import requests

from . import jsonio
from .settings import ShopifySandboxSettings

log = logging.getLogger(__name__)


def sign(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: standard base64 (with padding) of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def triggered_at_now() -> str:
    """Shopify's format: ``2025-07-10T16:15:47.000000Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class WebhookKnobs:
    """How badly delivery should behave (all off by default)."""
    #: Send every webhook this many times (same ids and body), as Shopify occasionally does.
    duplicates: int = 1
    #: Fraction (0..1) of webhooks sent once more (same ids and body), the extra copy up to
    #: ``max_delay_seconds`` after the first.
    duplicate_fraction: float = 0.0
    #: Shuffle the webhooks of one action and delay each by up to ``max_delay_seconds``.
    out_of_order: bool = False
    #: Fraction (0..1) of webhooks held back by half to all of ``max_delay_seconds``, so that
    #: webhooks fired after them (of the same order too) arrive first.
    out_of_order_fraction: float = 0.0
    max_delay_seconds: float = 0.05
    #: Fraction (0..1) of webhooks silently lost: never sent, never retried.
    drop_fraction: float = 0.0
    #: While paused nothing is sent; webhooks wait (``idle`` stays false) until resumed.
    paused: bool = False
    #: Seed of the random choices above, for reproducible runs.
    seed: int | None = None


_KNOB_TYPES = {"duplicates": int, "duplicate_fraction": float, "out_of_order": bool,
               "out_of_order_fraction": float, "max_delay_seconds": float, "drop_fraction": float,
               "paused": bool, "seed": int}


def _coerce(key, value):
    """JSON numbers arrive as Decimal; knobs are plain ints, floats and bools."""
    if value is None:
        return None
    kind = _KNOB_TYPES[key]
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"webhook knob {key} must be true or false")
    return kind(value)


@dataclass
class Webhook:
    shop: str
    topic: str
    url: str
    body: bytes
    headers: dict
    webhook_id: str
    event_id: str
    triggered_at: str
    copy: int = 1
    attempt: int = 1
    dropped: bool = False
    #: Seconds the first attempt was held back by the delivery knobs.
    delay: float = 0.0


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    webhook: Webhook = field(compare=False)


class Dispatcher:
    """Queues, sends and retries webhooks on a pool of daemon threads."""

    def __init__(self, settings: ShopifySandboxSettings,
                 on_exhausted: Callable[[str, str, dict], bool] | None = None):
        self.settings = settings
        #: ``(shop, url, removal) -> removed?``: asked to drop the subscription once a webhook
        #: exhausted its retries (only with ``remove_subscription_after_failed_retries``).
        self.on_exhausted = on_exhausted
        self.knobs = WebhookKnobs()
        self._random = random.Random()
        self._cond = threading.Condition()
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._log: list[dict] = []
        self._stopped = False
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"shopify-webhooks-{i}")
                         for i in range(max(1, settings.delivery_threads))]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ public
    def fire(self, shop, topics: list[tuple[str, dict]]) -> str | None:
        """Fire one merchant action's webhooks (shared Event-Id); returns the Event-Id."""
        if not topics:
            return None
        event_id = str(uuid.uuid4())
        if not shop.webhook_url or not shop.installed:
            return event_id
        allowed = getattr(shop, "webhook_topics", None)
        removed = getattr(shop, "webhook_subscription_removed", None)
        batch = []
        for topic, payload in topics:
            if allowed is not None and topic not in allowed:
                continue
            if removed:
                with self._cond:
                    self._record(Webhook(shop=shop.domain, topic=topic, url=shop.webhook_url, body=b"",
                                         headers={}, webhook_id="", event_id=event_id,
                                         triggered_at=triggered_at_now(), attempt=0),
                                 None, "not sent: the webhook subscription was removed after failed "
                                       "retries; PUT the shop to subscribe again")
                continue
            body = jsonio.dumps(payload)
            webhook_id = str(uuid.uuid4())
            triggered_at = triggered_at_now()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(shop.client_secret, body),
                "X-Shopify-Shop-Domain": shop.domain,
                "X-Shopify-API-Version": shop.api_version,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at,
                "User-Agent": "Shopify-Captain-Hook",
            }
            batch.append(Webhook(shop=shop.domain, topic=topic, url=shop.webhook_url, body=body,
                                 headers=headers, webhook_id=webhook_id, event_id=event_id,
                                 triggered_at=triggered_at))
        with self._cond:
            knobs = self.knobs
            if knobs.out_of_order:
                self._random.shuffle(batch)
            now = time.monotonic()
            for webhook in batch:
                if knobs.drop_fraction and self._random.random() < knobs.drop_fraction:
                    webhook.dropped = True
                    self._record(webhook, None, "dropped")
                    continue
                copies = max(1, knobs.duplicates)
                extra = bool(knobs.duplicate_fraction) and self._random.random() < knobs.duplicate_fraction
                held = bool(knobs.out_of_order_fraction) and self._random.random() < knobs.out_of_order_fraction
                for copy in range(1, copies + 1 + extra):
                    if knobs.out_of_order or copy > copies:
                        delay = self._random.uniform(0, knobs.max_delay_seconds)
                    elif held:
                        delay = self._random.uniform(knobs.max_delay_seconds / 2, knobs.max_delay_seconds)
                    else:
                        delay = 0.0
                    clone = Webhook(**{**webhook.__dict__, "copy": copy, "delay": round(delay, 3)})
                    heapq.heappush(self._heap, _Due(now + delay, next(self._seq), clone))
            self._cond.notify_all()
        return event_id

    def configure(self, **changes) -> WebhookKnobs:
        with self._cond:
            if changes.pop("reset", False):
                self.knobs = WebhookKnobs()
            for key, value in changes.items():
                if not hasattr(self.knobs, key):
                    raise ValueError(f"unknown webhook knob {key!r}")
                setattr(self.knobs, key, _coerce(key, value))
            if "seed" in changes:
                self._random.seed(self.knobs.seed)
            self._cond.notify_all()
            return WebhookKnobs(**asdict(self.knobs))

    def deliveries(self, shop: str | None = None, topic: str | None = None) -> list[dict]:
        with self._cond:
            return [dict(d) for d in self._log
                    if (shop is None or d["shop"] == shop) and (topic is None or d["topic"] == topic)]

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ internals
    def _record(self, webhook: Webhook, status: int | None, error: str | None,
                subscription_removed: bool = False) -> None:
        self._log.append({
            "shop": webhook.shop, "topic": webhook.topic, "webhook_id": webhook.webhook_id,
            "event_id": webhook.event_id, "triggered_at": webhook.triggered_at, "url": webhook.url,
            "attempt": webhook.attempt, "copy": webhook.copy, "delay": webhook.delay,
            "status_code": status, "error": error,
            "ok": status is not None and 200 <= status < 300, "at": triggered_at_now(),
            "subscription_removed": subscription_removed,
        })

    def _exhausted(self, webhook: Webhook) -> None:
        """A webhook failed its last retry: have Shopify remove the subscription, if configured."""
        if not (self.settings.remove_subscription_after_failed_retries and self.on_exhausted):
            return
        removal = {"removed_at": triggered_at_now(), "url": webhook.url, "topic": webhook.topic,
                   "webhook_id": webhook.webhook_id, "attempts": webhook.attempt}
        if self.on_exhausted(webhook.shop, webhook.url, removal):
            with self._cond:
                self._record(webhook, None, f"webhook subscription removed after {webhook.attempt} "
                                            "failed attempts", subscription_removed=True)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._heap and not self.knobs.paused:
                        wait = self._heap[0].at - time.monotonic()
                        if wait <= 0:
                            due = heapq.heappop(self._heap)
                            self._in_flight += 1
                            break
                        self._cond.wait(min(wait, 0.5))
                    else:
                        self._cond.wait(0.5)
            try:
                self._attempt(due.webhook)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, webhook: Webhook) -> None:
        status, error = None, None
        try:
            response = requests.post(
                webhook.url, data=webhook.body, headers=webhook.headers, allow_redirects=False,
                timeout=(self.settings.webhook_connect_timeout_seconds, self.settings.webhook_timeout_seconds))
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}" + (" (redirects are failures)" if 300 <= status < 400 else "")
        except requests.Timeout as exc:
            error = f"timeout: {exc.__class__.__name__}"
        except requests.RequestException as exc:
            error = f"connection error: {exc.__class__.__name__}"
        with self._cond:
            self._record(webhook, status, error)
            if error is None:
                return
            retry = webhook.attempt  # the retry about to be scheduled (1-based)
            gave_up = retry > self.settings.max_retries
            if gave_up:
                log.info("webhook %s %s gave up after %d attempts", webhook.topic, webhook.webhook_id,
                         webhook.attempt)
        if gave_up:
            self._exhausted(webhook)  # outside the queue lock: it takes the store's lock
            return
        with self._cond:
            delays = self.settings.retry_delays_seconds
            delay = delays[min(retry - 1, len(delays) - 1)] * self.settings.time_scale
            again = Webhook(**{**webhook.__dict__, "attempt": webhook.attempt + 1})
            heapq.heappush(self._heap, _Due(time.monotonic() + delay, next(self._seq), again))
            self._cond.notify_all()
