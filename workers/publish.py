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
from contextlib import suppress
from dataclasses import dataclass
from typing import Callable, TypeVar

from kombu.utils.json import dumps
from kombu.utils.uuid import uuid
from redis import Redis

from workers import broker
from workers.app import CORRELATION_HEADER, app

T = TypeVar("T")


class _Channel(broker.Channel):
    """The broker's channel (one Redis client on its pool, ``workers.broker``), which can hold its
    messages back.

    While ``_captured`` is a list, a publish pushes nothing: the queue and kombu's envelope land
    there, for :func:`prepare` to push in a round trip of its caller's.
    """

    _captured: list | None = None

    def _put(self, queue, message, **kwargs):
        if self._captured is None:
            return super()._put(queue, message, **kwargs)
        self._captured.append((queue, message))


class _Transport(broker.Transport):
    Channel = _Channel


#: Producers no send is using, by process and broker (a test or benchmark may point the app at
#: another Redis; a forked child must not share its parent's sockets). ``list.pop`` and ``append``
#: are atomic, for threads and greenlets alike.
_free: dict[tuple[int, str], list[tuple]] = {}


def _new_publisher() -> tuple:
    """A producer and the app's publishing settings, read when it is made."""
    conf = app.conf
    ours = broker.transport_for(conf.broker_write_url) is not None
    connection = app.connection_for_write(transport=_Transport if ours else None)
    options = dict(exchange="", serializer=conf.task_serializer, compression=conf.task_compression,
                   delivery_mode=conf.task_default_delivery_mode, retry=True,
                   retry_policy=conf.task_publish_retry_policy)
    # what kombu does on a publish with retries, done now: the channel :func:`prepare` opens
    # without one connects under the same policy, not kombu's default of retrying for seconds
    connection.transport_options.update(conf.task_publish_retry_policy or {})
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
    publisher = _take()
    producer, options, _ = publisher
    task_id, body, headers, properties = _message(publisher, task, args, correlation)
    try:
        if priority is not None:
            properties = dict(properties, priority=priority)
        producer.publish(body, routing_key=queue, headers=headers, **options, **properties)
    except BaseException:
        _discard(publisher)
        raise
    _free_list().append(publisher)
    return task_id


class NotPrepared(Exception):
    """This broker's messages cannot be pushed by hand (not kombu's plain Redis transport, or a
    key prefix or queue expiry that kombu alone applies): :func:`send` it instead."""


@dataclass(frozen=True)
class Prepared:
    """One task message, ready to push in a round trip of the caller's: kombu's envelope (what
    :func:`send` would ``LPUSH``) for each lane asked for."""

    task_id: str
    pushes: dict[int, tuple[str, str]]  # priority -> (the lane's Redis list, the payload)


def prepare(task: str, args: list, queue: str, correlation: dict | None, priorities: tuple[int, ...],
            push: Callable[[Redis, Prepared], T]) -> T:
    """Build the message :func:`send` would send, once for each of ``priorities``, and call
    ``push`` with the broker's client to push one of them (with whatever else goes in its round
    trip); what ``push`` returns.

    kombu builds the envelope (its channel's own ``basic_publish``, with the push held back), so
    workers take it as any other: the same headers, correlation included, and the same lane lists.
    No retry here: a ``push`` that fails raises, and the caller sends again with :func:`send`.
    Raises :class:`NotPrepared` where only kombu may push.
    """
    return prepare_all([Message(task, args, queue, correlation, priorities)],
                       lambda client, prepared: push(client, prepared[0]))


@dataclass(frozen=True)
class Message:
    """A task message to :func:`prepare_all`: ``task(*args)`` on ``queue``, for each lane of ``priorities``."""

    task: str
    args: list
    queue: str
    correlation: dict | None
    priorities: tuple[int, ...]


def prepare_all(messages: list[Message], push: Callable[[Redis, list[Prepared]], T]) -> T:
    """:func:`prepare` for several messages at once: ``push`` gets them all, in their order, to
    push in one round trip (the tasks of one commit's deliveries, ``workers.dispatch``)."""
    publisher = _take()
    producer, options, _ = publisher
    try:
        channel = producer.channel
        if not isinstance(channel, _Channel) or channel.global_keyprefix or channel._expires:
            raise NotPrepared(app.conf.broker_write_url.split(":", 1)[0])
        prepared = [_envelopes(publisher, channel, options, message) for message in messages]
        with channel.conn_or_acquire() as client:
            result = push(client, prepared)
    except NotPrepared:
        _free_list().append(publisher)
        raise
    except BaseException:
        _discard(publisher)
        raise
    _free_list().append(publisher)
    return result


def _envelopes(publisher: tuple, channel: _Channel, options: dict, message: Message) -> Prepared:
    """kombu's envelope of ``message`` for each of its lanes, built by the channel's own publish
    with the push held back."""
    producer = publisher[0]
    task_id, body, headers, properties = _message(publisher, message.task, message.args, message.correlation)
    channel._captured = captured = []
    try:
        producer.publish(body, routing_key=message.queue, headers=headers, **dict(options, retry=False),
                         **properties)
    finally:
        channel._captured = None
    [(routed, envelope)] = captured
    pushes = {}
    for priority in message.priorities:
        envelope["properties"]["priority"] = priority
        key = channel._q_for_pri(routed, channel._get_message_priority(envelope, reverse=False))
        pushes[priority] = (key, dumps(envelope))
    return Prepared(task_id, pushes)


def _take() -> tuple:
    try:
        return _free_list().pop()
    except IndexError:
        return _new_publisher()


def _discard(publisher: tuple) -> None:
    with suppress(Exception):  # kombu gave up and closed the channel: not put back, a new one is made
        publisher[0].connection.close()


def _message(publisher: tuple, task: str, args: list, correlation: dict | None) -> tuple[str, object, dict, dict]:
    """Celery's message for ``task(*args)``: its id, body, headers (``correlation`` in its own) and
    properties."""
    _, _, ignore_result = publisher
    task_id = uuid()
    parent = app.current_worker_task  # sent by a task (replay, the sweeper): Flower links the two
    headers, properties, body, _ = app.amqp.create_task_message(
        task_id, task, args, reply_to=app.thread_oid, ignore_result=ignore_result,
        root_id=parent and (parent.request.root_id or parent.request.id), parent_id=parent and parent.request.id)
    if correlation:
        headers[CORRELATION_HEADER] = correlation
    return task_id, body, headers, properties
