"""How a Fusion call can fail, by what the caller must do next."""
from __future__ import annotations


class FusionError(RuntimeError):
    pass


class FusionRejected(FusionError):
    """Fusion understood the request and refused it (4xx, SOAP fault): fix data or set-up, then replay."""

    def __init__(self, message: str, status: int = 400, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


class FusionUnavailable(FusionError):
    """Fusion did not process the request (429, 503, unreachable before sending): try again later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FusionUncertain(FusionError):
    """A write may or may not have happened (timeout, reset, 5xx): look the key up before retrying."""


class FusionAuthError(FusionError):
    """The pod's credentials were refused: nothing will work until an operator fixes them.

    ``status`` is the HTTP status when the pod answered one (401: who are you; 403: not allowed)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status
