"""The exception tree and the pure mapping from an HTTP answer to an error.

    PlannerError
    ├── APIStatusError              (status_code, error, message, response, request)
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429 (retry_after)
    │   │   └── QuotaWaitError      local: no permit within max_wait, nothing was sent
    │   └── ServerError             5xx
    ├── APIResponseValidationError  a success status whose body breaks the contract
    ├── APIConnectionError          transport failures (host, request, __cause__)
    │   └── APITimeoutError         timeouts
    │       └── DeadlineExceededError  the caller's overall deadline for one call
    └── StoreUnavailableError       a shared quota/token store (Redis) cannot be used

Every text that came from the server is redacted (:mod:`._redact`: the client's known
secrets, bearer credentials, JWTs, secret-named fields) *before* it is cut, then cut to a
bounded size. Messages built locally are redacted too, against every live client's
secrets. Errors pickle (the HTTP response and request are dropped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx

from ._redact import clean_text

__all__ = [
    "MAX_ERROR_CHARS",
    "MAX_MESSAGE_CHARS",
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "DeadlineExceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlannerError",
    "QuotaWaitError",
    "RateLimitError",
    "ServerError",
    "StoreUnavailableError",
    "error_from_response",
    "parse_error_body",
]

MAX_MESSAGE_CHARS = 500
"""A server's ``message`` is cut to this many characters (after redaction)."""
MAX_ERROR_CHARS = 100
"""A server's ``error`` title is cut to this many characters (after redaction)."""
_SNIPPET_CHARS = 200  # a body that is not the error JSON is shown as a snippet this long
_LOCAL_MESSAGE_CHARS = 2000  # bound on any message built locally around server text
_REDACT_SCAN_CHARS = 1 << 20  # text beyond this is never shown, so never scanned


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _rebuild(cls: type[PlannerError], args: tuple[Any, ...]) -> PlannerError:
    """Unpickling helper: an instance of ``cls`` with ``args``, without calling ``__init__``."""
    return cls.__new__(cls, *args)


class PlannerError(Exception):
    """Root of every error this package raises."""

    _unpickled: tuple[str, ...] = ("response", "request")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the class, message and plain attributes; the HTTP objects become None."""
        state = dict(self.__dict__)
        for name in self._unpickled:
            if name in state:
                state[name] = None
        return (_rebuild, (type(self), self.args), state)


class APIStatusError(PlannerError):
    """The server answered with a non-success status.

    Attributes: ``status_code``, ``error`` (the payload's short title, or None),
    ``message`` (human-readable text, redacted and cut), ``response`` (the
    ``httpx.Response``, or None when raised locally or unpickled), ``request``.
    """

    status_code: int
    sent: bool = True
    """True: the request was sent and this is the server's answer."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        message = clean_text(message, limit=_LOCAL_MESSAGE_CHARS)
        super().__init__(message)
        self.status_code = status_code
        self.error = None if error is None else clean_text(error, limit=MAX_ERROR_CHARS)
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
    """429 from the server (or, as :class:`QuotaWaitError`, a local refusal to wait).

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


class QuotaWaitError(RateLimitError):
    """No request permit within ``max_wait``: refused locally, **nothing was sent**.

    Tell it apart from a server's 429 with ``isinstance(exc, QuotaWaitError)`` or
    ``exc.sent`` (False here, True for every server answer). ``response`` is None;
    ``status_code`` stays 429 only so that code written for :class:`RateLimitError`
    keeps working. ``retry_after`` says when a permit could be free.

    >>> QuotaWaitError("no permit", retry_after=2.0).sent
    False
    """

    sent = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)


class ServerError(APIStatusError):
    """5xx: the server failed; usually transient."""


class APIResponseValidationError(PlannerError):
    """A success status whose body is not the JSON the contract promises (cut, or not JSON).

    Retried like a transient failure; raised once retries are spent.
    """

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        message = clean_text(message, limit=_LOCAL_MESSAGE_CHARS)
        super().__init__(message)
        self.message = message
        self.response = response
        self.status_code = response.status_code if response is not None else None


class APIConnectionError(PlannerError):
    """The request never got an HTTP answer (DNS, refused or reset connection, bad stream).

    ``host`` names the server the client tried to reach (taken from ``request`` when not
    given); the transport's own exception is kept as ``__cause__`` (pass ``cause=`` or
    ``raise ... from exc``).
    """

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        request: httpx.Request | None = None,
        host: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(clean_text(message, limit=_LOCAL_MESSAGE_CHARS))
        self.request = request
        if host is None and request is not None:
            host = request.url.host or None
        self.host = host
        if cause is not None:
            self.__cause__ = cause


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(
        self,
        message: str = "Request timed out.",
        *,
        request: httpx.Request | None = None,
        host: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, request=request, host=host, cause=cause)


class DeadlineExceededError(APITimeoutError):
    """The caller's overall deadline for one call (retries and waits included) ran out."""

    def __init__(
        self,
        message: str = "Deadline exceeded.",
        *,
        deadline: float | None = None,
        request: httpx.Request | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(message, request=request, host=host)
        self.deadline = deadline


class StoreUnavailableError(PlannerError):
    """A shared store (Redis) could not be reached or used; nothing was sent.

    Raised by a call that needed a quota permit or the token state from the store. With
    the default (fail closed) no request goes out without the store's permit; see
    ``redis_fallback_share`` for the opt-in local fallback. The store's own exception is
    kept as ``__cause__``; the message never holds the Redis URL (it may hold a password).
    """

    def __init__(self, message: str) -> None:
        message = clean_text(message, limit=_LOCAL_MESSAGE_CHARS)
        super().__init__(message)
        self.message = message


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


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def parse_error_body(
    body: bytes, content_type: str = "", secrets: Iterable[str | None] = ()
) -> tuple[str | None, str]:
    """Return ``(error, message)`` from an error body, redacted and cut; never raises.

    The JSON fields ``error`` and ``message`` are used when either is a string; any other
    body is shown as a short snippet. Known ``secrets`` are masked everywhere.

    >>> parse_error_body(b'{"error": "Bad", "message": "token=abc"}')
    ('Bad', 'token=***')
    """
    secrets = tuple(secrets)
    payload = _json_or_none(body)
    if isinstance(payload, dict):
        error, message = payload.get("error"), payload.get("message")
        if isinstance(error, str) or isinstance(message, str):
            return (
                clean_text(error, *secrets, limit=MAX_ERROR_CHARS)
                if isinstance(error, str)
                else None,
                clean_text(message, *secrets, limit=MAX_MESSAGE_CHARS)
                if isinstance(message, str)
                else "",
            )
    text = clean_text(
        body[:_REDACT_SCAN_CHARS].decode("utf-8", errors="replace"),
        *secrets,
        limit=MAX_MESSAGE_CHARS,
    )
    if not text:
        return None, "(empty response body)"
    kind = "HTML page" if "html" in content_type.lower() or text.startswith("<") else "body"
    return None, f"unexpected {kind}: {_cut(text, _SNIPPET_CHARS)}"


def _redirect_message(response: httpx.Response, secrets: Iterable[str | None]) -> str:
    location = clean_text(response.headers.get("location", "(none)"), *secrets, limit=200)
    return (
        f"the server redirected to {location}; redirects are not followed, so that "
        "credentials never leave the configured base_url: check base_url"
    )


def error_from_response(
    response: httpx.Response,
    *,
    retry_after: float | None = None,
    secrets: tuple[str | None, ...] = (),
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for a finished ``response``.

    Pure: reads the already-received body, never awaits. A 3xx (never followed) becomes
    an :class:`APIStatusError` saying where it pointed.
    """
    status = response.status_code
    error, message = parse_error_body(
        response.content, response.headers.get("content-type", ""), secrets
    )
    if 300 <= status < 400:
        message = _redirect_message(response, secrets)
    if not message:
        message = response.reason_phrase or "error"
    cls = _class_for(status)
    if cls is RateLimitError:
        return RateLimitError(message, error=error, response=response, retry_after=retry_after)
    return cls(message, status_code=status, error=error, response=response)
