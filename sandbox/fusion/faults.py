"""Run-time fault injection, rate limiting and request statistics (sandbox-only).

Implemented as WSGI middleware around the Flask app so a fault can act where a real outage
does: before the pod sees the request (429/5xx, rate limit, latency), after the pod committed
but before the answer leaves (lost response: the socket is closed with nothing sent), or by
holding the answer past the client's read timeout.
"""
from __future__ import annotations

import io
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import Counter

# 401 and 403 answer as a pod does for a user without credentials or without the privilege a
# resource needs (rest.md §5): what ``ml-connector fit`` reports as a missing role.
ERROR_KINDS = {"401": "Unauthorized", "403": "Forbidden", "429": "Too Many Requests",
               "500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable", "504": "Gateway Timeout"}
RULE_KINDS = set(ERROR_KINDS) | {"latency", "timeout", "lost_response"}
_RESOURCE = re.compile(r"^/(?:fscm|crm)RestApi/resources/[^/]+/([^/?]+)"
                       r"(?:/[^/]+(?:/(child|action)/([^/]+))?)?")
_SOAP_OP = re.compile(rb"<(?:[\w.-]+:)?Body[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)", re.S)


class FaultConfigError(ValueError):
    pass


class Rule:
    """One fault: what it does, when it fires (probability or next-N count), which requests."""

    def __init__(self, spec: dict):
        kind = str(spec.get("kind", ""))
        if kind not in RULE_KINDS:
            raise FaultConfigError(f"unknown fault kind {kind!r}; use one of {sorted(RULE_KINDS)}")
        self.kind = kind
        self.count = spec.get("count")
        self.probability = spec.get("probability")
        if self.count is None and self.probability is None:
            self.probability = 1.0
        if self.count is not None and (not isinstance(self.count, int) or self.count < 0):
            raise FaultConfigError("count must be a non-negative integer")
        if self.probability is not None and not 0 <= float(self.probability) <= 1:
            raise FaultConfigError("probability must be between 0 and 1")
        self.methods = {m.upper() for m in spec.get("methods", [])} or None
        if spec.get("method"):
            self.methods = {spec["method"].upper()}
        self.path_prefix = spec.get("path_prefix") or ""
        self.retry_after = spec.get("retry_after", 1 if kind in ("429", "503") else None)
        self.latency_ms = float(spec.get("ms", spec.get("latency_ms", 0)))
        self.jitter_ms = float(spec.get("jitter_ms", 0))
        self.sleep_ms = float(spec.get("sleep_ms", 30000))
        # timeout: does the request still reach the pod ("before" the sleep), or not at all?
        self.commit = spec.get("commit", "before")
        if self.commit not in ("before", "never"):
            raise FaultConfigError("commit must be 'before' or 'never'")

    def applies(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and path.startswith(self.path_prefix)

    def fire(self) -> bool:
        """Whether the rule triggers for this request (consumes one of a next-N count)."""
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
            return True
        return random.random() < float(self.probability)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "count": self.count, "probability": self.probability,
                "methods": sorted(self.methods) if self.methods else None,
                "path_prefix": self.path_prefix, "retry_after": self.retry_after,
                "ms": self.latency_ms, "jitter_ms": self.jitter_ms, "sleep_ms": self.sleep_ms,
                "commit": self.commit}


class TokenBucket:
    def __init__(self, rate: float, burst: float, retry_after: float | None):
        if rate <= 0:
            raise FaultConfigError("requests_per_second must be positive")
        self.rate, self.burst = rate, max(burst, 1.0)
        self.tokens, self.stamp = self.burst, time.monotonic()
        self.retry_after = retry_after

    def take(self) -> float | None:
        """None when allowed, else seconds until a token is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


class Load:
    """What the pod is carrying: requests inside it now, the most at once since the last reset,
    and how many the rate limit turned away. Benchmarks read it to see how many calls a pipeline
    keeps in flight, measured where the calls arrive rather than inferred from a rate."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = self.peak = self.rate_limited = 0

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def refused(self) -> None:
        with self.lock:
            self.rate_limited += 1

    def reset(self) -> None:
        with self.lock:
            self.peak, self.rate_limited = self.in_flight, 0

    def as_dict(self) -> dict:
        with self.lock:
            return {"in_flight": self.in_flight, "peak_in_flight": self.peak, "rate_limited": self.rate_limited}


class Faults:
    """Holds the current fault set and statistics; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules: list[Rule] = []
        self.bucket: TokenBucket | None = None
        self.stats: Counter = Counter()
        #: Faults that fired, by kind (``latency`` counts delayed requests), since the last clear.
        self.injected: Counter = Counter()
        self.load = Load()

    # --- configuration ---------------------------------------------------------------------
    def configure(self, body: dict) -> dict:
        """Add rules (``rules`` list, or one rule at top level) and set/replace the rate limit.

        Shortcuts: ``latency_ms``/``jitter_ms`` add a latency rule; ``rate_limit`` =
        ``{"requests_per_second": r, "burst": b, "retry_after": s}``.
        """
        new_rules = [Rule(r) for r in body.get("rules", [])]
        if "kind" in body:
            new_rules.append(Rule(body))
        if "latency_ms" in body and "kind" not in body:
            new_rules.append(Rule({"kind": "latency", "ms": body["latency_ms"],
                                   "jitter_ms": body.get("jitter_ms", 0),
                                   "methods": body.get("methods", []),
                                   "path_prefix": body.get("path_prefix", "")}))
        bucket = None
        if body.get("rate_limit"):
            rl = body["rate_limit"]
            rate = float(rl.get("requests_per_second", 0))
            bucket = TokenBucket(rate, float(rl.get("burst", rate)), rl.get("retry_after"))
        with self.lock:
            self.rules.extend(new_rules)
            if bucket:
                self.bucket = bucket
            return self.describe()

    def clear(self) -> None:
        with self.lock:
            self.rules = []
            self.bucket = None
            self.injected.clear()

    def describe(self) -> dict:
        return {"rules": [r.as_dict() for r in self.rules], "injected": dict(self.injected),
                "rate_limit": None if not self.bucket else
                {"requests_per_second": self.bucket.rate, "burst": self.bucket.burst}}

    # --- per request -------------------------------------------------------------------------
    def plan(self, method: str, path: str) -> tuple[float, Rule | None, float | None]:
        """(latency seconds, rule that fires or None, rate-limit wait or None)."""
        with self.lock:
            wait = self.bucket.take() if self.bucket else None
            latency, chosen = 0.0, None
            for rule in self.rules:
                if not rule.applies(method, path):
                    continue
                if rule.kind == "latency":
                    if rule.fire():
                        latency += max(0.0, rule.latency_ms + random.uniform(-rule.jitter_ms, rule.jitter_ms)) / 1000
                        self.injected[rule.kind] += 1
                elif chosen is None and rule.fire():
                    chosen = rule
                    self.injected[rule.kind] += 1
            return latency, chosen, wait

    def count(self, key: str) -> None:
        with self.lock:
            self.stats[key] += 1


def stats_key(method: str, path: str, body: bytes) -> str:
    if path.startswith("/oauth2/"):
        return f"{method} token"
    m = _RESOURCE.match(path)
    if m:
        resource, kind, name = m.groups()
        return f"{method} {resource}" + (f".{name}" if kind else "")
    if path.startswith(("/crmService/", "/fscmService/")):
        service = path.rstrip("/").rsplit("/", 1)[-1]
        op = _SOAP_OP.search(body or b"")
        return f"{method} {service}" + (f".{op.group(1).decode()}" if op else "")
    return f"{method} {path}"


def _plain(start_response, status: int, reason: str, headers: list | None = None):
    start_response(f"{status} {reason}", [("Content-Type", "text/plain")] + (headers or []))
    return [reason.encode()]


def _drop_connection(environ) -> None:
    """Close the client's TCP connection without sending anything (RST on close)."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class FaultMiddleware:
    """WSGI wrapper applying :class:`Faults` to every pod request (not to ``/_sandbox``)."""

    def __init__(self, app, faults: Faults):
        self.app = app
        self.faults = faults

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox"):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        body = b""
        if path.startswith(("/crmService/", "/fscmService/")):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        self.faults.count(stats_key(method, path, body))
        load = self.faults.load
        load.enter()
        try:
            return self._answer(environ, start_response, method, path)
        finally:
            load.leave()

    def _answer(self, environ, start_response, method: str, path: str):
        latency, rule, wait = self.faults.plan(method, path)
        if wait is not None:
            self.faults.load.refused()
            retry = self.faults.bucket.retry_after if self.faults.bucket and \
                self.faults.bucket.retry_after is not None else max(1, math.ceil(wait))
            return _plain(start_response, 429, "Too Many Requests", [("Retry-After", str(retry))])
        if latency:
            time.sleep(latency)
        if rule is None:
            return self.app(environ, start_response)
        if rule.kind in ERROR_KINDS:
            headers = [("Retry-After", str(rule.retry_after))] if rule.retry_after is not None else []
            return _plain(start_response, int(rule.kind), ERROR_KINDS[rule.kind], headers)
        if rule.kind == "timeout":
            if rule.commit == "never":
                time.sleep(rule.sleep_ms / 1000)
                return _plain(start_response, 504, "Gateway Timeout")
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return lambda data: None
            chunks = self._run(environ, capture)
            time.sleep(rule.sleep_ms / 1000)
            start_response(captured["status"], captured["headers"])
            return chunks
        # lost_response: the pod does the work, the answer never reaches the client
        self._run(environ, lambda status, headers, exc_info=None: (lambda data: None))
        _drop_connection(environ)
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b""]

    def _run(self, environ, start_response) -> list[bytes]:
        result = self.app(environ, start_response)
        try:
            return list(result)
        finally:
            if hasattr(result, "close"):
                result.close()


def parse_config(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise FaultConfigError(f"invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise FaultConfigError("the body must be a JSON object")
    return body
