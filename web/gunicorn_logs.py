"""gunicorn's logger class for the web processes: ``--logger-class web.gunicorn_logs.Logger``.

gunicorn writes its own error log (start-up, workers booted and killed, timeouts) and access log
on loggers that do not propagate, in formats of its own. Here both go through the connector's
formatter (``MLC_LOG_FORMAT``: one JSON object a line by default) with its filters (secrets and
email addresses masked, the correlation of the request's webhook).

An access line is built from fields, not from ``--access-logformat``: the method, the path
without its query string (a query string may carry a token or a signature; it is never logged),
the status, the bytes sent, the duration and the client address, plus the correlation the
receiver bound for the request (``inbox_id``, ``shop``, ``gid``…) so that a delivery's access line
is found with its other lines. gunicorn still writes an access line only when an access log is
configured (``--access-logfile``). gunicorn's error lines quote a request's URI when the app
fails on it (``Error handling request /path?query``) or the request line is invalid: the query
string is cut from them too.
"""
from __future__ import annotations

import logging
import re

from gunicorn import glogging

from connector import logs
from connector.config import load_settings

#: Where the receiver leaves a request's correlation fields (``web.views.webhooks``).
CORRELATION_ENVIRON = "mlc.correlation"


#: A path's query string, wherever a line quotes one.
_QUERY = re.compile(r"(/[^\s?\"'<>]*)\?[^\s\"'<>]+")
QUERY_MASK = "?[query]"


class QueryStringFilter(logging.Filter):
    """Cuts query strings from a line's message: the path stays, what followed ``?`` does not."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            cut = _QUERY.sub(lambda m: m.group(1) + QUERY_MASK, message)
            if cut != message:
                record.msg, record.args = cut, ()
        return True


class Logger(glogging.Logger):
    def _set_handler(self, log: logging.Logger, output, fmt, stream=None) -> None:
        # every handler gunicorn sets up (at start and on each reload) gets the connector's format
        super()._set_handler(log, output, logs.formatter(load_settings().log_format), stream)
        handler = self._get_gunicorn_handler(log)
        if handler is not None:
            handler.addFilter(QueryStringFilter())
            logs.install_filters(handler)

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-")
        fields = {"method": method, "path": path, "status": int(status) if str(status).isdigit() else status,
                  "bytes": getattr(resp, "sent", None), "remote_addr": environ.get("REMOTE_ADDR", "-"),
                  "duration_ms": round(request_time.total_seconds() * 1000, 3),
                  "protocol": environ.get("SERVER_PROTOCOL", "-")}
        correlation = environ.get(CORRELATION_ENVIRON) or {}
        fields.update({key: value for key, value in correlation.items() if key in logs.CORRELATION})
        try:
            self.access_log.info("%s %s %s", method, path, status, extra=fields)
        except Exception:
            self.exception("access log line failed")
