"""Token buckets in Redis, shared by every worker process on every machine.

The whole refill-and-take step runs as one Lua script on Redis's clock, so concurrent workers
cannot both spend the last token and a skewed machine clock cannot mint tokens.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

_TAKE = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', key, math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_PENALIZE = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
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
    rate: float          # tokens per second
    burst: float         # bucket size

    def __post_init__(self):
        self._take = self.redis.register_script(_TAKE)
        self._penalize = self.redis.register_script(_PENALIZE)

    def try_take(self, cost: float = 1) -> float:
        """Take ``cost`` tokens if they are there; otherwise return how long to wait."""
        return float(self._take(keys=[self.key], args=[self.rate, self.burst, cost]))

    def take(self, cost: float = 1, max_wait: float = 60.0) -> float:
        """Block until ``cost`` tokens are taken; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_take(cost)
            if wait <= 0:
                return waited
            if waited + wait > max_wait:
                raise RateLimited(f"{self.key}: no capacity within {max_wait:.0f}s", wait)
            time.sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Empty the bucket for ``seconds`` for everyone (the server said Retry-After)."""
        self._penalize(keys=[self.key], args=[self.rate, seconds])


class RateLimited(RuntimeError):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
