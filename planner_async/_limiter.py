"""The async quota limiter: waits in FIFO order for the permits that :mod:`._quota` counts.

The guarantee (see :mod:`planner_async._quota` for the proof): for every window, no
interval of the window's length holds more than its limit of this client's requests as the
server stamps them, for sliding or fixed server windows and any network delay (a request
given up in flight counts as long as the server receives it within ``abandon_grace``). A slot is
reusable ``period`` seconds after its request's response arrived, so under saturated
demand the first ``limit`` requests go at once and each later one goes as soon as a slot
frees, give or take a round trip: no pacing.

How waiting works. Waiters queue in FIFO order and a new caller never overtakes one. Only
the head of the queue waits on time, with a deadline at the instant the core says a
permit frees (or on an event alone while every slot is held by a request in flight; the
completion that makes the time known wakes it). Everyone else waits on their own event.
An admitted head takes its permit in its own task, leaves, and wakes the next head: about
one wake-up per admission (plus one per refill, when a new head must start its timer), no
polling, no thundering herd. A waiter cancelled at any moment takes nothing, and if it was
the head it wakes the next one. A free permit is taken without yielding to the scheduler
(only a pending cancellation is honoured first): the request that follows yields anyway.
Two lanes: interactive waiters are admitted before batch waiters, and a batch request
leaves each window's interactive reserve free while interactive traffic was seen recently
(:class:`QuotaCore`). This module runs on asyncio and trio through anyio; the arithmetic
is in the sans-I/O :class:`QuotaCore`, and where slots are counted is a backend
(:mod:`._limiter_backends`) chosen once.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

import anyio
import anyio.lowlevel
import attrs

from . import _backend
from ._checks import check_max_wait
from ._clock import Clock
from ._exceptions import QuotaWaitError
from ._lanes import LANES, Lane
from ._limiter_backends import Backend, backend_for
from ._permit import Permit
from ._quota import QuotaCore, RateHeaders, RateLimitStatus, WindowStatus
from ._quota_types import LaneStatus
from ._stores import MemoryQuotaStore, Outcome, QuotaStore

__all__ = ["Permit", "QuotaCore", "QuotaLimiter", "RateLimitStatus", "WindowStatus"]

_INF = math.inf


class _Waiter:
    """A queued caller: the event it sleeps on and whether it waits on in-flight requests."""

    __slots__ = ("event", "lane", "on_in_flight")

    def __init__(self, lane: Lane) -> None:
        self.event = anyio.Event()
        self.lane = lane
        self.on_in_flight = False


class QuotaLimiter:
    """Client-side quota for several windows, e.g. ``[(500, 60), (3000, 3600)]``.

    ``rate_limits`` is any sequence of ``(max_requests, period_seconds)``; ``[]`` turns
    windows off (a :meth:`pause` still applies). ``clock`` returns seconds on a monotonic
    clock (default :func:`anyio.current_time`, virtual under trio's ``MockClock``).
    ``margin`` seconds are added to every expiry; ``abandon_grace`` is how much longer a
    request abandoned in flight keeps its slot. ``sleep`` (with ``clock``) runs the waits
    in virtual time: a waiter sleeps until its turn through it instead of on anyio's
    clock, so a ``ManualClock`` and its ``sleep`` make quota waits take no real time.

    ``store`` replaces the in-memory counts with a :class:`QuotaStore` (then give no
    ``rate_limits``: the store has its own); waiting stays local, by lane and FIFO, and
    cancellation-safe. ``poll`` bounds a wait on requests in flight when other limiters
    share an in-memory store (the client sets it for the stores clients share).

    Use ``async with limiter.acquire(max_wait=..., lane=...) as permit:`` around one
    request. One limiter serves the tasks of one event loop at a time.
    """

    __slots__ = ("_backend", "_clock", "_default_clock", "_last", "_queues", "_sleep", "_wakeups")

    def __init__(
        self,
        rate_limits: Sequence[tuple[int, float]] | None = None,
        *,
        store: QuotaStore | None = None,
        clock: Clock | None = None,
        margin: float = 0.0,
        abandon_grace: float = 10.0,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        poll: float = _INF,
    ) -> None:
        if store is None:
            store = MemoryQuotaStore(
                () if rate_limits is None else rate_limits,
                clock=clock,
                margin=margin,
                abandon_grace=abandon_grace,
            )
        elif rate_limits is not None:
            raise TypeError("give rate_limits or a store, not both: the store has its limits")
        self._backend: Backend = backend_for(store, poll=poll)
        store.subscribe(self._wake_head)
        self._clock: Clock = self._backend.clock
        self._default_clock = self._clock in (anyio.current_time, _backend.current_time)
        self._sleep = sleep
        self._queues: dict[Lane, OrderedDict[_Waiter, None]] = {
            lane: OrderedDict() for lane in LANES
        }
        self._wakeups = 0
        self._last = RateLimitStatus(windows=(), paused_for=0.0)

    # -- public surface ----------------------------------------------------------------------

    @property
    def store(self) -> QuotaStore:
        """Where the windows are counted (a :class:`MemoryQuotaStore` by default)."""
        return self._backend.store

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self._backend.store.limits

    @property
    def waiting(self) -> int:
        """How many callers wait for a permit, both lanes together."""
        return sum(len(q) for q in self._queues.values())

    @property
    def status(self) -> RateLimitStatus:
        """The last known snapshot: every window's use, the cool-down left, the queue length.

        Fresh for the in-memory store (read outside an event loop, as of the limiter's last
        use); for a shared store, the last :meth:`snapshot` taken.
        """
        fresh = self._backend.status(self.waiting)
        if fresh is not None:
            self._last = self._with_lanes(fresh)
        return self._last

    async def snapshot(self) -> RateLimitStatus:
        """A fresh :attr:`status`, asked of the store (a round trip for a shared one)."""
        self._last = self._with_lanes(await self._backend.store.status(self.waiting))
        return self._last

    def _with_lanes(self, status: RateLimitStatus) -> RateLimitStatus:
        """``status`` with this limiter's queue per lane and the reserve kept (in memory)."""
        queues = self._queues
        lanes = (
            LaneStatus("interactive", len(queues["interactive"]), self._backend.reserved()),
            LaneStatus("batch", len(queues["batch"])),
        )
        return attrs.evolve(status, lanes=lanes)

    async def forecast(self, n: int = 1, *, lane: Lane = "interactive") -> float:
        """Seconds until ``n`` more ``lane`` requests could be admitted if nobody else asked.

        ``0.0`` when they could go now; ``inf`` while it depends on requests in flight.
        """
        ahead = self.waiting if lane == "batch" else len(self._queues["interactive"])
        return await self._backend.store.forecast(n + ahead, lane=lane)

    @property
    def wakeups(self) -> int:
        """How many times a queued caller was resumed (about one per admission that waited)."""
        return self._wakeups

    def acquire(self, max_wait: float | None = None, *, lane: Lane = "interactive") -> Permit:
        """A :class:`Permit` to enter with ``async with``; it waits for a free slot.

        Interactive callers are admitted before batch callers, each lane in FIFO order.
        With ``max_wait`` seconds, a caller that cannot get a permit in time raises
        :class:`QuotaWaitError` (``retry_after`` = seconds until one could be free): at
        once, spending nothing, when even the earliest possible time is too late, otherwise
        when the wait runs out. ``None`` (or ``math.inf``) waits as long as it takes.
        """
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, got {lane!r}")
        return Permit(self, check_max_wait(max_wait), lane)

    async def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a 429's Retry-After); extends, never shortens."""
        await self._backend.store.pause(seconds)

    async def observe(self, headers: RateHeaders, *, since: float | None = None) -> None:
        """Adopt the server's ``X-Rate-Limit-*`` headers when they say less is left here.

        ``since`` is :attr:`Permit.taken_at` of the answered request. See
        :meth:`QuotaCore.observe`; nothing here can free a slot, so nobody is woken.
        """
        await self._backend.observe(headers, since)

    def __repr__(self) -> str:
        return f"QuotaLimiter({list(self.limits)!r}, waiting={self.waiting})"

    # -- acquisition -------------------------------------------------------------------------

    def _ahead_of(self, lane: Lane) -> int:
        """Waiters a new ``lane`` caller must let go first."""
        interactive = len(self._queues["interactive"])
        return interactive if lane == "interactive" else interactive + len(self._queues["batch"])

    def _take_now(self, lane: Lane) -> object | None:
        """A slot taken without waiting, when nobody waits ahead of ``lane``; else None."""
        queues = self._queues
        if queues["interactive"] or (lane == "batch" and queues["batch"]):
            return None
        return self._backend.take_now(lane)

    async def _wait(self, start: float, max_wait: float | None, lane: Lane) -> tuple[object, float]:
        deadline = _INF
        if max_wait is not None:
            earliest = await self._backend.earliest(self._ahead_of(lane), lane)
            if earliest > max_wait:
                raise _refusal(max_wait, earliest)
            deadline = start + max_wait
        waiter = _Waiter(lane)
        queue = self._queues[lane]
        queue[waiter] = None
        try:
            return await self._wait_turn(waiter, start, deadline, max_wait)
        except BaseException:
            if waiter in queue:
                was_head = self._head() is waiter
                del queue[waiter]
                if was_head:
                    self._wake_head()
            raise

    async def _wait_turn(
        self, waiter: _Waiter, start: float, deadline: float, max_wait: float | None
    ) -> tuple[object, float]:
        while True:
            now = self._clock()
            wake_at = deadline
            if self._head() is waiter:
                admission = await self._backend.attempt(0, waiter.lane)
                if admission.slot is not None:
                    del self._queues[waiter.lane][waiter]
                    self._wake_head()
                    return admission.slot, self._clock() - start
                # Woken by the completion that turns "in flight" into a known time.
                waiter.on_in_flight = admission.wait == _INF
                wake_at = min(now + min(admission.wait, self._backend.poll), deadline)
            if now >= deadline:
                ahead = self._position(waiter)
                raise _refusal(max_wait or 0.0, await self._backend.earliest(ahead, waiter.lane))
            await self._sleep_until(waiter, wake_at)
            self._wakeups += 1
            # Woken: a cancellation that arrived meanwhile must win over taking a permit.
            await anyio.lowlevel.checkpoint_if_cancelled()

    async def _sleep_until(self, waiter: _Waiter, wake_at: float) -> None:
        if waiter.event.is_set():
            waiter.event = anyio.Event()
        if wake_at == _INF:
            await waiter.event.wait()
            return
        if self._sleep is not None:  # virtual time: the injected sleep moves the clock
            await self._sleep(max(0.0, wake_at - self._clock()))
            return
        with anyio.CancelScope(deadline=self._to_anyio_time(wake_at)):
            await waiter.event.wait()

    def _to_anyio_time(self, t: float) -> float:
        if self._default_clock:
            return t
        return anyio.current_time() + (t - self._clock())

    def _head(self) -> _Waiter | None:
        for queue in self._queues.values():
            if queue:
                return next(iter(queue))
        return None

    def _position(self, waiter: _Waiter) -> int:
        """How many waiters are ahead of ``waiter`` (capped: beyond a window, it is moot)."""
        cap = max((n for n, _ in self.limits), default=0)
        ahead = 0 if waiter.lane == "interactive" else len(self._queues["interactive"])
        for i, w in enumerate(itertools.islice(self._queues[waiter.lane], cap)):
            if w is waiter:
                return min(cap, ahead + i)
        return cap

    def _wake_head(self) -> None:
        head = self._head()
        if head is not None:
            head.event.set()

    # -- release -----------------------------------------------------------------------------

    def _released(self, outcome: Outcome) -> None:
        """Wake the head if this release can let it in, or tell it its time."""
        head = self._head()
        if head is None:
            return
        if outcome is Outcome.DISCARD:
            head.event.set()
            return
        # A completion never frees a slot sooner; it only turns "waiting on requests in
        # flight" into a known time, so only a head waiting on in-flight needs to hear.
        if head.on_in_flight and self._backend.completion_known():
            head.on_in_flight = False
            head.event.set()


def _refusal(max_wait: float, retry_after: float) -> QuotaWaitError:
    retry_after = max(0.0, retry_after)
    return QuotaWaitError(
        f"no request permit within max_wait={max_wait:g}s; one could be free in {retry_after:.3f}s",
        retry_after=retry_after,
    )
