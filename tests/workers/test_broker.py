"""``workers.broker``: the transport workers consume with, one Redis client per channel, on a real
Redis that restarts."""
from __future__ import annotations

from kombu import Queue

from workers import broker as transport
from workers.app import app


def test_given_a_redis_url_then_workers_use_the_transport_that_keeps_one_client():
    assert transport.transport_for("redis://127.0.0.1:6379/0") == "workers.broker:Transport"
    # with TLS: ours where the URL says how to check the certificate (kombu turns TLS on from that);
    # a bare rediss:// is kombu's own transport, which turns TLS on from the scheme alone
    assert transport.transport_for("rediss://cache.example:6380/0?ssl_cert_reqs=required") == \
        "workers.broker:Transport"
    assert transport.transport_for("rediss://cache.example:6380/0") is None
    assert transport.transport_for("sentinel://127.0.0.1:26379") is None


def test_given_a_worker_starting_then_it_consumes_through_our_transport_while_flower_still_sees_redis(monkeypatch):
    from celery import signals
    from flower.utils.broker import Broker, Redis

    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:6379/0")
    monkeypatch.setitem(app.conf, "broker_transport", None)
    # Flower, with the app as every process but a worker has it: a Redis broker it can show
    assert isinstance(Broker(app.connection().as_uri(include_password=True)), Redis)

    signals.celeryd_init.send(sender="invoices@test", instance=None, conf=app.conf, options={})

    assert app.conf.broker_transport == "workers.broker:Transport"
    with app.connection_for_read() as connection:
        assert isinstance(connection.default_channel, transport.Channel)


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
