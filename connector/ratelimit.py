"""Token buckets in Redis, shared by every worker process on every machine.

The whole refill-and-take step runs as one Lua script on Redis's clock, so concurrent workers
cannot both spend the last token and a skewed machine clock cannot mint tokens.

A bucket may learn its rate and size from the server it guards (:meth:`TokenBucket.adjust`:
Shopify's ``throttleStatus`` says what is left, how fast it refills and how big the bucket is);
what it learned replaces the configured figures for every worker until the key expires.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

# Tokens charged by calls still in flight (``take(..., in_flight=True)``) are remembered in
# ``inflight`` so that an answer's "currently available", which cannot know of them yet, does not
# give them back. A worker that dies mid-call never releases its charge: ``inflight`` drains at
# the restore rate, so a lost charge is forgotten within cost / rate seconds.
_STATE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts', 'rate', 'burst', 'inflight')
local rate = tonumber(state[3]) or tonumber(ARGV[1])
local burst = tonumber(state[4]) or tonumber(ARGV[2])
local ts = tonumber(state[2]) or now
local elapsed = math.max(0, now - ts)
local tokens = math.min(burst, (tonumber(state[1]) or burst) + elapsed * rate)
local inflight = math.max(0, (tonumber(state[5]) or 0) - elapsed * rate)
"""

_TAKE = _STATE + """
local cost = math.min(tonumber(ARGV[3]), burst)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  if ARGV[4] == '1' then inflight = inflight + cost end
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now), 'inflight', tostring(inflight))
redis.call('EXPIRE', key, math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_ADJUST = _STATE + """
local available = tonumber(ARGV[3])
rate = tonumber(ARGV[4]) or rate
burst = tonumber(ARGV[5]) or burst
inflight = math.max(0, inflight - tonumber(ARGV[6]))
if available then tokens = math.min(burst, available - inflight) end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now), 'inflight', tostring(inflight),
           'rate', tostring(rate), 'burst', tostring(burst))
redis.call('EXPIRE', key, math.ceil(burst / rate) + 60)
return tostring(tokens)
"""

_PENALIZE = """
local key = KEYS[1]
local rate = tonumber(redis.call('HGET', key, 'rate')) or tonumber(ARGV[1])
local seconds = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSET', key, 'tokens', tostring(-rate * seconds), 'ts', tostring(now))
redis.call('EXPIRE', key, math.ceil(seconds) + 60)
return 1
"""


@dataclass
class TokenBucket:
    redis: Redis
    key: str
    rate: float          # tokens per second (until the server says otherwise: ``adjust``)
    burst: float         # bucket size (likewise)

    def __post_init__(self):
        self._take = self.redis.register_script(_TAKE)
        self._adjust = self.redis.register_script(_ADJUST)
        self._penalize = self.redis.register_script(_PENALIZE)

    def try_take(self, cost: float = 1, *, in_flight: bool = False) -> float:
        """Take ``cost`` tokens if they are there; otherwise return how long to wait. A cost
        larger than the bucket is charged as the whole bucket (it could never be met otherwise).
        ``in_flight``: the charge stays remembered until :meth:`adjust` releases it."""
        return float(self._take(keys=[self.key], args=[self.rate, self.burst, cost, "1" if in_flight else "0"]))

    def take(self, cost: float = 1, max_wait: float = 60.0, *, in_flight: bool = False) -> float:
        """Block until ``cost`` tokens are taken; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_take(cost, in_flight=in_flight)
            if wait <= 0:
                return waited
            if waited + wait > max_wait:
                raise RateLimited(f"{self.key}: no capacity within {max_wait:.0f}s", wait)
            time.sleep(wait)
            waited += wait

    def adjust(self, available: float | None, *, rate: float | None = None, burst: float | None = None,
               release: float = 0) -> float:
        """Correct the bucket from what the server reports: ``available`` tokens left now (less
        what other calls still in flight were charged), refilling at ``rate`` up to ``burst``
        from now on. ``release`` is this call's own charge, no longer in flight (``available``
        None: only that). Returns the tokens the bucket holds afterwards."""
        return float(self._adjust(keys=[self.key], args=[self.rate, self.burst, "" if available is None else available,
                                                          "" if rate is None else rate,
                                                          "" if burst is None else burst, release]))

    def pause(self, seconds: float) -> None:
        """Empty the bucket for ``seconds`` for everyone (the server said Retry-After)."""
        self._penalize(keys=[self.key], args=[self.rate, seconds])


class RateLimited(RuntimeError):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
