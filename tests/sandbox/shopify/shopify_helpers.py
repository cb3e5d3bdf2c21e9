"""Helpers of the Shopify sandbox tests: a webhook receiver and a sandbox client."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

import requests
from werkzeug.wrappers import Request, Response

from sandbox.server import BackgroundServer
from sandbox.shopify import ShopifySandboxSettings, create_app, jsonio

logging.getLogger("werkzeug").setLevel(logging.ERROR)

FAST = dict(time_scale=0.001)


class Receiver:
    """A webhook endpoint that records raw requests and answers from a script of responses."""

    def __init__(self):
        self.hits: list[dict] = []
        self.script: list = []  # each item: int status, ("redirect", url) or ("sleep", seconds)
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with self.lock:
            self.hits.append({"path": request.path, "headers": dict(request.headers), "body": body})
            action = self.script.pop(0) if self.script else 200
        if isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            action = 200
        if isinstance(action, tuple) and action[0] == "redirect":
            response = Response("", status=302, headers={"Location": action[1]})
        else:
            response = Response("ok", status=action)
        return response(environ, start_response)

    def webhooks(self, topic: str | None = None, path: str = "/webhooks") -> list[dict]:
        with self.lock:
            return [h for h in self.hits if h["path"] == path
                    and (topic is None or h["headers"].get("X-Shopify-Topic") == topic)]


class Sandbox:
    def __init__(self, server: BackgroundServer):
        self.server = server
        self.url = server.url

    def put_shop(self, shop: str, **fields) -> requests.Response:
        return requests.put(f"{self.url}/_sandbox/shops/{shop}", json=fields, timeout=5)

    def post(self, path: str, payload=None, **kw) -> requests.Response:
        return requests.post(self.url + path, data=jsonio.dumps(payload if payload is not None else {}),
                             headers={"Content-Type": "application/json"}, timeout=10, **kw)

    def put(self, path: str, payload) -> requests.Response:
        return requests.put(self.url + path, data=jsonio.dumps(payload), headers={"Content-Type": "application/json"},
                            timeout=10)

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)

    def wait_idle(self, timeout: float = 10) -> dict:
        """Fails rather than returns when deliveries are still pending: the assertions that follow
        a wait would otherwise judge a half-delivered state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.get("/_sandbox/webhooks/idle", params={"wait": 2}).json()
            if state["idle"]:
                return state
            assert time.monotonic() <= deadline, f"webhook delivery still busy after {timeout:g}s: {state}"

    def deliveries(self, shop: str | None = None) -> list[dict]:
        return self.get("/_sandbox/webhooks/deliveries", params={"shop": shop} if shop else None).json()["deliveries"]

    def token(self, shop: str, client_id: str = "app-id", secret: str = "app-secret") -> str:
        r = requests.post(f"{self.url}/admin/oauth/access_token", timeout=5, headers={"Host": shop},
                          data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def graphql(self, shop: str, token: str, query: str, variables=None, version="2026-01") -> requests.Response:
        return requests.post(f"{self.url}/admin/api/{version}/graphql.json", timeout=10,
                             headers={"Host": shop, "X-Shopify-Access-Token": token},
                             json={"query": query, "variables": variables or {}})


@contextmanager
def sandbox_factory():
    """``make(**settings)`` starts a sandbox; every one made is stopped on the way out, in the
    background (werkzeug's shutdown waits out a 0.5 s poll, which adds up)."""
    servers = []

    def make(**settings):
        box, server = start_sandbox(**settings)
        servers.append(server)
        return box
    try:
        yield make
    finally:
        for server in servers:
            threading.Thread(target=server.stop, daemon=True).start()


def start_sandbox(**settings) -> tuple[Sandbox, BackgroundServer]:
    server = BackgroundServer(create_app(ShopifySandboxSettings(**{**FAST, **settings}))).start()
    return Sandbox(server), server
