"""Publishing a task: the message ``app.send_task`` sends, through kombu and its retries, for less.

Per call, ``app.send_task`` took a producer from the pool, routed the task, declared its queue
again, and kombu's Redis transport built a new Redis client for the one ``LPUSH`` (redis-py fills
a table of some 170 response callbacks for each client): most of what a new webhook cost the
receiver beyond the durable floor (BENCHMARKS.md, "Receiver"). Here producers are kept on a free
list, each with a channel that keeps one Redis client, and nothing is declared (publishing to the
default exchange pushes straight onto the queue's list; each worker declares its queues when it
starts). The message is still Celery's (``app.amqp.create_task_message``), and kombu still
serializes and publishes it, retrying a lost connection under the app's
``task_publish_retry_policy`` (by default three retries over 0.6 s). A send that fails past that
raises: :func:`workers.dispatch.send_after_commit` says what then recovers the event.

A free list, not one producer per thread: under the receiver's gevent workers ``threading.local``
is per greenlet, and a greenlet serves one connection, so each delivery would have opened (and
leaked) a Redis connection of its own. A send takes a producer from the list, or makes one when
all are in use, and puts it back afterwards: as many producers as sends ever ran at once, in
threads or greenlets alike.
"""
from __future__ import annotations

import os
from contextlib import contextmanager, suppress

from kombu.transport import redis as kombu_redis
from kombu.utils.uuid import uuid

from workers.app import CORRELATION_HEADER, app


class _Channel(kombu_redis.Channel):
    """kombu's Redis channel, with one client on its connection pool instead of one per command."""

    _client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client is None:
            pool = self.pool  # a new pool after a fork or a reconnect: the client follows it
            if self._client is None or self._client.connection_pool is not pool:
                self._client = self._create_client()
            client = self._client
        yield client


class _Transport(kombu_redis.Transport):
    Channel = _Channel


#: Producers no send is using, by process and broker (a test or benchmark may point the app at
#: another Redis; a forked child must not share its parent's sockets). ``list.pop`` and ``append``
#: are atomic, for threads and greenlets alike.
_free: dict[tuple[int, str], list[tuple]] = {}


def _new_publisher() -> tuple:
    """A producer and the app's publishing settings, read when it is made."""
    conf = app.conf
    # redis:// and rediss:// only: any other scheme (sentinel://) keeps kombu's own transport
    ours = conf.broker_write_url.startswith(("redis://", "rediss://"))
    connection = app.connection_for_write(transport=_Transport if ours else None)
    options = dict(exchange="", serializer=conf.task_serializer, compression=conf.task_compression,
                   delivery_mode=conf.task_default_delivery_mode, retry=True,
                   retry_policy=conf.task_publish_retry_policy)
    return app.amqp.Producer(connection, auto_declare=False), options, conf.task_ignore_result


def _free_list() -> list[tuple]:
    return _free.setdefault((os.getpid(), app.conf.broker_write_url), [])


def send(task: str, args: list, queue: str, correlation: dict | None = None, priority: int | None = None) -> str:
    """Publish ``task(*args)`` on ``queue`` as ``app.send_task`` would; the task id.

    ``correlation`` (inbox id, shop, topic, GID: never a secret or a payload) goes in a header of
    its own, which the worker binds around the task (``workers.app``) so its lines name the event.

    ``priority`` picks the queue's lane (``workers.dispatch``); None: the first lane, as Celery's.

    Raises kombu's ``OperationalError`` when the broker stays unreachable past the retry policy.
    """
    free = _free_list()
    try:
        publisher = free.pop()
    except IndexError:
        publisher = _new_publisher()
    producer, options, ignore_result = publisher
    task_id = uuid()
    parent = app.current_worker_task  # sent by a task (replay, the sweeper): Flower links the two
    headers, properties, body, _ = app.amqp.create_task_message(
        task_id, task, args, reply_to=app.thread_oid, ignore_result=ignore_result,
        root_id=parent and (parent.request.root_id or parent.request.id), parent_id=parent and parent.request.id)
    if correlation:
        headers[CORRELATION_HEADER] = correlation
    try:
        if priority is not None:
            properties = dict(properties, priority=priority)
        producer.publish(body, routing_key=queue, headers=headers, **options, **properties)
    except BaseException:
        with suppress(Exception):  # kombu gave up and closed the channel: not put back, a new one is made
            producer.connection.close()
        raise
    free.append(publisher)
    return task_id
