"""The API caller: the open/loop check, the call's deadline, and coalescing of identical reads.

Every API call of the events endpoints comes here; the :class:`~planner_async._pipeline.Sender`
below does the rest. Identical concurrent reads (same path and parameters) share one
request: the first caller sends it (:class:`Flights`), the others wait for its answer or
its error. A caller who gives up leaves the request to the others: the first caller's
request runs shielded while anyone waits for it, on asyncio and trio alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import anyio

from ._call import DEFAULT_OPTIONS, Call, CallOptions
from ._exceptions import APIResponseValidationError, DeadlineExceededError
from ._pipeline import Sender
from ._serialization import describe_structure_error

__all__ = ["ApiCaller", "Flights"]

T = TypeVar("T")
_Key = tuple[str, str, tuple[tuple[str, str], ...]]  # lane, path, parameters
_Send = Callable[[Call], Awaitable[Any]]


class _HandedOver(Exception):
    """A flight ended without an answer for its waiters: one of them sends again."""


_HANDED_OVER: Final = _HandedOver()  # a marker, never raised


class _Flight:
    """One shared request: the first caller's scope, its followers, and the outcome."""

    __slots__ = ("done", "error", "followers", "result", "scope")

    def __init__(self, scope: anyio.CancelScope) -> None:
        self.scope = scope  # shielded while followers wait: the leader cannot leave them
        self.result: Any = None
        self.error: BaseException | None = _HANDED_OVER  # until it lands with an answer
        self.done: anyio.Event | None = None  # made by the first follower
        self.followers = 0


class Flights:
    """The reads in flight of one client and its views, by path and parameters.

    The first caller of a read sends it in its own task, inside a cancel scope that is
    shielded while others wait for the same answer (the token flight's rule): if the
    first caller gives up then, it stays until the answer is in, hands it over and only
    then leaves; if nobody waits, it leaves at once and the request is called off. A
    read's cost when nobody shares it is one cancel scope.
    """

    __slots__ = ("_flights", "saved")

    def __init__(self) -> None:
        self._flights: dict[_Key, _Flight] = {}
        self.saved = 0  # requests not sent because an identical one was in flight

    async def share(self, key: _Key, send: _Send, call: Call) -> Any:
        """``await send(call)``'s answer, sharing one in flight under ``key``."""
        while True:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, send, call)
            self.saved += 1
            await _follow(flight)
            if flight.error is None:
                return flight.result
            if flight.error is not _HANDED_OVER:
                raise flight.error
            self.saved -= 1  # its leader left without an answer: lead again

    async def _lead(self, key: _Key, send: _Send, call: Call) -> Any:
        with anyio.CancelScope() as scope:
            flight = self._flights[key] = _Flight(scope)
            try:
                flight.result = await send(call)
                flight.error = None
                return flight.result
            except Exception as exc:
                flight.error = exc
                raise
            finally:
                if self._flights.get(key) is flight:
                    del self._flights[key]
                if flight.done is not None:
                    flight.done.set()


async def _follow(flight: _Flight) -> None:
    """Wait for the leader's answer; while anyone waits, the leader is shielded."""
    if flight.done is None:
        flight.done = anyio.Event()
    flight.followers += 1
    flight.scope.shield = True
    try:
        await flight.done.wait()
    finally:
        flight.followers -= 1
        if not flight.followers:
            flight.scope.shield = False  # nobody waits: the leader may leave again


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
        # Per lane: an interactive caller never waits behind a batch caller's request.
        lane = options.priority or self.sender.priority
        key = (lane, path, tuple(sorted((k, str(v)) for k, v in params.items())) if params else ())
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
