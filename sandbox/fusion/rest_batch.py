"""Batch (rest.md §6.4): ``POST /<api>/resources/<version>`` with ``{"parts": [...]}``.

Each part (``id``, ``path`` relative to the version root, ``operation`` get|create|update|
replace|delete, optional ``payload``, ``ifMatch``) runs in order through the ordinary views, with
the caller's credentials and framework version. All or nothing: the first failing part rolls
the store back to where it was and the answer lists only that part, its error object as the
``payload``, under the part's status. On success every part is listed with the item it produced
(null for a delete) and, where ``ifMatch`` was sent, ``preconditionSucceeded``. The error-part
shape and the 200 status are [L]; ``replace`` (PUT) isn't offered by any sandbox resource, so it
fails as a 405 part. Ids handed out by a rolled-back batch are not reused, as with sequences.
"""
from __future__ import annotations

import simplejson
from flask import Blueprint, current_app, request
from werkzeug.test import Client

from .errors import bad_request
from .rest_common import ITEM_TYPE, check_version, dumps, json_body, json_response, pod

bp = Blueprint("fusion_batch", __name__)
BATCH_TYPE = "application/vnd.oracle.adf.batch+json"
METHODS = {"get": "GET", "create": "POST", "update": "PATCH", "replace": "PUT", "delete": "DELETE"}
_FORWARDED = ("Authorization", "REST-Framework-Version", "Upsert-Mode")


def _parts(body: dict) -> list[dict]:
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise bad_request("A batch request needs a non-empty parts array.", "", "/parts")
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("path"), str) \
                or part.get("operation") not in METHODS or not part.get("id"):
            raise bad_request("Each part needs an id, a path and an operation (get, create, update, "
                              "replace or delete).", "", f"/parts/{index}")
    return parts


def _run(client: Client, root: str, part: dict):
    path = part["path"] if part["path"].startswith(root) else root + "/" + part["path"].lstrip("/")
    headers = {h: request.headers[h] for h in _FORWARDED if h in request.headers}
    if part.get("ifMatch"):
        headers["If-Match"] = part["ifMatch"]
    payload = part.get("payload")
    data = dumps(payload) if payload is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    return client.open(path, method=METHODS[part["operation"]], headers=headers, data=data,
                       base_url=request.host_url)


def _payload(response):
    """The part's response body as data: JSON as is, a plain-text error as a small error object."""
    text = response.get_data(as_text=True)
    if not text:
        return None
    try:
        return simplejson.loads(text, use_decimal=True)
    except ValueError:
        return {"status": str(response.status_code), "detail": text}


@bp.post("/<any(fscmRestApi, crmRestApi):api>/resources/<version>")
def batch(api, version):
    check_version(version)
    parts = _parts(json_body(("application/json", ITEM_TYPE, BATCH_TYPE)))
    root = f"/{api}/resources/{version}"
    # the inner app, behind the fault-injecting middleware: faults apply to the batch request once
    client = Client(getattr(current_app.wsgi_app, "app", current_app.wsgi_app))
    store = pod().store
    done = []
    with store.lock:
        before = store.snapshot()
        for part in parts:
            response = _run(client, root, part)
            if response.status_code >= 400:
                store.restore(before)
                failed = {**{k: part.get(k) for k in ("id", "path", "operation")},
                          "payload": _payload(response)}
                if part.get("ifMatch"):
                    failed["preconditionSucceeded"] = response.status_code != 412
                return json_response({"parts": [failed]}, status=response.status_code,
                                     mimetype=BATCH_TYPE)
            result = {k: part.get(k) for k in ("id", "path", "operation")}
            result["payload"] = _payload(response)
            if part.get("ifMatch"):
                result["preconditionSucceeded"] = True
            done.append(result)
    return json_response({"parts": done}, mimetype=BATCH_TYPE)

