"""Reading a request body with a bound, whether it comes with a Content-Length or chunked.

Werkzeug's own limit cuts a chunked body at ``MAX_CONTENT_LENGTH`` and hands back the part it
read as if it were the whole (the signature then fails: a 401 for what is really a body too
large). Here at most ``limit + 1`` bytes are read: one more than the limit proves the body is
over it, and nothing past that is ever buffered.
"""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

CHUNK = 64 * 1024


class TooLarge(Exception):
    """The body is over the limit: answer 413."""


def read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge()  # said up front: not a byte of it is read
    parts, size = [], 0
    try:
        while size <= limit:
            part = request.stream.read(min(CHUNK, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    except RequestEntityTooLarge:  # Werkzeug's own limit, when one is set
        raise TooLarge() from None
    if size > limit:
        raise TooLarge()
    return b"".join(parts)
