"""Logging for every process: one format, secrets and email addresses masked, the event in hand
named on every line, and refused webhooks counted rather than logged one by one.

- **Format** (``MLC_LOG_FORMAT``): ``json``, one object a line through python-json-logger, which a
  log shipper reads as it is; or ``text`` for a person reading a terminal (the demo). The web
  processes' gunicorn lines (``web.gunicorn_logs``) and the workers' Celery lines
  (``workers.app``) go through the same formatter.
- **Correlation**: the receiver :func:`bind`\\ s the inbox id, shop, topic, Shopify's event id and
  the object's GID when it stores a delivery; :mod:`workers.publish` carries them to the task in a
  message header (ids and names, never a secret or a payload) and the worker binds them again
  around the task, so one ``inbox_id`` (and ``gid``) finds a webhook's every line, from the
  receiver's through each worker's. A :class:`CorrelationFilter` on each handler adds them.
- **Personal data** (``docs/privacy.md``): the connector logs ids, not payloads; whatever slips
  through (an email address in an exception's message, a guest's binding key) is masked on the
  formatted line, as secrets are (:mod:`connector.redact`).
- **Refusals**: anyone can send the receiver bad deliveries, and each would be a line.
  :class:`RefusalLog` logs at most ``MLC_LOG_REFUSALS_LIMIT`` per ``MLC_LOG_REFUSALS_WINDOW``
  seconds for each shop and reason, and then one line with how many more it refused.
"""
from __future__ import annotations

import atexit
import contextvars
import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from pythonjsonlogger.json import JsonFormatter

from connector.redact import RedactingFilter, redact_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
#: The record attributes every JSON line has, and the names they have there.
JSON_FIELDS = {"levelname": "level", "name": "logger", "process": "pid", "message": "message"}
#: What a line may say about the work in hand, in this order in the text format.
CORRELATION = ("inbox_id", "shop", "topic", "event_id", "gid", "task_id", "task")
#: What a task message carries on to the worker (the task's own id it has already).
CARRIED = ("inbox_id", "shop", "topic", "event_id", "gid")

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@(?:[A-Za-z0-9-]+\.)+([A-Za-z]{2,63})\b")


def mask_emails(text: str) -> str:
    """``jane.doe@example.com`` → ``j***@***.com``: what kind of address it was, not whose."""
    if "@" not in text:  # most lines: the expression is not run
        return text
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@***.{m.group(2)}", text)


def masked(line: str) -> str:
    return redact_text(mask_emails(line))


# -- correlation ---------------------------------------------------------------------------

_correlation: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mlc_correlation", default=None)


def correlation() -> dict[str, Any]:
    """The fields bound in this context (a copy)."""
    return dict(_correlation.get() or {})


def carried(**fields: Any) -> dict[str, Any]:
    """The bound fields a task message carries, with ``fields`` over them: ids and names only."""
    merged = {**correlation(), **_present(fields)}
    return {key: merged[key] for key in CARRIED if key in merged}


@contextmanager
def bind(**fields: Any) -> Iterator[dict[str, Any]]:
    """Name the work in hand on every line logged inside the block, in this thread or task only.

    The fields add to those already bound (empty ones are left out); :func:`annotate` adds more
    inside the block. The dict yielded is the block's own."""
    bound = {**correlation(), **_present(fields)}
    token = _correlation.set(bound)
    try:
        yield bound
    finally:
        _correlation.reset(token)


@contextmanager
def acting_as(bound: dict[str, Any]) -> Iterator[None]:
    """Run work done on behalf of another context as that context: exactly its fields, not
    merged with the caller's (one transaction's tasks, sent after its commit, each logging as its
    own event: ``workers.dispatch``)."""
    token = _correlation.set(bound)
    try:
        yield
    finally:
        _correlation.reset(token)


def annotate(**fields: Any) -> None:
    """Add fields to the innermost :func:`bind` block (what is learnt on the way: the shop and GID
    of an event a worker claimed). Outside any block it does nothing: a field set there would
    stay on the thread's next, unrelated work."""
    bound = _correlation.get()
    if bound is not None:
        bound.update(_present(fields))


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value not in (None, "")}


class CorrelationFilter(logging.Filter):
    """Adds the bound fields to each record that does not name them already (``extra=`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_correlation.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# -- formats -------------------------------------------------------------------------------

class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``pid``,
    ``message``, then the correlation fields and any ``extra=``; masked as a whole."""

    def __init__(self) -> None:
        super().__init__(list(JSON_FIELDS), rename_fields={k: v for k, v in JSON_FIELDS.items() if k != v},
                         timestamp="time", json_ensure_ascii=False)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = None  # first on the line; the library fills it last
        super().add_fields(log_data, record, message_dict)

    def format(self, record: logging.LogRecord) -> str:
        return masked(super().format(record))


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``, then ``[inbox_id=… shop=… gid=…]`` when the line has them; masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        named = " ".join(f"{key}={getattr(record, key)}" for key in CORRELATION if hasattr(record, key))
        if named:
            first, newline, rest = line.partition("\n")  # before a traceback, on the message's line
            line = f"{first} [{named}]{newline}{rest}"
        return masked(line)


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter of ``MLC_LOG_FORMAT``."""
    return TextFormatter() if fmt == "text" else JsonLineFormatter()


def install_filters(handler: logging.Handler) -> logging.Handler:
    """The filters every handler of the connector's processes has (once each)."""
    for kind in (RedactingFilter, CorrelationFilter):
        if not any(isinstance(f, kind) for f in handler.filters):
            handler.addFilter(kind())
    return handler


class _Handler(logging.StreamHandler):
    """The root handler :func:`configure_logging` installs (found again by its class)."""


def configure_logging(level: str | int = "INFO", fmt: str = "json") -> logging.Handler:
    """One handler on the root logger, to stderr, in ``fmt``. Safe to call again: it changes the
    format and level of the handler it installed before."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Handler)), None)
    if handler is None:
        handler = _Handler()
        root.addHandler(handler)
    handler.setFormatter(formatter(fmt))
    install_filters(handler)
    root.setLevel(level)
    return handler


# -- refused deliveries --------------------------------------------------------------------

class RefusalLog:
    """Logs refused deliveries: at most ``limit`` lines per ``window`` seconds for each (shop,
    reason), and for each window in which it held back more, one line saying how many.

    That line is written when the next refusal arrives after the window ended (of any shop), or
    by :meth:`flush` (at exit, with ``flush_at_exit``): a flood is summed up once per window, and
    a quiet receiver writes nothing. Counts are per process. The shop comes from an unsigned
    header, so at most ``MAX_KEYS`` shops are counted apart; refusals of further ones are counted
    together under the shop ``*``.
    """

    MAX_KEYS = 1000

    def __init__(self, logger: logging.Logger, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic, flush_at_exit: bool = False):
        self.logger, self.limit, self.window, self.clock = logger, limit, window, clock
        self._lock = threading.Lock()
        # (shop, reason) -> [window start, lines logged, refusals held back]; oldest window first
        self._windows: dict[tuple[str, str], list] = {}
        if flush_at_exit:
            atexit.register(self.flush)

    def refused(self, shop: str, reason: str, message: str, *args: Any, level: int = logging.WARNING,
                **fields: Any) -> bool:
        """Log one refusal (``message % args`` at ``level``, with ``shop``, ``reason`` and
        ``fields`` on the line) unless its window's lines are used up. True if it was logged."""
        shop = (shop or "")[:255]
        now = self.clock()
        with self._lock:
            ended = self._ended(now)
            key = (shop, reason)
            if key not in self._windows and len(self._windows) >= self.MAX_KEYS:
                key = ("*", reason)
            counts = self._windows.setdefault(key, [now, 0, 0])
            logged = counts[1] < self.limit
            counts[1 if logged else 2] += 1
        self._summarise(ended)
        if logged:
            self.logger.log(level, message, *args, extra={**fields, "shop": shop, "reason": reason})
        return logged

    def flush(self) -> None:
        """Write the summary of every window that held refusals back, and start afresh."""
        with self._lock:
            ended, self._windows = list(self._windows.items()), {}
        self._summarise(ended)

    def _ended(self, now: float) -> list:
        ended = []
        for key, counts in list(self._windows.items()):
            if now - counts[0] < self.window:
                break  # the others started later
            ended.append((key, self._windows.pop(key)))
        return ended

    def _summarise(self, ended: list) -> None:
        for (shop, reason), (_, _, held_back) in ended:
            if held_back:
                self.logger.warning("%d more refusals suppressed (shop %s, reason %s) within %g s of the first",
                                    held_back, shop or "-", reason, self.window,
                                    extra={"shop": shop, "reason": reason, "suppressed": held_back})
