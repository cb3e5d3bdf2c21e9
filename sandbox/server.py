"""Run a sandbox WSGI app over real HTTP, in the foreground or on a background thread.

The sandboxes keep their state in memory, so each one is served by a single process with
threads (werkzeug's threaded server) rather than by a pre-forking server.
"""
from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server


class BackgroundServer:
    """A WSGI app listening on ``host:port`` (port 0 picks a free one) on a daemon thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"sandbox-{self.port}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(app, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (``python -m sandbox …``)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app, threaded=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
