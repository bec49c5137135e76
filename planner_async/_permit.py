"""A permit: the right to send one request, taken from a :class:`QuotaLimiter`.

Its life is new → held (entered) → done (completed, abandoned or discarded); how it
ended decides when its slot frees. The limiter does the waiting; the permit records the
outcome and tells the limiter's backend.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from . import _backend
from ._clock import Clock
from ._lanes import Lane
from ._limiter_backends import Backend
from ._stores import Outcome

__all__ = ["Permit", "PermitSource"]


class PermitSource(Protocol):
    """What a permit needs of its limiter (:class:`~planner_async.QuotaLimiter`)."""

    _backend: Backend
    _clock: Clock

    def _take_now(self, lane: Lane) -> object | None: ...

    async def _wait(
        self, start: float, max_wait: float | None, lane: Lane
    ) -> tuple[object, float]: ...

    def _released(self, outcome: Outcome) -> None: ...


# Permit states.
_NEW, _HELD, _DONE = 0, 1, 2


class Permit:
    """The right to send one request, used as ``async with limiter.acquire() as permit``.

    Entering waits for the permit (FIFO within its lane). Leaving records the request's
    completion at that moment, which starts the ``period`` after which its slot frees;
    leaving by an exception (cancellation, timeout, transport error) records it as
    abandoned, which holds the slot ``abandon_grace`` seconds longer because the server
    may still receive it. Call :meth:`discard` when nothing was sent, :meth:`abandon` when
    a request that may have left is given up without leaving the block by an exception,
    and :meth:`complete` as soon as the response arrived if the block goes on after that.
    ``waited`` is the seconds spent queueing; ``taken_at`` when it was taken (the
    limiter's clock).
    """

    __slots__ = (
        "_lane",
        "_limiter",
        "_max_wait",
        "_pending",
        "_slot",
        "_state",
        "taken_at",
        "waited",
    )

    def __init__(self, limiter: PermitSource, max_wait: float | None, lane: Lane) -> None:
        self._limiter = limiter
        self._max_wait = max_wait
        self._lane = lane
        self._state = _NEW
        self._slot: object = None
        self._pending: Outcome | None = None  # told to the store when the block is left
        self.waited = 0.0
        self.taken_at = 0.0

    @property
    def held(self) -> bool:
        """Whether the permit is taken and neither completed nor discarded yet."""
        return self._state == _HELD

    def discard(self) -> None:
        """Nothing was sent: give the slot back at once, with no expiry. Idempotent."""
        self._end(Outcome.DISCARD, "discard")

    def complete(self) -> None:
        """The response arrived now: the slot frees ``period`` from now. Idempotent."""
        self._end(Outcome.COMPLETE, "complete")

    def abandon(self) -> None:
        """The request was given up in flight (e.g. a read timeout): it may still be stamped.

        Its slot frees ``abandon_grace + period`` from now. Idempotent; leaving the block by
        an exception does this by itself.
        """
        self._end(Outcome.ABANDON, "abandon")

    def _end(self, outcome: Outcome, verb: str) -> None:
        if self._state == _NEW:
            raise RuntimeError(f"cannot {verb} a permit that was not acquired")
        if self._state != _HELD:
            return
        self._state = _DONE
        if self._limiter._backend.end(self._slot, outcome):
            self._pending = outcome
        else:
            self._limiter._released(outcome)

    async def __aenter__(self) -> Permit:
        if self._state != _NEW:
            raise RuntimeError("a Permit can be entered only once")
        limiter = self._limiter
        # Fast path: honour a pending cancellation, but do not yield to the scheduler. The
        # caller is about to send a request, which yields anyway.
        await _backend.checkpoint_if_cancelled()
        slot = limiter._take_now(self._lane)
        if slot is None:
            slot, self.waited = await limiter._wait(limiter._clock(), self._max_wait, self._lane)
        self._slot = slot
        self.taken_at = limiter._clock()
        self._state = _HELD
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == _HELD:
            self._end(Outcome.COMPLETE if exc_type is None else Outcome.ABANDON, "end")
        if self._pending is not None:
            outcome, self._pending = self._pending, None
            await self._limiter._backend.finish(self._slot, outcome)
            self._limiter._released(outcome)

    def __repr__(self) -> str:
        state = ("new", "held", "done")[self._state]
        return f"<Permit {state} waited={self.waited:.3f}s>"
