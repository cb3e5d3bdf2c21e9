"""The receiver with slow and stalled clients: real deliveries while 200 connections that sent their
headers and stalled in the body stay open, against a bare endpoint on the same server.

Two configurations, one after the other in one run: the old threads workers (2 × 4 threads, as the
Procfile ran them before) and the Procfile's gevent workers (``web/gunicorn_conf.py``). For each,
on the same gunicorn: signed deliveries and the bare endpoint (``GET /livez``, which reads nothing)
first with no stalled client, then with the stalled ones open. A delivery not answered within 5 s
is one Shopify counts as failed; past a deadline no more are sent, so a server that answers
nothing ends its run in bounded time. The figures: how many were answered, the rate and p99, and
their ratios to the bare endpoint under the same stalled connections and to the calm run, and the
server's CPU per request sent (the steadiest figure on a shared machine). No Celery worker runs (the messages wait in Redis), as in ``bench receiver``.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

from bench.load import NO_ANSWER, Run, post_all
from bench.receiver import THREADS, deliveries, machine, setting
from bench.servers import PROCFILE_APP, Server, settings_of

STALLED = 200
SHOPIFY_WAITS = 5.0  # s: Shopify counts a delivery not answered within 5 s as failed
WARM_UP = 100
#: gunicorn's command line overrides its config module: the threads workers the Procfile ran before
CONFIGS = {"threads (before)": ("--worker-class", "gthread", "--threads", "4"), "gevent (Procfile)": ()}


def stall(url: str, count: int) -> list[socket.socket]:
    """``count`` connections that sent a delivery's headers and 1 of its 1,000 body bytes."""
    parts = urlsplit(url)
    head = (f"POST /webhooks/shopify HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 1000\r\n\r\n{{").encode()
    opened = []
    for _ in range(count):
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        sock.sendall(head)
        opened.append(sock)
    time.sleep(1.0)  # let the server take them all up before the measured requests come
    return opened


def _measure(server: Server, secret: str, start: int, count: int, deadline: float) -> tuple[Run, Run]:
    """Deliveries, then as many requests to the bare endpoint, each bounded by Shopify's 5 s."""
    parts = ((f"{server.url}/webhooks/shopify", deliveries(secret, start, count), "POST"),
             (f"{server.url}/livez", [(None, {})] * count, "GET"))
    runs = []
    for url, batch, method in parts:
        cpu = server.cpu_seconds()
        runs.append(post_all(url, batch, THREADS, method=method, timeout=SHOPIFY_WAITS, deadline=deadline))
        runs[-1].server_cpu = server.cpu_seconds() - cpu
    return runs[0], runs[1]


def _line(label: str, run: Run, count: int) -> str:
    late = run.statuses.get(NO_ANSWER, 0)
    other = {s: n for s, n in run.statuses.items() if s not in (200, NO_ANSWER)}
    return (f"  {label:<34} {run.statuses.get(200, 0):>5}/{count:<5} {run.rate:9.0f} {run.percentile(0.5):9.1f} "
            f"{run.percentile(0.99):9.1f} {run.cpu_per_request:9.2f}   {late} unanswered in {SHOPIFY_WAITS:.0f} s"
            + (f", other statuses {other}" if other else ""))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "—"  # x == x: not NaN (nothing answered)


def run(*, deliveries_count: int, stalled: int = STALLED, deadline: float = 60.0, **_) -> None:
    load = os.getloadavg()[0]
    with setting("mlc-bench-slow-") as at:
        secret, env, workdir = at.secret, at.env, at.workdir
        print(f"\nslow connections ({machine(at.database_url, at.redis_url, load)}; {deliveries_count} orders/create "
              f"deliveries and {deliveries_count} GET /livez per part, {THREADS} client threads, "
              f"{stalled} stalled connections, answers within {SHOPIFY_WAITS:.0f} s, parts cut at {deadline:.0f} s)")
        for number, (name, options) in enumerate(CONFIGS.items()):
            server = Server(f"receiver-{number}", PROCFILE_APP, env, workdir, options)
            try:
                start = 10 * deliveries_count * (number + 1)
                post_all(f"{server.url}/webhooks/shopify", deliveries(secret, -WARM_UP * (number + 1), WARM_UP),
                         THREADS)
                calm = _measure(server, secret, start, deliveries_count, deadline)
                with ExitStack() as held:
                    for sock in stall(server.url, stalled):
                        held.enter_context(sock)
                    siege = _measure(server, secret, start + deliveries_count, deliveries_count, deadline)
            finally:
                server.stop()
            print(f"\n  {name}: {settings_of(server.argv)}")
            print("                                     answered   per s    p50 ms    p99 ms    CPU ms")
            for label, result in (("deliveries, no stalled client", calm[0]), ("GET /livez, no stalled client", calm[1]),
                                  (f"deliveries, {stalled} stalled", siege[0]), (f"GET /livez, {stalled} stalled", siege[1])):
                print(_line(label, result, deliveries_count))
            new, bare = siege
            print(f"  with {stalled} stalled: deliveries ÷ bare endpoint: {_ratio(new.rate, bare.rate)} per s, "
                  f"{_ratio(new.percentile(0.99), bare.percentile(0.99))} p99; "
                  f"deliveries ÷ no stalled client: {_ratio(new.rate, calm[0].rate)} per s, "
                  f"{_ratio(new.percentile(0.99), calm[0].percentile(0.99))} p99")
