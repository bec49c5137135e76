"""The API caller: the open/loop check, the call's deadline, and coalescing of identical reads.

Every API call of the events endpoints comes here; the :class:`~planner_async._pipeline.Sender`
below does the rest. Identical concurrent reads (same path and parameters) share one
request: the first caller's request is the *flight*, and the others wait for its answer
or its error. A caller that gives up (its deadline, a cancel scope) leaves the flight to
the others: on asyncio the flight runs in a task of its own and completes whoever leaves;
trio has no detached tasks, so there the caller who gives up hands over, and the next
waiter sends the request again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio

from . import _backend
from ._call import DEFAULT_OPTIONS, Call, CallOptions
from ._exceptions import APIResponseValidationError, DeadlineExceededError
from ._pipeline import Sender
from ._serialization import describe_structure_error

__all__ = ["ApiCaller", "Flights"]

T = TypeVar("T")
_Key = tuple[str, tuple[tuple[str, str], ...]]


class _Flight:
    """One shared request: its waiters, their event and its outcome."""

    __slots__ = ("done", "error", "result", "scope", "waiters")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: Any = None
        self.error: BaseException | None = _HandedOver()  # until it lands with an answer
        self.scope: anyio.CancelScope | None = None  # a detached flight's, to call it off
        self.waiters = 0


class Flights:
    """The reads in flight of one client and its views, by path and parameters."""

    __slots__ = ("_flights", "_tasks", "saved")

    def __init__(self) -> None:
        self._flights: dict[_Key, _Flight] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio holds tasks weakly
        self.saved = 0  # requests not sent because an identical one was in flight

    async def share(self, key: _Key, send: Callable[[], Awaitable[Any]]) -> Any:
        """``await send()``'s answer, sharing one in flight under ``key``."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                if _backend.library_name() != "asyncio":
                    return await self._lead_here(key, send)
                flight = self._flights[key] = _Flight()
                flight.scope = anyio.CancelScope()
                task = asyncio.get_running_loop().create_task(self._fly(key, flight, send))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.saved += 1
            await self._wait(flight)
            if flight.error is None:
                return flight.result
            if not isinstance(flight.error, _HandedOver):
                raise flight.error

    @staticmethod
    async def _wait(flight: _Flight) -> None:
        flight.waiters += 1
        try:
            await flight.done.wait()
        finally:
            flight.waiters -= 1
            if not flight.waiters and not flight.done.is_set() and flight.scope is not None:
                flight.scope.cancel()  # everyone left: do not spend a request for nobody

    async def _lead_here(self, key: _Key, send: Callable[[], Awaitable[Any]]) -> Any:
        """Without detached tasks (trio), the first caller sends the request itself."""
        flight = self._flights[key] = _Flight()
        try:
            flight.result = await send()
            flight.error = None
            return flight.result
        except Exception as exc:
            flight.error = exc
            raise
        finally:
            self._land(key, flight)

    async def _fly(self, key: _Key, flight: _Flight, send: Callable[[], Awaitable[Any]]) -> None:
        assert flight.scope is not None
        try:
            with flight.scope:  # called off when every waiter has left
                flight.result = await send()
                flight.error = None
        except Exception as exc:
            flight.error = exc
        finally:
            self._land(key, flight)

    def _land(self, key: _Key, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        flight.done.set()


class _HandedOver(Exception):
    """A flight ended without an answer for its waiters: one of them sends again."""


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
            return await self._bounded(Call(method, path, params, None, options))
        key = (path, tuple(sorted((k, str(v)) for k, v in (params or {}).items())))
        deadline = options.deadline
        call = Call(method, path, params, None, options)
        if deadline is None:
            return await flights.share(key, lambda: self.sender.send(call))
        with anyio.move_on_after(deadline):
            return await flights.share(key, lambda: self.sender.send(call))
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
