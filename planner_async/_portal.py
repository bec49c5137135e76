"""The background event loop of :class:`BlockingPlannerClient`, and iterators across it.

A :class:`Runner` starts one thread running an asyncio event loop (anyio's blocking
portal). :meth:`Runner.call` runs a coroutine there as a task and blocks the calling
thread until it is done; any number of threads may call at once. :class:`PortalIterator`
turns an async iterator living on that loop into a plain one: each ``next()`` is one
call, and closing it (or dropping it) closes the async generator on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import CancelledError, Future
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import anyio
import sniffio
from anyio.from_thread import BlockingPortal, start_blocking_portal

__all__ = ["CLOSE_TIMEOUT", "EventLoopBlockedError", "PortalIterator", "Runner"]

T = TypeVar("T")

CLOSE_TIMEOUT: Final = 5.0
"""Seconds ``close()`` gives the async client to close its pool before giving up on it."""


class EventLoopBlockedError(RuntimeError):
    """A :class:`BlockingPlannerClient` was called from inside a running event loop.

    A blocking call there would stall every other task of that loop (and deadlock on the
    client's own loop); use :class:`PlannerClient` with ``await`` instead, or run the
    blocking call in a worker thread (``await anyio.to_thread.run_sync(...)``).
    """


def _running_loop() -> str | None:
    """The async library running in this thread (``asyncio``, ``trio``, ...), or None."""
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        # sniffio sees asyncio only inside a task; a loop callback has no task.
        return "asyncio" if asyncio._get_running_loop() is not None else None


def refuse_in_event_loop(what: str) -> None:
    """Raise :class:`EventLoopBlockedError` when this thread runs an event loop."""
    library = _running_loop()
    if library is not None:
        raise EventLoopBlockedError(
            f"BlockingPlannerClient.{what} was called inside a running {library} event loop, "
            "which it would block; there, use PlannerClient and await its calls, or run "
            "this one in a worker thread (anyio.to_thread.run_sync)"
        )


_END: Final = object()


async def _step(iterator: AsyncIterator[Any]) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


class Runner:
    """One background event loop shared by a blocking client and its views.

    Calls from any thread run as tasks on it; :meth:`close` cancels those still running,
    lets ``cleanup`` close the async client (within :data:`CLOSE_TIMEOUT`), and stops
    the loop and its thread. Idempotent; safe from any thread but the loop's own.
    """

    __slots__ = ("_closed", "_context", "_inflight", "_lock", "_portal", "_thread")

    def __init__(self) -> None:
        self._context = start_blocking_portal("asyncio", name="planner-async-portal")
        self._portal: BlockingPortal = self._context.__enter__()
        self._thread = self._portal.call(threading.get_ident)
        self._lock = threading.Lock()
        self._inflight: set[Future[Any]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._closed

    def call(self, what: str, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``func`` on the loop and wait for its result (or exception) in this thread.

        If this thread is interrupted while waiting (Ctrl-C), the task is cancelled too.
        """
        result: T = self._run(what, func)
        return result

    def read(self, what: str, func: Callable[[], T]) -> T:
        """Call the plain function ``func`` on the loop (to read state the loop owns);
        once closed, here: nothing changes that state any more (final stats stay readable).
        """
        if self._closed:
            refuse_in_event_loop(what)
            return func()
        result: T = self._run(what, func)
        return result

    def _run(self, what: str, func: Callable[[], Any]) -> Any:
        refuse_in_event_loop(what)
        with self._lock:
            if self._closed:
                raise RuntimeError("this BlockingPlannerClient is closed; create a new one")
            future = self._portal.start_task_soon(func)
            self._inflight.add(future)
        try:
            return future.result()
        except CancelledError:
            raise RuntimeError(
                f"BlockingPlannerClient.{what} was cancelled: the client was closed meanwhile"
            ) from None
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the call running
            raise
        finally:
            with self._lock:
                self._inflight.discard(future)

    def close(self, cleanup: Callable[[], Awaitable[object]]) -> None:
        """Cancel the calls in flight, run ``cleanup`` (bounded), stop the loop."""
        if threading.get_ident() == self._thread:
            raise EventLoopBlockedError("a BlockingPlannerClient cannot be closed from its hooks")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            inflight = list(self._inflight)
        for future in inflight:
            future.cancel()
        try:
            self._portal.call(_bounded, cleanup)
        finally:
            try:
                self._portal.call(self._portal.stop, True)
            finally:
                self._context.__exit__(None, None, None)

    def close_in_background(self, cleanup: Callable[[], Awaitable[object]]) -> None:
        """:meth:`close` from a new daemon thread: for a finalizer, which may run anywhere
        (on the loop's own thread included) and must not block."""
        if not self._closed:
            threading.Thread(
                target=self.close, args=(cleanup,), name="planner-async-close", daemon=True
            ).start()

    def close_quietly(self, iterator: AsyncIterator[Any]) -> None:
        """Close an async generator on the loop if it is still there; never raises."""
        aclose = getattr(iterator, "aclose", None)
        if aclose is None or self._closed or _running_loop() is not None:
            return  # the loop's own shutdown finalizes it
        with contextlib.suppress(Exception):  # best effort, like a generator's finalizer
            self._portal.call(aclose)


async def _bounded(cleanup: Callable[[], Awaitable[object]]) -> None:
    with anyio.move_on_after(CLOSE_TIMEOUT):
        await cleanup()


class PortalIterator(Generic[T]):
    """A plain iterator over an async iterator that lives on a :class:`Runner`'s loop.

    Made lazily by ``make`` on the first ``next()``. One thread at a time may iterate it.
    Leaving a ``for`` loop early closes the async generator on the loop when the iterator
    is dropped; :meth:`close` (or ``with``) does it at once.
    """

    __slots__ = ("_done", "_iterator", "_make", "_runner", "_what")

    def __init__(self, runner: Runner, what: str, make: Callable[[], AsyncIterator[T]]) -> None:
        self._runner = runner
        self._what = what
        self._make = make
        self._iterator: AsyncIterator[T] | None = None
        self._done = False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if self._iterator is None:
            self._iterator = self._make()
        iterator = self._iterator
        try:
            item = self._runner.call(self._what, lambda: _step(iterator))
        except BaseException:
            self._done, self._iterator = True, None  # an async generator that raised is over
            raise
        if item is _END:
            self._done, self._iterator = True, None
            raise StopIteration
        result: T = item
        return result

    def close(self) -> None:
        """Stop iterating; close the async generator on the loop if one was started."""
        iterator, self._iterator, self._done = self._iterator, None, True
        if iterator is not None:
            self._runner.close_quietly(iterator)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_iterator", None) is not None:
            self.close()
