"""A closed-loop load: a fixed number of client threads, each sending its next request when the
last is answered, on a fresh connection each time as deliveries from Shopify's many senders do.

``http.client`` rather than requests: the client shares the two cores with the servers, and the
lighter it is, the more of the machine the server being measured gets. A request not answered
within ``timeout`` (Shopify waits 5 s) counts as :data:`NO_ANSWER`; past ``deadline`` seconds no
more requests are sent, so a server that answers nothing ends its run in bounded time.
"""
from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Request = tuple[bytes | None, dict[str, str]]  # body, headers
NO_ANSWER = 0  # the status counted for a request that timed out or whose connection failed


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    server_cpu: float = 0.0  # seconds of CPU the server's processes spent meanwhile

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of server CPU per request: unlike the rate, barely moved by other load."""
        return self.server_cpu / self.requests * 1000

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Answers a second."""
        return self.answered / self.seconds

    def percentile(self, q: float) -> float:
        """Latency of the answered requests at quantile ``q``, in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def merged(runs: list[Run]) -> Run:
    total = Run(sum(r.requests for r in runs), sum(r.seconds for r in runs), server_cpu=sum(r.server_cpu for r in runs))
    for run in runs:
        total.latencies += run.latencies
        total.statuses += run.statuses
    return total


def post_all(url: str, requests: list[Request], threads: int, *, method: str = "POST", timeout: float = 30.0,
             deadline: float | None = None) -> Run:
    """Send every request once to ``url`` from ``threads`` threads (until ``deadline`` seconds have
    passed, if given); every answer is counted by status."""
    parts = urlsplit(url)
    started = time.perf_counter()
    next_index = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    statuses: list[Counter] = [Counter() for _ in range(threads)]

    def client(slot: int) -> None:
        while (i := next(next_index)) < len(requests):
            if deadline is not None and time.perf_counter() - started > deadline:
                return
            body, headers = requests[i]
            sent = time.perf_counter()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            try:
                connection.request(method, parts.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                statuses[slot][response.status] += 1
            except OSError:  # no answer in time (socket.timeout is an OSError), or the connection failed
                statuses[slot][NO_ANSWER] += 1
                continue
            finally:
                connection.close()
            latencies[slot].append(time.perf_counter() - sent)

    workers = [threading.Thread(target=client, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run = Run(sum(sum(counts.values()) for counts in statuses), time.perf_counter() - started)  # sent
    for slot in range(threads):
        run.latencies += latencies[slot]
        run.statuses += statuses[slot]
    return run
