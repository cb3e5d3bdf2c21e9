"""``workers.broker``: the transport workers consume with, one Redis client per channel, on a real
Redis that restarts."""
from __future__ import annotations

from kombu import Queue

from workers import broker as transport
from workers.app import app


def test_given_a_redis_url_then_workers_use_the_transport_that_keeps_one_client():
    assert transport.transport_for("redis://127.0.0.1:6379/0") == "workers.broker:Transport"
    # TLS is turned on by kombu's own transport from the scheme; sentinel has a transport of its own
    assert transport.transport_for("rediss://cache.example:6380/0") is None
    assert transport.transport_for("sentinel://127.0.0.1:26379") is None


def test_given_a_channel_then_its_commands_share_one_client_and_survive_a_broker_restart(broker):
    redis, start, stop = broker
    with app.connection_for_read(transport=transport.Transport) as connection:
        channel = connection.default_channel
        assert isinstance(channel, transport.Channel)
        queue = Queue("mlc-test-broker", channel=channel)
        queue.declare()

        channel.basic_publish(channel.prepare_message("one"), exchange="", routing_key=queue.name)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        assert redis.llen(queue.name) == 1

        stop()
        start()  # an empty Redis again (no persistence): the client's pool reconnects
        channel.basic_publish(channel.prepare_message("two"), exchange="", routing_key=queue.name)
        assert redis.llen(queue.name) == 1
        assert queue.get(no_ack=True).body == b"two"
