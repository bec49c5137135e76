"""A transport wrapper that counts what is in flight and which responses are still open,
and a census of running tasks: what the prefetch and get_many tests need to prove that
nothing is left behind (imported as ``tracking``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import sniffio


class _CountedStream(httpx.AsyncByteStream):
    """A response body that tells its transport when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, owner: TrackingTransport) -> None:
        self._inner = inner
        self._owner = owner
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner.open_responses -= 1
        await self._inner.aclose()


class TrackingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: ``delay(request)`` seconds before each request, and counters:
    ``in_flight`` (now), ``max_in_flight``, ``open_responses`` (bodies not yet closed)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        delay: Callable[[httpx.Request], float] | None = None,
    ) -> None:
        self.inner = inner
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.open_responses = 0
        self.pages: list[int] = []
        self._watch: tuple[int, anyio.Event] | None = None

    async def wait_in_flight(self, count: int) -> None:
        """Return once ``count`` requests are in flight at the same time."""
        if self.in_flight < count:
            self._watch = (count, anyio.Event())
            await self._watch[1].wait()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self._watch is not None and self.in_flight >= self._watch[0]:
            self._watch[1].set()
        if "page" in request.url.params:
            self.pages.append(int(request.url.params["page"]))
        try:
            seconds = self.delay(request) if self.delay is not None else 0.0
            if seconds:
                await anyio.sleep(seconds)
            response = await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1
        assert isinstance(response.stream, httpx.AsyncByteStream)
        self.open_responses += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CountedStream(response.stream, self),
            extensions=response.extensions,
        )


def running_tasks() -> int:
    """How many tasks run in this event loop now (asyncio or trio), this one included."""
    if sniffio.current_async_library() == "asyncio":
        return len(asyncio.all_tasks())
    import trio

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for n in task.child_nurseries for child in n.child_tasks)

    return count(trio.lowlevel.current_root_task())


async def settle() -> None:
    """Let finished tasks be reaped (a few scheduler rounds)."""
    for _ in range(5):
        await anyio.lowlevel.checkpoint()
