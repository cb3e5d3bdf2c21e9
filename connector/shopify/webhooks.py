"""Shopify webhook signatures: base64 HMAC-SHA256 of the raw body with the app's client secret."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Iterable


def sign(secret: str, raw_body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify(raw_body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """True when ``signature`` matches under any of ``secrets``.

    Several secrets are accepted because Shopify keeps signing with the old client secret for up
    to an hour after a rotation. Comparison is constant-time on the decoded digests.
    """
    if not signature or not raw_body:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, given):
            return True
    return False
