"""The I/O edge: send one request, read its body, and turn transport failures into our errors.

Nothing here retries, counts quota or knows about tokens; :mod:`._pipeline` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Final

import anyio
import httpx

from . import _backend, _json
from ._exceptions import APIConnectionError, APIResponseValidationError, APITimeoutError
from ._httpx import http_errors

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "NOT_SENT", "decode_json", "send_once", "transport_error"]

DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
"""The largest answer body read (16 MiB): far beyond a page of 200 events."""
_RECODED: Final = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
# The body is kept decoded, so the headers that described the wire form are dropped.

NOT_SENT = http_errors().not_sent
"""httpx's transport failures before the request could reach the server (no connection, or
our side could not write it): nothing was sent, so the quota slot is given back at once.
The pipeline asks :func:`._httpx.http_errors` instead, which knows httpx2's too."""


async def send_once(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    deadline: float | None = None,
) -> httpx.Response:
    """Send ``request`` once and read its body, buffered once; never follow a redirect.

    A 3xx comes back as it is (the caller makes it an error), so neither credentials nor
    tokens ever reach another origin, whatever the ``http`` client's ``follow_redirects``.
    The body is refused past ``max_bytes`` (:class:`APIResponseValidationError`; an error
    answer is cut there instead, it is only shown as a snippet). A body still arriving
    ``deadline`` seconds after the request was sent raises ``httpx.ReadTimeout``: one
    trickling a byte at a time cannot outlast it (each read is also bounded by the read
    timeout). Other transport errors propagate as httpx's.
    """
    started = _backend.current_time()
    response = await http.send(request, stream=True, follow_redirects=False)
    try:
        if _fits(response, max_bytes):  # the common case: a known, small, plain body
            await _read_by(response, _until(started, deadline), request)
            return response
        body = await _read_capped(response, max_bytes, _until(started, deadline), request)
    finally:
        await response.aclose()
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _RECODED]
    return type(response)(  # httpx's or httpx2's, like the client that sent it
        response.status_code,
        headers=headers,
        content=body,
        request=request,
        extensions=response.extensions,
    )


def _fits(response: httpx.Response, max_bytes: int) -> bool:
    """True when the body is plain and its declared length is within the cap.

    The transport enforces ``Content-Length`` framing, so such a body cannot grow past
    it; an encoded body (which may inflate) or one of unknown length is read by chunks.
    """
    headers = response.headers
    if headers.get_list("content-encoding"):  # get_list: no KeyError raised and caught
        return False
    lengths = headers.get_list("content-length")
    return len(lengths) == 1 and lengths[0].isdigit() and int(lengths[0]) <= max_bytes


async def _read_by(response: httpx.Response, until: float, request: httpx.Request) -> None:
    """``response.aread()``, done by ``until`` (the event loop's clock) or ``httpx.ReadTimeout``.

    A body of declared length can still trickle in a byte at a time; the read timeout
    bounds each read, this bounds them all together. On asyncio a body already at hand
    (buffered with the headers) is read without setting a timer at all: only a read that
    has to wait runs under an ``asyncio.timeout`` (a timer, not a scope, so it may start
    after the read did). trio's cancel scopes nest strictly: there the read runs in one.
    """
    if until == math.inf:
        await response.aread()
        return
    if _backend.library_name() != "asyncio":
        with anyio.move_on_after(until - _backend.current_time()) as scope:
            await response.aread()
        if scope.cancelled_caught:
            raise _late(request)
        return
    reading = _Reading(response.aread())
    if reading.done:
        return
    import asyncio  # imported by now: an asyncio loop is running

    timer = asyncio.timeout(until - _backend.current_time())
    try:
        async with timer:
            await reading
    except TimeoutError:
        if timer.expired():
            raise _late(request) from None
        raise  # not ours: a timeout inside the read


def _late(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout("the answer was still arriving at its deadline", request=request)


class _Reading:
    """A coroutine stepped once at once: ``done`` if it finished without waiting.

    Awaiting it goes on from where the first step stopped (its first wait is passed to
    the event loop as is, then the coroutine is delegated to), so the caller can decide
    between the two, e.g. set a timer only for a read that has to wait.
    """

    __slots__ = ("_coro", "_waiting_on", "done")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._coro = coro
        try:
            self._waiting_on = coro.send(None)
        except StopIteration:
            self._waiting_on = None
            self.done = True
        else:
            self.done = False

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting_on = self._coro, self._waiting_on
        while not self.done:  # ``yield from coro``, resumed after its first step
            try:
                sent = yield waiting_on
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancelled while it waited: the coroutine hears it
                waiting_on = self._step(coro.throw, exc)
            else:
                waiting_on = self._step(coro.send, sent)

    def _step(self, step: Callable[[Any], Any], value: Any) -> Any:
        try:
            return step(value)
        except StopIteration:
            self.done = True
            return None


def _until(started: float, deadline: float | None) -> float:
    return math.inf if deadline is None else started + deadline


async def _read_capped(
    response: httpx.Response, max_bytes: int, until: float, request: httpx.Request
) -> bytes:
    """The (decoded) body, at most ``max_bytes`` of it; too much on a success is an error."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if _backend.current_time() > until:
            raise httpx.ReadTimeout(
                "the answer was still arriving at its deadline", request=request
            )
        size += len(chunk)
        if size > max_bytes:
            if response.is_success:
                raise APIResponseValidationError(
                    f"{response.status_code} answer is larger than max_response_bytes "
                    f"({max_bytes} bytes); not read further",
                    response=None,
                )
            chunks.append(chunk[: max_bytes - (size - len(chunk))])
            break
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a success ``response``; :class:`APIResponseValidationError` if none.

    Never raises a bare ``ValueError`` or ``RecursionError``, however the body is broken.
    """
    try:
        return _json.loads(response.content)
    except ValueError as exc:
        raise APIResponseValidationError(
            f"{response.status_code} answer is not valid JSON ({len(response.content)} bytes)",
            response=response,
        ) from exc


def transport_error(exc: Exception, request: httpx.Request) -> APIConnectionError:
    """The public error for an httpx transport failure: names the host, keeps the cause.

    Never carries headers or bodies, so no credential can travel in it.
    """
    kind = type(exc).__name__
    host = request.url.host
    if isinstance(exc, http_errors().timeout):
        return APITimeoutError(f"request to {host} timed out ({kind})", request=request, cause=exc)
    return APIConnectionError(
        f"connection error talking to {host} ({kind}: {exc})", request=request, cause=exc
    )
