"""A shop's GraphQL cost budget, shared by every worker through a Redis bucket (reference §3.2).

Shopify charges each query its *requested* (worst-case) cost before it runs and refunds the
difference to the *actual* cost afterwards, from a leaky bucket per app and shop. The connector
mirrors that bucket: a call is charged its requested cost before it is sent (waiting for the
points if they are not there), and every answer's ``extensions.cost.throttleStatus`` resets the
mirror to what Shopify says is left and how fast it refills. A ``THROTTLED`` answer waits exactly
``(requested − currentlyAvailable) / restoreRate`` seconds, the time Shopify needs to have the
points, and never longer than ``MLC_SHOPIFY_MAX_WAIT``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from connector.ratelimit import RateLimited, TokenBucket
from connector.shopify.errors import ShopifyThrottled

#: What a query is charged the first time this process sends it, before Shopify has told its
#: requested cost (then the learned cost is charged).
FIRST_ESTIMATE = 50
#: Shopify's single-query maximum.
MAX_QUERY_COST = 1000


def throttle_wait(requested: float, status: dict) -> float:
    """Seconds until Shopify's bucket holds ``requested`` points, from a ``throttleStatus``."""
    available = float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 0)
    if rate <= 0:
        return 0.0
    return max(0.0, (requested - available) / rate)


@dataclass
class BudgetStats:
    """What one client's calls cost and waited (for tests, ``bench/`` and logs)."""

    calls: int = 0
    throttled: int = 0
    waits: list[float] = field(default_factory=list)   # each THROTTLED/429 wait, in seconds
    charged: float = 0.0
    actual: float = 0.0


class CostBudget:
    def __init__(self, bucket: TokenBucket | None, max_wait: float):
        self.bucket = bucket
        self.max_wait = max_wait
        self.stats = BudgetStats()
        self._learned: dict[str, int] = {}
        self._lock = threading.Lock()

    def estimate(self, query: str) -> int:
        with self._lock:
            return self._learned.get(query, FIRST_ESTIMATE)

    def charge(self, domain: str, cost: float) -> float:
        """Take ``cost`` points from the shared bucket, waiting for them; the charge is in flight
        until :meth:`settle`."""
        if self.bucket is None:
            return 0.0
        try:
            return self.bucket.take(cost, self.max_wait, in_flight=True)
        except RateLimited as exc:
            raise ShopifyThrottled(f"{domain}: the GraphQL budget has no {cost:g} points within "
                                   f"{self.max_wait:g}s (MLC_SHOPIFY_MAX_WAIT)", exc.retry_after) from None

    def settle(self, query: str, charged: float, cost: dict | None) -> None:
        """Correct the bucket from an answer's ``extensions.cost`` and learn the query's cost."""
        with self._lock:
            self.stats.calls += 1
            self.stats.charged += charged
        if not cost:
            if self.bucket is not None:
                self.bucket.adjust(None, release=charged)
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)) and requested > 0:
            with self._lock:
                self._learned[query] = int(requested)
                self.stats.actual += float(cost.get("actualQueryCost") or 0)
        status = cost.get("throttleStatus") or {}
        if self.bucket is not None and "currentlyAvailable" in status:
            self.bucket.adjust(float(status["currentlyAvailable"]), rate=_number(status.get("restoreRate")),
                               burst=_number(status.get("maximumAvailable")), release=charged)

    def throttled(self, domain: str, requested: float, status: dict) -> float:
        """The wait a THROTTLED answer calls for; raises when it is longer than allowed."""
        wait = throttle_wait(requested, status)
        return self.wait(domain, wait)

    def wait(self, domain: str, seconds: float) -> float:
        with self._lock:
            self.stats.throttled += 1
            self.stats.waits.append(seconds)
            del self.stats.waits[:-100]
        if seconds > self.max_wait:
            raise ShopifyThrottled(f"{domain}: Shopify throttled the call for {seconds:.1f}s, longer than "
                                   f"MLC_SHOPIFY_MAX_WAIT ({self.max_wait:g}s)", seconds)
        if seconds > 0:
            time.sleep(seconds)
        return seconds

    def pause(self, seconds: float) -> None:
        """Everyone waits (a 429 with Retry-After)."""
        if self.bucket is not None and seconds > 0:
            self.bucket.pause(seconds)


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else None
