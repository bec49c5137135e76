"""The exception tree, and the pure mapping from an HTTP answer to it.

    PlannerError
    ├── APIStatusError            (status_code, error, message, response)
    │   ├── BadRequestError       400
    │   ├── AuthenticationError   401
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── RateLimitError        429 (retry_after)
    │   └── ServerError           5xx
    └── APIConnectionError        transport failures
        └── APITimeoutError       timeouts

Messages are built from the server's ``error``/``message`` fields or from a short cut
of the body, and pass through :func:`redact` so that no token or key leaks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlannerError",
    "RateLimitError",
    "ServerError",
    "error_from_response",
    "redact",
]

_SNIPPET_CHARS = 200

# Bearer tokens, JWT-shaped strings and JSON fields that carry secrets.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"),
    re.compile(
        r'(?i)("?(?:token|refreshToken|refresh_token|access_token|password|api_key|apiKey)"?'
        r"\s*[:=]\s*\"?)[^\"\s,}&]+"
    ),
)


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with bearer tokens, JWTs, secret JSON fields and ``secrets`` masked.

    >>> redact('{"token": "abc"}')
    '{"token": "***"}'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


class PlannerError(Exception):
    """Root of every error this package raises."""


class APIStatusError(PlannerError):
    """The server answered with a non-success status.

    Attributes: ``status_code``, ``error`` (the payload's short title, or None),
    ``message`` (human-readable text), ``response`` (the ``httpx.Response``, or None when
    the error was raised locally), ``request``.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.response = response

    @property
    def request(self) -> httpx.Request | None:
        """The request that earned this answer, when known."""
        if self.response is None:
            return None
        try:
            return self.response.request
        except RuntimeError:
            return None

    def __str__(self) -> str:
        head = f"{self.status_code}"
        if self.error:
            head += f" {self.error}"
        return f"{head}: {self.message}" if self.message else head

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    """400: the server rejected the request's parameters or body."""


class AuthenticationError(APIStatusError):
    """401: bad credentials, or a token the server would not accept even after renewal."""


class PermissionDeniedError(APIStatusError):
    """403: the account may not see this resource."""


class NotFoundError(APIStatusError):
    """404: no such endpoint or event."""


class RateLimitError(APIStatusError):
    """429, or a local refusal to wait for quota longer than ``max_wait``.

    ``retry_after`` is the number of seconds after which a request may succeed, or None
    when nobody said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        error: str | None = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, error=error, response=response)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed; usually transient."""


class APIConnectionError(PlannerError):
    """The request never got an HTTP answer (DNS, refused or reset connection, bad stream)."""

    def __init__(self, message: str = "Connection error.", *, request: httpx.Request | None = None):
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(
        self, message: str = "Request timed out.", *, request: httpx.Request | None = None
    ):
        super().__init__(message, request=request)


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def _class_for(status_code: int) -> type[APIStatusError]:
    if status_code >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS] + "…"
    return text


def parse_error_body(body: bytes, content_type: str = "") -> tuple[str | None, str]:
    """Return ``(error, message)`` from an error body, tolerating anything that is not JSON."""
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        message = payload.get("message")
        if isinstance(error, str) or isinstance(message, str):
            return (
                error if isinstance(error, str) else None,
                message if isinstance(message, str) else "",
            )
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None, "(empty response body)"
    kind = "HTML page" if "html" in content_type.lower() or text.startswith("<") else "body"
    return None, f"unexpected {kind}: {_snippet(text)}"


def error_from_response(
    response: httpx.Response,
    *,
    retry_after: float | None = None,
    secrets: tuple[str | None, ...] = (),
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for a finished ``response``.

    Pure: reads the already-received body, never awaits.
    """
    status = response.status_code
    error, message = parse_error_body(response.content, response.headers.get("content-type", ""))
    message = redact(message, *secrets)
    if not message:
        message = response.reason_phrase or "error"
    cls = _class_for(status)
    if cls is RateLimitError:
        return RateLimitError(message, error=error, response=response, retry_after=retry_after)
    return cls(message, status_code=status, error=error, response=response)


class APIResponseValidationError(PlannerError):
    """A success status whose body is not the JSON the contract promises (cut, or not JSON).

    Retried like a transient failure; raised once retries are spent.
    """

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = response
        self.status_code = response.status_code if response is not None else None
