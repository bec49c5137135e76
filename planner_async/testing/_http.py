"""The HTTP pieces every part of the fake shares: answers, requests, ASGI plumbing.

This module imports no other module of the fake except the pure rate limiter, so the
dispatcher, the endpoints, the in-process transport and the uvicorn wrapper can all
depend on it without depending on one another.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from ._ratelimit import RateDecision, RateLimiter

__all__ = [
    "ASGIApp",
    "Answer",
    "Body",
    "ConnectionDropped",
    "FakeRequest",
    "Handler",
    "Incoming",
    "Receive",
    "Reply",
    "Scope",
    "Send",
    "answer_body",
    "error",
    "json_answer",
    "rate_headers",
    "read_body",
    "send_answer",
    "serve_lifespan",
    "throttled",
]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

REASONS = {
    400: "Bad Request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Throttle Limit Reached",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_JSON = ("content-type", "application/json")


class ASGIApp(Protocol):
    """Anything callable as an ASGI application."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class ConnectionDropped(Exception):
    """Raised by the app to say "close the connection without an answer"."""


@attrs.define
class Answer:
    """One HTTP answer the fake is about to send: status, headers (lower-case), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@attrs.frozen
class FakeRequest:
    """What the fake recorded about one request; never a token, key or request body.

    - ``method``, ``path`` and ``params`` (the query string, each name to its values);
    - ``endpoint``: ``"auth"``, ``"auth.renew"``, ``"events.list"``, ``"events.get"``
      or ``"other"``;
    - ``bearer``: whether an ``Authorization: Bearer ...`` header came with it;
    - ``number``: 1 for the first request the fake received, then 2, 3, ... (never
      reset, not even by ``FakeStats.reset()``);
    - ``at``: the fake's clock when it arrived;
    - ``status``: the status answered (``0``: the connection was dropped); ``None`` while
      the request is still being answered (as a script handler sees it);
    - ``faults``: the kinds of injected fault that hit it (keys of ``FakeStats.faults``);
    - ``scripted``: whether a script (:meth:`FakePlanner.script`) answered it.

    >>> FakeRequest("GET", "/api/v2/events", "events.list", {"page": ("2",)}, True, 1, 0.0).bearer
    True
    """

    method: str
    path: str
    endpoint: str
    params: Mapping[str, tuple[str, ...]]
    bearer: bool
    number: int
    at: float
    status: int | None = None
    faults: tuple[str, ...] = ()
    scripted: bool = False

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None.

        >>> FakeRequest("GET", "/", "other", {"page": ("1", "3")}, False, 1, 0.0).param("page")
        '3'
        """
        values = self.params.get(name)
        return values[-1] if values else None


@attrs.frozen
class Incoming:
    """A request as the endpoints see it: the public record plus what it must not show.

    ``token`` is the bearer token (None without one) and ``body`` the raw request body;
    neither ever leaves the endpoints.
    """

    request: FakeRequest
    body: bytes = attrs.field(repr=False)
    token: str | None = attrs.field(repr=False)
    address: str
    now: float


Handler = Callable[[Incoming], Awaitable[Answer]]

Body = bytes | str | Mapping[str, Any] | list[Any] | None


def _headers(
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    return [(str(k).lower(), str(v)) for k, v in items]


@attrs.frozen
class Reply:
    """A canned answer: ``status``, an optional ``body`` and ``headers``.

    Without a ``body``, an error status gets the standard ``{"error", "message"}``
    payload and any other status an empty body. A ``bytes`` body is sent as is, a
    ``str`` as UTF-8 text, anything else JSON-encoded. A ``Content-Type`` matching the
    body is added unless ``headers`` name one.

    >>> Reply(503, headers={"Retry-After": "2"}).status
    503
    """

    status: int
    body: Body = None
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None

    def answer(self) -> Answer:
        """This reply as an :class:`Answer`."""
        out = _headers(self.headers)
        data, content_type = answer_body(self.status, self.body)
        if not any(k == "content-type" for k, _ in out):
            out.insert(0, ("content-type", content_type))
        return Answer(self.status, out, data)


def answer_body(status: int, body: Body) -> tuple[bytes, str]:
    """The bytes and default content type of a canned ``body`` (see :class:`Reply`)."""
    if body is None:
        if status < 400:
            return b"", "application/json"
        message = f"Scripted {status} answer."
        if status == 429:
            message = "You have exceeded the rate limit. Retry after 60 seconds."
        return error(status, message).body, "application/json"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


def json_answer(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Answer:
    """A JSON answer."""
    return Answer(status, [_JSON, *headers], json.dumps(payload).encode())


def error(status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> Answer:
    """The contract's error answer: ``{"error": <reason>, "message": message}``."""
    reason = REASONS.get(status, "Error")
    return json_answer(status, {"error": reason, "message": message}, headers)


def rate_headers(limiter: RateLimiter, decision: RateDecision) -> list[tuple[str, str]]:
    """The ``X-Rate-Limit-*`` headers for ``decision`` (none when the limiter has no limits)."""
    return decision.headers() if limiter.limits else []


def throttled(decision: RateDecision) -> Answer | None:
    """The 429 answer for a refused ``decision``; None when it was allowed."""
    if decision.allowed:
        return None
    wait = decision.headers()[-1][1]
    message = f"You have exceeded the rate limit. Retry after {wait} seconds."
    return error(429, message, decision.headers())


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Answer an ASGI ``lifespan`` scope: start up, then shut down when told."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected first."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            return body


async def send_answer(send: Send, answer: Answer) -> None:
    """Send ``answer`` with a ``Content-Length`` that matches its body."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
