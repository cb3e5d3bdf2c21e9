"""A closed-loop load: a fixed number of client threads, each sending its next request when the
last is answered, on a fresh connection each time as deliveries from Shopify's many senders do.

``http.client`` rather than requests: the client shares the two cores with the servers, and the
lighter it is, the more of the machine the server being measured gets.
"""
from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Request = tuple[bytes, dict[str, str]]  # body, headers


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
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Latency at quantile ``q``, in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def merged(runs: list[Run]) -> Run:
    total = Run(sum(r.requests for r in runs), sum(r.seconds for r in runs), server_cpu=sum(r.server_cpu for r in runs))
    for run in runs:
        total.latencies += run.latencies
        total.statuses += run.statuses
    return total


def post_all(url: str, requests: list[Request], threads: int) -> Run:
    """POST every request once to ``url`` from ``threads`` threads; every answer is counted by status."""
    parts = urlsplit(url)
    next_index = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    statuses: list[Counter] = [Counter() for _ in range(threads)]

    def client(slot: int) -> None:
        while (i := next(next_index)) < len(requests):
            body, headers = requests[i]
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                connection.request("POST", parts.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                statuses[slot][response.status] += 1
            finally:
                connection.close()
            latencies[slot].append(time.perf_counter() - started)

    workers = [threading.Thread(target=client, args=(slot,)) for slot in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run = Run(len(requests), time.perf_counter() - started)
    for slot in range(threads):
        run.latencies += latencies[slot]
        run.statuses += statuses[slot]
    return run
