"""The API caller: the open/loop check, the call's deadline, and coalescing of identical reads.

Every API call of the events endpoints comes here; the :class:`~planner_async._pipeline.Sender`
below does the rest. Identical concurrent reads (same path and parameters) share one
request: the first caller's request is the *flight*, and the others wait for its answer
or its error. A caller that gives up (its deadline, a cancel scope) leaves the flight to
the others: on asyncio the flight runs in a task of its own and completes whoever leaves
(called off when every caller has left); trio has no detached tasks, so there the caller
who gives up hands over, and the next waiter sends the request again.

What a flight costs on asyncio: one task (started eagerly on Python 3.12+, so an answer
that needs no wait is in before :meth:`Flights.share` returns), one cancel scope to call
it off, and a future per waiter that the flight resolves as it lands (no ``asyncio.shield``,
no done-callback round through the loop).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import anyio

from . import _backend
from ._call import DEFAULT_OPTIONS, Call, CallOptions
from ._exceptions import APIResponseValidationError, DeadlineExceededError
from ._pipeline import Sender
from ._serialization import describe_structure_error

__all__ = ["ApiCaller", "Flights"]

T = TypeVar("T")
_Key = tuple[str, tuple[tuple[str, str], ...]]
_Send = Callable[[Call], Awaitable[Any]]


class _HandedOver(Exception):
    """A flight ended without an answer for its waiters: one of them sends again."""


_HANDED_OVER: Final = _HandedOver()  # a marker, never raised


def _task_starter() -> Callable[[asyncio.AbstractEventLoop, Any], asyncio.Task[None]]:
    """Start a task eagerly where asyncio can (3.12+): it runs until its first wait at once.

    A loop with a task factory of its own gets ``create_task`` (the factory decides).
    """
    if sys.version_info < (3, 12):
        return lambda loop, coro: loop.create_task(coro)

    def start(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
        if loop.get_task_factory() is not None:
            return loop.create_task(coro)
        return asyncio.Task(coro, loop=loop, eager_start=True)

    return start


_start_task: Final = _task_starter()


class _Flight:
    """One shared request: its task (asyncio) or event (trio), waiters and outcome."""

    __slots__ = ("done", "error", "result", "scope", "task", "waiters", "woken")

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = _HANDED_OVER  # until it lands with an answer
        self.task: asyncio.Task[None] | None = None  # asyncio: the detached request
        self.scope: anyio.CancelScope | None = None  # ... and the scope that calls it off
        self.woken: list[asyncio.Future[None]] = []  # ... and a future per waiter, resolved
        self.done: anyio.Event | None = None  # trio: set when the first caller's request ends
        self.waiters = 0  # waiters still waiting (asyncio)


class Flights:
    """The reads in flight of one client and its views, by path and parameters."""

    __slots__ = ("_flights", "saved")

    def __init__(self) -> None:
        # A flight holds its task (asyncio keeps tasks weakly) for as long as it is here.
        self._flights: dict[_Key, _Flight] = {}
        self.saved = 0  # requests not sent because an identical one was in flight

    async def share(self, key: _Key, send: _Send, call: Call) -> Any:
        """``await send(call)``'s answer, sharing one in flight under ``key``."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                if _backend.library_name() != "asyncio":
                    return await self._lead_here(key, send, call)
                flight = self._fly(key, send, call)
            else:
                self.saved += 1
            if flight.task is not None:
                await _wait_task(flight, flight.task)
            else:
                await _wait_event(flight)
            if flight.error is None:
                return flight.result
            if flight.error is not _HANDED_OVER:
                raise flight.error

    def _fly(self, key: _Key, send: _Send, call: Call) -> _Flight:
        """Start the request of a new flight in a task of its own (asyncio)."""
        flight = self._flights[key] = _Flight()
        flight.task = _start_task(asyncio.get_running_loop(), self._run(key, flight, send, call))
        return flight

    async def _run(self, key: _Key, flight: _Flight, send: _Send, call: Call) -> None:
        try:
            with anyio.CancelScope() as flight.scope:  # called off when every waiter has left
                flight.result = await send(call)
                flight.error = None
        except Exception as exc:
            flight.error = exc
        finally:
            self._land(key, flight)

    async def _lead_here(self, key: _Key, send: _Send, call: Call) -> Any:
        """Without detached tasks (trio), the first caller sends the request itself."""
        flight = self._flights[key] = _Flight()
        try:
            flight.result = await send(call)
            flight.error = None
            return flight.result
        except Exception as exc:
            flight.error = exc
            raise
        finally:
            self._land(key, flight)

    def _land(self, key: _Key, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.done is not None:  # trio: followers wait on it
            flight.done.set()
        for woken in flight.woken:  # asyncio: resolved from the task, not by a callback
            if not woken.done():
                woken.set_result(None)


async def _wait_task(flight: _Flight, task: asyncio.Task[None]) -> None:
    """Wait for a detached flight; the last waiter to leave early calls it off.

    Each waiter waits on a future of its own that the flight resolves as it lands: a
    waiter who leaves cancels only that future, never the task the others wait for.
    """
    if task.done():  # started eagerly and already answered: nothing to wait for
        return
    woken: asyncio.Future[None] = task.get_loop().create_future()
    flight.woken.append(woken)
    flight.waiters += 1
    try:
        await woken
    finally:
        flight.waiters -= 1
        if not task.done() and not flight.waiters and flight.scope is not None:
            flight.scope.cancel()  # everyone left: do not spend a request for nobody


async def _wait_event(flight: _Flight) -> None:
    """Wait for the first caller's own request (trio); it sets the event when it lands."""
    if flight.done is None:
        flight.done = anyio.Event()
    await flight.done.wait()


class ApiCaller:
    """Sends API calls: checks the client is usable, bounds the deadline, shares reads."""

    __slots__ = ("_check", "_flights", "sender")

    def __init__(self, sender: Sender, check: Callable[[], None], flights: Flights | None) -> None:
        self.sender = sender
        self._check = check
        self._flights = flights

    async def api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        options: CallOptions = DEFAULT_OPTIONS,
    ) -> Any:
        """Send one API call; return its JSON (shared with identical reads in flight)."""
        self._check()
        flights = self._flights
        if flights is None or method != "GET":
            call = Call(method, path, params, None, options)
            if options.deadline is None:
                return await self.sender.send(call)
            return await self._bounded(call)
        key = (path, tuple(sorted((k, str(v)) for k, v in params.items())) if params else ())
        deadline = options.deadline
        call = Call(method, path, params, None, options)
        if deadline is None:
            return await flights.share(key, self.sender.send, call)
        with anyio.move_on_after(deadline):
            return await flights.share(key, self.sender.send, call)
        raise _deadline_error(method, path, deadline)

    async def _bounded(self, call: Call) -> Any:
        deadline = call.options.deadline
        if deadline is None:
            return await self.sender.send(call)
        with anyio.move_on_after(deadline):
            return await self.sender.send(call)
        raise _deadline_error(call.method, call.path, deadline)

    async def prepare(self) -> None:
        """Check the client is usable and hold a token (logging in or renewing if needed),
        so that work fanned out next does not log in once per task."""
        self._check()
        await self.sender.ready()

    @staticmethod
    def structured(structure: Callable[[Any], T], data: Any) -> T:
        """Structure wire JSON, turning a shape mismatch into APIResponseValidationError."""
        try:
            return structure(data)
        except (TypeError, ValueError, RecursionError) as exc:  # StructureError is a ValueError
            raise APIResponseValidationError(
                f"answer does not fit the model: {describe_structure_error(exc)}"
            ) from exc


def _deadline_error(method: str, path: str, deadline: float) -> DeadlineExceededError:
    return DeadlineExceededError(
        f"{method} {path} did not finish within its deadline of {deadline:g} s",
        deadline=deadline,
    )
