"""Keep secrets out of logs, audit rows and exception messages.

Redaction is by key name, applied to every structure before it is logged or audited, plus a
logging filter that masks bearer tokens and basic credentials that slip into free text.
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

MASK = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"(secret|passw|(^|[-_])token$|access[-_]?token|refresh[-_]?token|authorization|api[-_]?key"
    r"|assertion|cookie|hmac|credential)",
    re.IGNORECASE,
)
#: Every match of ``_SECRET_TEXT`` holds one of these words, case folded as the expression's
#: IGNORECASE folds them (it also takes "İ" and "ı" for "i"): text without any is returned as it is,
#: without running the expression (most log lines: every line goes through it).
_SECRET_WORDS = ("bearer", "basic", "access_token", "refresh_token", "client_secret", "password")
_FOLD_I = str.maketrans({"\u0130": "i", "\u0131": "i"})
_SECRET_TEXT = re.compile(
    r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|(access_token|refresh_token|client_secret|password)([\"']?\s*[:=]\s*[\"']?)[^\s&\"',}]+"
)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking field masked."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and _secret_key(k) else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


@lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    """Whether a field of this name is masked. Remembered: the same few hundred field names (an
    invoice's, a receipt's) come by for every Fusion call an audit row records."""
    return _SECRET_KEY.search(key) is not None


def redact_text(text: str) -> str:
    folded = text.translate(_FOLD_I).casefold()
    if not any(word in folded for word in _SECRET_WORDS):
        return text

    def _mask(match: re.Match) -> str:
        if match.group(1):
            return f"{match.group(1)} {MASK}"
        return f"{match.group(2)}{match.group(3)}{MASK}"

    return _SECRET_TEXT.sub(_mask, text)


class RedactingFilter(logging.Filter):
    """Installed on every handler the connector configures."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:  # tracebacks quote arguments and locals
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True
