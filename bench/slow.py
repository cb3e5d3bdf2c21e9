"""The receiver with slow and stalled clients: real deliveries while 200 connections that sent their
headers and stalled in the body stay open, against a bare endpoint on the same server.

Two configurations in one run, both servers up at once: the old threads workers (2 × 4 threads, as
the Procfile ran them before) and the Procfile's gevent workers (``web/gunicorn_conf.py``). For
each, on the same gunicorn: signed deliveries and the bare endpoint (``GET /livez``, which reads
nothing) first with no stalled client, in rounds that alternate which configuration goes first (so
that a change in the machine's load weighs on both), then with the stalled ones open. A delivery not answered within 5 s
is one Shopify counts as failed; past a deadline no more are sent, so a server that answers
nothing ends its run in bounded time. The figures: how many were answered, the rate and p99, and
their ratios to the bare endpoint under the same stalled connections and to the calm run, and the
server's CPU per request sent (the steadiest figure on a shared machine). No Celery worker runs
(the messages wait in Redis), as in ``bench receiver``.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

from bench.load import NO_ANSWER, Run, merged, post_all
from bench.receiver import THREADS, deliveries, machine, setting
from bench.servers import PROCFILE_APP, Server, settings_of

STALLED = 200
SHOPIFY_WAITS = 5.0  # s: Shopify counts a delivery not answered within 5 s as failed
WARM_UP = 100
CALM_ROUNDS = 2
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
    with setting("mlc-bench-slow-") as at, ExitStack() as resources:
        print(f"\nslow connections ({machine(at.database_url, at.redis_url, load)}; {deliveries_count} orders/create "
              f"deliveries and {deliveries_count} GET /livez per part, {THREADS} client threads, "
              f"{stalled} stalled connections, answers within {SHOPIFY_WAITS:.0f} s, parts cut at {deadline:.0f} s; "
              f"no stalled client: {CALM_ROUNDS} alternating rounds of {deliveries_count // CALM_ROUNDS})")
        servers = {}
        for number, (name, options) in enumerate(CONFIGS.items()):
            servers[name] = Server(f"receiver-{number}", PROCFILE_APP, at.env, at.workdir, options)
            resources.callback(servers[name].stop)
            post_all(f"{servers[name].url}/webhooks/shopify",
                     deliveries(at.secret, -WARM_UP * (number + 1), WARM_UP), THREADS)
        first = iter(range(0, 10 ** 9, deliveries_count))  # each part's deliveries are new events
        calm: dict[str, list[tuple[Run, Run]]] = {name: [] for name in servers}
        for number in range(CALM_ROUNDS):
            for name in (list(servers) if number % 2 == 0 else list(servers)[::-1]):
                calm[name].append(_measure(servers[name], at.secret, next(first), deliveries_count // CALM_ROUNDS,
                                           deadline))
        for name, server in servers.items():
            with ExitStack() as held:
                for sock in stall(server.url, stalled):
                    held.enter_context(sock)
                siege = _measure(server, at.secret, next(first), deliveries_count, deadline)
            quiet = merged([r[0] for r in calm[name]]), merged([r[1] for r in calm[name]])
            _report(name, server, quiet, siege, stalled, deliveries_count)


def _report(name: str, server: Server, calm: tuple[Run, Run], siege: tuple[Run, Run], stalled: int, count: int) -> None:
    print(f"\n  {name}: {settings_of(server.argv)}")
    print("                                     answered   per s    p50 ms    p99 ms    CPU ms")
    for label, result in (("deliveries, no stalled client", calm[0]), ("GET /livez, no stalled client", calm[1]),
                          (f"deliveries, {stalled} stalled", siege[0]), (f"GET /livez, {stalled} stalled", siege[1])):
        print(_line(label, result, count))
    new, bare = siege
    print(f"  with {stalled} stalled: deliveries ÷ bare endpoint: {_ratio(new.rate, bare.rate)} per s, "
          f"{_ratio(new.percentile(0.99), bare.percentile(0.99))} p99; "
          f"deliveries ÷ no stalled client: {_ratio(new.rate, calm[0].rate)} per s, "
          f"{_ratio(new.percentile(0.99), calm[0].percentile(0.99))} p99")
