"""A per-shop share of a pod's Fusion budget, so one shop's burst or backfill cannot starve others.

The pod's :class:`~connector.ratelimit.TokenBucket` says how fast the pod may be called; this says
who gets the next token when the shops want more than it has. Each shop that asked for a token in
the last ``window`` seconds is *active*, and each of the ``n`` active shops has a bucket of its own
refilled at ``rate / n``. A shop within its share takes the pod's tokens as before, waiting when
the pod has none (and marking itself *waiting*). A shop over its share takes them too, unless
another shop within its share is waiting: then it leaves the token to that shop instead of racing
it with all its threads. It waits in the thread for its own share to refill when that is soon
(``patience``, a few seconds); when it is not, it gets :class:`FusionYielded` and the caller
defers the work (``connector.services.processing``: a short countdown that uses up no attempt),
freeing the thread for other shops' work. Waiting first matters: measured with 64 threads on a
busy shop, yielding at once deferred each of its orders five times and cost a look-up in Fusion
for each create it interrupted.

Work-conserving: a shop over its share only ever yields to a waiting shop, which takes the token,
so the pod is used at its rate whoever asks; a shop alone (or with idle neighbours) has it all.

One Lua script on Redis's clock, like the pod bucket: every worker process of every machine sees
the same shops, shares and waiters, and the pod bucket's key (and so ``pause`` after a 429) is
the same one the plain bucket uses.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from connector.fusion.errors import FusionUnavailable
from connector.ratelimit import TokenBucket

#: The shop on whose behalf this thread calls Fusion now (set around one unit of work).
_acting_for: ContextVar[str | None] = ContextVar("mlc_fair_share_shop", default=None)

_TAKE = """
local pod, active, waiting, mine = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local shop = ARGV[3]
local window = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local keep = math.ceil(window + burst / rate) + 60

redis.call('ZADD', active, now, shop)
redis.call('ZREMRANGEBYSCORE', active, '-inf', now - window)
redis.call('EXPIRE', active, keep)
local n = redis.call('ZCARD', active)
local share = rate / n
local share_burst = math.max(cost, burst / n)

local m = redis.call('HMGET', mine, 'tokens', 'ts')
local mt = tonumber(m[1]) or share_burst
local mts = tonumber(m[2]) or now
mt = math.min(share_burst, mt + math.max(0, now - mts) * share)
local within = mt >= cost

-- a waiter's score is when its wait ends, plus a little: one that went away drops out by itself
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)
local others = redis.call('ZCARD', waiting)
if redis.call('ZSCORE', waiting, shop) then others = others - 1 end

local result
if (not within) and others > 0 then
  result = {'yield', tostring((cost - mt) / share), tostring(n)}
else
  local p = redis.call('HMGET', pod, 'tokens', 'ts')
  local tokens = tonumber(p[1]) or burst
  local ts = tonumber(p[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  local wait = 0
  if tokens >= cost then
    tokens = tokens - cost
    mt = math.max(0, mt - cost)
    if within then redis.call('ZREM', waiting, shop) end
  else
    wait = (cost - tokens) / rate
    if within then
      redis.call('ZADD', waiting, now + wait + math.max(0.25, 2 * cost / rate), shop)
      redis.call('EXPIRE', waiting, keep)
    end
  end
  redis.call('HSET', pod, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('EXPIRE', pod, math.ceil(burst / rate) + 60)
  result = {'wait', tostring(wait), tostring(n)}
end
redis.call('HSET', mine, 'tokens', tostring(mt), 'ts', tostring(now))
redis.call('EXPIRE', mine, keep)
return result
"""


class FusionYielded(FusionUnavailable):
    """This shop is over its share of the pod while another shop waits: try again later.

    The request was never sent, so it is handled like any other unavailability that certainly did
    not reach Fusion (a create gives its claim back at once, ``connector.services.create_once``);
    but it is no failure of the work: processing defers it without using up an attempt.
    """


@contextmanager
def acting_for(shop: object) -> Iterator[None]:
    """Fusion calls made inside count against ``shop``'s share (its id; None: the pod's own work)."""
    token = _acting_for.set(None if shop is None else str(shop))
    try:
        yield
    finally:
        _acting_for.reset(token)


def current_shop() -> str | None:
    return _acting_for.get()


@dataclass
class FairShareBucket(TokenBucket):
    """The pod's bucket, shared out between the shops active in the last ``window`` seconds.

    Calls made outside :func:`acting_for` (the Fusion poller, ``ml-connector fusion ping``) are the
    pod's own work: they take from the pod bucket as before and never yield. ``pause`` (after a
    429, for every shop) is the pod bucket's.
    """

    window: float = 60.0
    patience: float = 3.0   # how long a shop over its share waits in the thread before it yields

    def __post_init__(self):
        super().__post_init__()
        self._take_share = self.redis.register_script(_TAKE)

    def try_take(self, cost: float = 1, *, in_flight: bool = False) -> float:
        """Take ``cost`` tokens for the current shop, or return how long to wait for them.
        (``in_flight`` is the pod's own calls' only: Fusion reports no budget to correct from.)

        Raises :class:`FusionYielded` when the shop is over its share and another shop waits.
        """
        shop = current_shop()
        if shop is None:
            return super().try_take(cost, in_flight=in_flight)
        keys = [self.key, f"{self.key}:active", f"{self.key}:waiting", f"{self.key}:shop:{shop}"]
        verdict, seconds, active = self._take_share(keys=keys, args=[self.rate, self.burst, shop, self.window, cost])
        if verdict in (b"yield", "yield"):
            raise FusionYielded(f"{self.key}: over its share (1/{int(active)} of the pod) while "
                                f"another shop waits", float(seconds))
        return float(seconds)

    def take(self, cost: float = 1, max_wait: float = 60.0, *, in_flight: bool = False) -> float:
        """Block until ``cost`` tokens are taken; the seconds waited. Raises :class:`FusionYielded`
        once the shop has waited ``patience`` seconds for its share while other shops waited."""
        waited = 0.0
        while True:
            try:
                return waited + super().take(cost, max_wait - waited, in_flight=in_flight)
            except FusionYielded as yielded:
                if waited + yielded.retry_after > self.patience:
                    raise
                time.sleep(yielded.retry_after)
                waited += yielded.retry_after
