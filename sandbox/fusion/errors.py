"""Fusion-shaped errors for REST.

ADF REST answers a validation failure with 400 and either a plain-text message (framework
versions below 4, the default) or, from ``REST-Framework-Version: 4``, the JSON error object with
``o:errorDetails``. Raising :class:`RestError` anywhere in a view gives the right one.
"""
from __future__ import annotations

import simplejson
from flask import Response

ERROR_MEDIA_TYPE = "application/vnd.oracle.adf.error+json"

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
           412: "Precondition Failed", 415: "Unsupported Media Type", 500: "Internal Server Error"}


class RestError(Exception):
    """One or more business/validation errors; ``details`` are (message, code, path) triples."""

    def __init__(self, message: str, code: str = "", path: str = "", status: int = 400,
                 details: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.details = details or [(message, code, path)]

    @property
    def message(self) -> str:
        return "\n".join(d[0] for d in self.details)


def bad_request(message: str, code: str = "", path: str = "") -> RestError:
    return RestError(message, code, path, 400)


def not_found(message: str = "The requested resource was not found.") -> RestError:
    return RestError(message, "", "", 404)


def render_rest_error(err: RestError, framework_version: int) -> Response:
    """Body per framework version: v4+ JSON error object, else a plain-text message."""
    if framework_version >= 4:
        body = {
            "type": "http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
            "title": _TITLES.get(err.status, "Error"),
            "status": str(err.status),
            # rest.md §6.2: the first detail is repeated at the top level
            "detail": err.details[0][0],
            "o:errorCode": err.details[0][1],
            "o:errorDetails": [
                {"detail": msg, "o:errorCode": code, **({"o:errorPath": path} if path else {})}
                for msg, code, path in err.details
            ],
        }
        return Response(simplejson.dumps(body), status=err.status, mimetype=ERROR_MEDIA_TYPE)
    return Response(err.message, status=err.status, mimetype="text/plain")


class ServiceFault(Exception):
    """An ADF business-service (SOAP) fault: HTTP 500 with a ``ServiceErrorMessage`` detail.

    ``details`` are nested ServiceMessages as dicts with ``message`` and optionally
    ``attributeName``/``objectName``/``code``.
    """

    def __init__(self, code: str, message: str, details: list[dict] | None = None,
                 exception_class: str = "oracle.jbo.JboException"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []
        self.exception_class = exception_class


def record_missing(text: str) -> ServiceFault:
    """Fusion's 'no such row' fault (``FND:::FND_CMN_RCRD_MSNG``)."""
    return ServiceFault(
        "FND:::FND_CMN_RCRD_MSNG",
        f"JBO-FND:::FND_CMN_RCRD_MSNG: <MESSAGE><TEXT>{text}</TEXT></MESSAGE>",
        exception_class="oracle.apps.fnd.applcore.messages.ApplcoreException")


def row_invalid(*details: dict) -> ServiceFault:
    """JBO-27024 with JBO-27014-style attribute details, as ADF reports row validation."""
    return ServiceFault("27024", "JBO-27024: Failed to validate a row", list(details),
                        exception_class="oracle.jbo.RowValException")
