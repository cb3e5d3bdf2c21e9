"""What one log line costs the process that writes it: the receiver writes one per new webhook
(gunicorn's access line, which names the delivery), a worker a few per task.

Each case formats and writes ``lines`` records to an in-memory stream through a handler set up as
the processes set theirs up (``connector.logs``), inside a correlation block as the receiver's
are. The baseline is what every process wrote before JSON logs: the standard library's formatter
with the secret-masking filter. Cases run interleaved, ``rounds`` times, and the median of each
is printed with its ratio to the baseline's, measured in the same run.
"""
from __future__ import annotations

import io
import logging
import os
import statistics
import time

from connector import logs
from connector.redact import RedactingFilter

CORRELATION = {"inbox_id": 812, "shop": "acme.myshopify.com", "topic": "orders/create",
               "event_id": "f10fe10a-4ca4-4d76-b064-ad73d6e25b3d", "gid": "gid://shopify/Order/5500000000001"}


def _baseline_handler(stream) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    return handler


def _handler(fmt: str):
    def make(stream) -> logging.Handler:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logs.formatter(fmt))
        return logs.install_filters(handler)
    return make


#: name -> (handler factory, message, args)
CASES = {
    "baseline (text, masked secrets only)": (_baseline_handler, "webhook accepted", ()),
    "text": (_handler("text"), "webhook accepted", ()),
    "json": (_handler("json"), "webhook accepted", ()),
    "json, an email and a token to mask": (_handler("json"), "no customer for %s (%s)",
                                           ("jane.doe@example.com", "access_token=shpat_0123456789")),
}


def _microseconds_per_line(make, message: str, args: tuple, lines: int) -> float:
    logger = logging.getLogger(f"bench.logs.{id(make)}.{message}")
    logger.propagate, logger.handlers = False, [make(io.StringIO())]
    logger.setLevel(logging.INFO)
    with logs.bind(**CORRELATION):
        started = time.perf_counter()
        for _ in range(lines):
            logger.info(message, *args)
        return (time.perf_counter() - started) / lines * 1e6


def run(lines: int = 20000, rounds: int = 5) -> dict[str, float]:
    print(f"log lines: {lines} per case and round, {rounds} rounds interleaved; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, (make, message, args) in CASES.items():
            samples[name].append(_microseconds_per_line(make, message, args, lines))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians[next(iter(CASES))]
    print(f"{'case':<40} {'µs/line':>9} {'× baseline':>11}")
    for name, value in medians.items():
        print(f"{name:<40} {value:>9.1f} {value / baseline:>11.2f}")
    return medians
