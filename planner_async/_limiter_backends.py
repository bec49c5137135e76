"""The two places a :class:`~planner_async.QuotaLimiter` takes slots from, behind one face.

:class:`MemoryBackend` counts in this process through a :class:`MemoryQuotaStore`'s core:
synchronous, so a free slot is taken without an await. :class:`StoreBackend` asks any
other :class:`QuotaStore` (Redis, or a user's own): every call is a round trip that
honours its caller's cancellation, and a slot whose holder gave up is given back, or
expires by the store's lease. The limiter picks one when it is built and never branches
on which.
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import Final, Protocol

import anyio
import anyio.lowlevel

from . import _backend
from ._clock import Clock
from ._lanes import Lane
from ._quota import RateHeaders, RateLimitStatus
from ._stores import Admission, MemoryQuotaStore, Outcome, QuotaStore

__all__ = ["Backend", "MemoryBackend", "StoreBackend", "backend_for"]

log = logging.getLogger("planner_async")
_INF = math.inf
RELEASE_TIMEOUT: Final = 2.0
"""Seconds a shared store may take to hear how a permit ended before its lease takes over."""


class Backend(Protocol):
    """What the limiter needs from where slots are counted."""

    @property
    def store(self) -> QuotaStore:
        """Where the windows are counted."""

    @property
    def clock(self) -> Clock:
        """The monotonic clock the store's times are on."""

    @property
    def poll(self) -> float:
        """The longest sleep while waiting on requests in flight elsewhere."""

    def take_now(self, lane: Lane) -> object | None:
        """A slot taken without awaiting, or None (full, or the store needs a round trip)."""

    async def attempt(self, ahead: int, lane: Lane) -> Admission:
        """One admission attempt for the queue's head."""

    async def earliest(self, ahead: int, lane: Lane) -> float:
        """A finite lower bound of the seconds until a slot could be had."""

    def end(self, slot: object, outcome: Outcome) -> bool:
        """Record how a permit ended; True when :meth:`finish` must still be awaited."""

    async def finish(self, slot: object, outcome: Outcome) -> None:
        """Tell the store how a permit ended (shielded, bounded, never raising)."""

    def completion_known(self) -> bool:
        """Whether a head waiting on requests in flight can now compute its time."""

    def status(self, waiting: int) -> RateLimitStatus | None:
        """A fresh snapshot without awaiting, or None when the store must be asked."""

    async def observe(self, headers: RateHeaders, since: float | None) -> None:
        """Adopt the server's rate headers for a request sent at ``since``."""

    def reserved(self) -> int:
        """The slots batch leaves to interactive traffic now (0 when the store does not say)."""


class MemoryBackend:
    """Slots counted in this process, without awaiting (see the module docstring)."""

    __slots__ = ("clock", "core", "lock", "poll", "store")

    def __init__(self, store: MemoryQuotaStore, *, poll: float = _INF) -> None:
        self.store = store
        self.core = store.core
        self.lock = store.lock
        self.clock = store.clock
        self.poll = poll

    def take_now(self, lane: Lane) -> object | None:
        now = self.clock()
        with self.lock:
            return True if self.core.try_take(now, lane) else None

    async def attempt(self, ahead: int, lane: Lane) -> Admission:
        return self.store.admit(ahead, lane)

    async def earliest(self, ahead: int, lane: Lane) -> float:
        now = self.clock()
        with self.lock:
            return self.core.earliest_at(now, ahead, lane) - now

    def end(self, slot: object, outcome: Outcome) -> bool:
        self.store.release_now(outcome)
        return False

    async def finish(self, slot: object, outcome: Outcome) -> None:  # pragma: no cover
        """Nothing is left to do: :meth:`end` released the slot."""

    def completion_known(self) -> bool:
        now = self.clock()
        with self.lock:
            return self.core.ready_at(now, 0) != _INF

    async def observe(self, headers: RateHeaders, since: float | None) -> None:
        now = self.clock()
        with self.lock:
            self.core.observe(
                now,
                limit=headers.limit,
                remaining=headers.remaining,
                reset=headers.reset,
                since=since,
            )

    def reserved(self) -> int:
        try:
            now = self.clock()
        except RuntimeError:  # no event loop: as of the last use
            now = -_INF
        with self.lock:
            return self.core.reserved_now(now)

    def status(self, waiting: int) -> RateLimitStatus | None:
        try:
            now = self.clock()
        except RuntimeError:  # anyio's NoEventLoopError: as of the last time it was used
            now = -_INF  # the core reads this as "the newest time already seen"
        with self.lock:
            return self.core.status(now, waiting=waiting)


class StoreBackend:
    """Slots counted by a shared :class:`QuotaStore`, one round trip per call."""

    __slots__ = ("_lanes", "clock", "poll", "store")

    def __init__(self, store: QuotaStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.poll = _INF  # the store's subscription wakes the head
        self._lanes = "lane" in inspect.signature(store.acquire).parameters

    def take_now(self, lane: Lane) -> object | None:
        return None

    async def attempt(self, ahead: int, lane: Lane) -> Admission:
        # Not shielded: a caller's deadline or cancel scope bounds the round trip. A slot
        # the store reserved for a caller that left meanwhile expires by its lease.
        if self._lanes:
            admission = await self.store.acquire(ahead, lane=lane)
        else:
            admission = await self.store.acquire(ahead)
        if admission.slot is not None:
            try:
                await anyio.lowlevel.checkpoint_if_cancelled()
            except BaseException:
                await self.finish(admission.slot, Outcome.DISCARD)
                raise
        return admission

    async def earliest(self, ahead: int, lane: Lane) -> float:
        admission = await self.attempt(ahead, lane)
        if admission.slot is not None:  # free after all: keep nothing, the queue decides
            await self.finish(admission.slot, Outcome.DISCARD)
            return 0.0
        return admission.earliest

    def end(self, slot: object, outcome: Outcome) -> bool:
        return True

    async def finish(self, slot: object, outcome: Outcome) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(RELEASE_TIMEOUT) as scope:
            try:
                await self.store.release(slot, outcome)
            except Exception:
                log.warning("could not release a quota slot (%s); its lease will", outcome.value)
        if scope.cancelled_caught:
            log.warning("releasing a quota slot timed out (%s); its lease will", outcome.value)

    def completion_known(self) -> bool:
        return True

    def status(self, waiting: int) -> RateLimitStatus | None:
        return None

    def reserved(self) -> int:
        return 0

    async def observe(self, headers: RateHeaders, since: float | None) -> None:
        await self.store.observe(headers)  # the store keeps its own (server) time


def backend_for(store: QuotaStore, *, poll: float = _INF) -> Backend:
    """The backend for ``store``, chosen once: in memory when it is one of ours.

    ``poll`` bounds a wait on requests in flight when other limiters share the store
    (their completions wake nobody here).
    """
    if isinstance(store, MemoryQuotaStore):
        return MemoryBackend(store, poll=poll)
    return StoreBackend(store, _backend.current_time)
