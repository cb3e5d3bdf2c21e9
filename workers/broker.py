"""The Redis transport of Celery's messages, with one Redis client per channel.

Kombu's Redis channel makes a new ``redis.Redis`` client for each command it sends outside its
polling loop: for every task message a worker takes, one to record it as unacknowledged and one
to acknowledge it, and one for every message sent. Building a client (redis-py fills a table of
some 170 response callbacks) was about 3 % of a busy worker's CPU (BENCHMARKS.md, "The order held
through its payments"), and part of what a new webhook cost the receiver (``workers.publish``).
A client holds no connection of its own (each command takes one from the channel's pool, as
before), so one client per channel serves every thread.

Workers only (``workers.app`` sets it when a worker starts): Flower reads the broker's kind from the
scheme of the app's connection URL, which names the transport. ``redis://``, and ``rediss://``
that says how to check the server's certificate (``ssl_cert_reqs``, as deploy/README.md asks):
kombu turns TLS on from that for this transport too. A bare ``rediss://`` keeps kombu's own
transport, which is what turns TLS on from the scheme alone, and any other scheme
(``sentinel://``) has its own.
"""
from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client is None:
            pool = self.pool  # a new pool after a fork or a reconnect: the client follows it
            if self._client is None or self._client.connection_pool is not pool:
                self._client = self._create_client()
            client = self._client
        yield client


class Transport(kombu_redis.Transport):
    Channel = Channel


def transport_for(url: str) -> str | None:
    """The transport for a broker URL: this module's where it serves (above), else None (kombu's)."""
    ours = url.startswith("redis://") or (url.startswith("rediss://") and "ssl_cert_reqs=" in url)
    return f"{__name__}:Transport" if ours else None
