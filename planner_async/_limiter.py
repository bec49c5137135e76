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
This module runs on asyncio and trio through anyio; all the arithmetic is in the sans-I/O
:class:`QuotaCore`.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from types import TracebackType

import anyio
import anyio.lowlevel

from . import _backend
from ._checks import check_max_wait
from ._clock import Clock
from ._exceptions import QuotaWaitError
from ._quota import QuotaCore, RateHeaders, RateLimitStatus, WindowStatus
from ._stores import Admission, MemoryQuotaStore, Outcome, QuotaStore

__all__ = ["Permit", "QuotaCore", "QuotaLimiter", "RateLimitStatus", "WindowStatus"]

_INF = math.inf
log = logging.getLogger("planner_async")

# Permit states.
_NEW, _HELD, _DONE = 0, 1, 2


class _Waiter:
    """A queued caller: the event it sleeps on and whether it waits on in-flight requests."""

    __slots__ = ("event", "on_in_flight")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.on_in_flight = False


class Permit:
    """The right to send one request, used as ``async with limiter.acquire() as permit``.

    Entering waits for the permit (FIFO). Leaving records the request's completion at that
    moment, which starts the ``period`` after which its slot frees; leaving by an exception
    (cancellation, timeout, transport error) records it as abandoned, which holds the slot
    ``abandon_grace`` seconds longer because the server may still receive it. Call
    :meth:`discard` when nothing was sent, :meth:`abandon` when a request that may have
    left is given up without leaving the block by an exception, and :meth:`complete` as soon
    as the response arrived if the block goes on after that. ``waited`` is the seconds spent
    queueing.
    """

    __slots__ = ("_limiter", "_max_wait", "_outcome", "_slot", "_state", "_token", "waited")

    def __init__(self, limiter: QuotaLimiter, max_wait: float | None) -> None:
        self._limiter = limiter
        self._max_wait = max_wait
        self._state = _NEW
        self._slot: object = None
        self._outcome: Outcome | None = None  # for a shared store: released on exit
        self._token: Token[Permit | None] | None = None
        self.waited = 0.0

    @property
    def held(self) -> bool:
        """Whether the permit is taken and neither completed nor discarded yet."""
        return self._state == _HELD

    def discard(self) -> None:
        """Nothing was sent: give the slot back at once, with no expiry. Idempotent."""
        if self._state == _NEW:
            raise RuntimeError("cannot discard a permit that was not acquired")
        self._end(Outcome.DISCARD)

    def complete(self) -> None:
        """The response arrived now: the slot frees ``period`` from now. Idempotent."""
        if self._state == _NEW:
            raise RuntimeError("cannot complete a permit that was not acquired")
        self._end(Outcome.COMPLETE)

    def abandon(self) -> None:
        """The request was given up in flight (e.g. a read timeout): it may still be stamped.

        Its slot frees ``abandon_grace + period`` from now. Idempotent; leaving the block by
        an exception does this by itself.
        """
        if self._state == _NEW:
            raise RuntimeError("cannot abandon a permit that was not acquired")
        self._end(Outcome.ABANDON)

    def _end(self, outcome: Outcome) -> None:
        if self._state != _HELD:
            return
        self._state = _DONE
        if self._limiter._core is not None:
            self._limiter._release_local(outcome)
        else:
            self._outcome = outcome  # a shared store is told when the block is left

    async def __aenter__(self) -> Permit:
        if self._state != _NEW:
            raise RuntimeError("a Permit can be entered only once")
        self._slot, self.waited = await self._limiter._acquire(self._max_wait)
        self._state = _HELD
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == _HELD:
            self._end(Outcome.COMPLETE if exc_type is None else Outcome.ABANDON)
        if self._outcome is not None:
            outcome, self._outcome = self._outcome, None
            await self._limiter._release_shared(self._slot, outcome)

    def __repr__(self) -> str:
        state = ("new", "held", "done")[self._state]
        return f"<Permit {state} waited={self.waited:.3f}s>"


class QuotaLimiter:
    """Client-side quota for several windows, e.g. ``[(500, 60), (3000, 3600)]``.

    ``rate_limits`` is any sequence of ``(max_requests, period_seconds)``; ``[]`` turns
    windows off (a :meth:`pause` still applies). ``clock`` returns seconds on a monotonic
    clock (default :func:`anyio.current_time`, virtual under trio's ``MockClock``).
    ``margin`` seconds are added to every expiry; ``abandon_grace`` is how much longer a
    request abandoned in flight keeps its slot. ``sleep`` (with ``clock``) runs the waits
    in virtual time: a waiter sleeps until its turn through it instead of on anyio's
    clock, so a ``ManualClock`` and its ``sleep`` make quota waits take no real time.

    ``store`` replaces the in-memory counts with a shared :class:`QuotaStore` (then give no
    ``rate_limits``: the store has its own); waiting stays local, FIFO and cancellation-safe.

    Use ``async with limiter.acquire(max_wait=...) as permit:`` around one request, or
    ``async with limiter:`` for the same with no ``max_wait``. One limiter serves the tasks
    of one event loop at a time; it is not thread-safe.
    """

    __slots__ = (
        "_clock",
        "_core",
        "_current",
        "_default_clock",
        "_last_status",
        "_sleep",
        "_store",
        "_waiters",
        "_wakeups",
    )

    def __init__(
        self,
        rate_limits: Sequence[tuple[int, float]] | None = None,
        *,
        store: QuotaStore | None = None,
        clock: Clock | None = None,
        margin: float = 0.0,
        abandon_grace: float = 10.0,
        sleep: Callable[[float], Awaitable[object]] | None = None,
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
        self._store = store
        self._core: QuotaCore | None = None
        if isinstance(store, MemoryQuotaStore):
            self._core = store.core
            clock = store.clock
        else:
            store.subscribe(self._wake_head)
        self._default_clock = clock is None or clock is anyio.current_time
        # anyio's clock, with its backend looked up once per library (see _backend.py)
        self._clock: Clock = (
            _backend.current_time if clock is None or clock is anyio.current_time else clock
        )
        self._sleep = sleep
        self._waiters: OrderedDict[_Waiter, None] = OrderedDict()
        self._current: ContextVar[Permit | None] = ContextVar("planner_async_permit", default=None)
        self._wakeups = 0
        self._last_status = RateLimitStatus(windows=(), paused_for=0.0)

    # -- public surface ----------------------------------------------------------------------

    @property
    def store(self) -> QuotaStore:
        """Where the windows are counted (a :class:`MemoryQuotaStore` by default)."""
        return self._store

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self._store.limits

    @property
    def status(self) -> RateLimitStatus:
        """A frozen snapshot: every window's use, the cool-down left and the queue length.

        Read outside an event loop (where the default clock cannot be read), it describes
        the limiter as of the last time it was used. With a shared store it is the last
        :meth:`snapshot` taken; ``await limiter.snapshot()`` asks the store afresh.
        """
        if self._core is None:
            return self._last_status
        try:
            now = self._clock()
        except RuntimeError:  # anyio's NoEventLoopError: no loop, hence no anyio clock
            now = -_INF  # the core reads this as "the newest time already seen"
        return self._core.status(now, waiting=len(self._waiters))

    async def snapshot(self) -> RateLimitStatus:
        """A fresh :attr:`status`, asked of the store (a round trip for a shared one)."""
        self._last_status = await self._store.status(len(self._waiters))
        return self._last_status

    @property
    def wakeups(self) -> int:
        """How many times a queued caller was resumed (about one per admission that waited)."""
        return self._wakeups

    def acquire(self, max_wait: float | None = None) -> Permit:
        """A :class:`Permit` to enter with ``async with``; it waits for a free slot in FIFO order.

        With ``max_wait`` seconds, a caller that cannot get a permit in time raises
        :class:`RateLimitError` (``retry_after`` = seconds until one could be free): at
        once, spending nothing, when even the earliest possible time is too late, otherwise
        when the wait runs out. ``None`` (or ``math.inf``) waits as long as it takes.
        """
        return Permit(self, check_max_wait(max_wait))

    def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a 429's Retry-After); extends, never shortens.

        In-memory store only; with a shared store use ``await limiter.report_pause(...)``.
        """
        self._local_core("pause").pause(self._clock(), seconds)

    def observe(
        self,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        """Adopt the server's ``X-Rate-Limit-*`` headers when they say less is left locally.

        See :meth:`QuotaCore.observe`; nothing here can free a slot, so nobody is woken.
        In-memory store only; with a shared store use ``await limiter.report_headers(...)``.
        """
        core = self._local_core("observe")
        core.observe(self._clock(), limit=limit, remaining=remaining, reset=reset)

    async def report_pause(self, seconds: float) -> None:
        """:meth:`pause`, for any store."""
        if self._core is not None:
            self._core.pause(self._clock(), seconds)
        else:
            await self._store.pause(seconds)

    async def report_headers(self, headers: RateHeaders) -> None:
        """:meth:`observe` the server's rate headers, for any store."""
        local = self._core
        if local is not None:
            local.observe(
                self._clock(), limit=headers.limit, remaining=headers.remaining, reset=headers.reset
            )
        else:
            await self._store.observe(headers)

    def _local_core(self, what: str) -> QuotaCore:
        if self._core is None:
            raise RuntimeError(f"{what}() needs the in-memory store; await report_{what}()")
        return self._core

    async def __aenter__(self) -> Permit:
        permit = Permit(self, None)
        await permit.__aenter__()
        permit._token = self._current.set(permit)
        return permit

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        permit = self._current.get()
        if permit is None or permit._token is None:
            raise RuntimeError("QuotaLimiter.__aexit__ without a matching __aenter__")
        self._current.reset(permit._token)
        permit._token = None
        await permit.__aexit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"QuotaLimiter({list(self.limits)!r}, waiting={len(self._waiters)})"

    # -- acquisition -------------------------------------------------------------------------

    async def _acquire(self, max_wait: float | None) -> tuple[object, float]:
        """Take a permit, waiting if needed; return its slot and the seconds waited."""
        # Fast path: honour a pending cancellation, but do not yield to the scheduler. The
        # caller is about to send a request, which yields anyway; a full checkpoint here
        # would cost a scheduler round trip per request for nothing.
        await _backend.checkpoint_if_cancelled()
        now = self._clock()
        if not self._waiters:
            local = self._core
            if local is not None:
                if local.try_take(now):
                    return True, 0.0
            else:
                admission = await self._ask_store(0)
                if admission.slot is not None:
                    return admission.slot, 0.0
        return await self._wait(now, max_wait)

    async def _ask_store(self, ahead: int) -> Admission:
        """One shielded ``acquire`` of a shared store; a cancellation after it gives back."""
        with anyio.CancelScope(shield=True):
            admission = await self._store.acquire(ahead)
        if admission.slot is not None:
            try:
                await anyio.lowlevel.checkpoint_if_cancelled()
            except BaseException:
                await self._release_shared(admission.slot, Outcome.DISCARD)
                raise
        return admission

    async def _try(self, now: float, ahead: int) -> Admission:
        """The head's attempt: the store's admission, from the local core when in memory."""
        local = self._core
        if local is None:
            return await self._ask_store(ahead)
        if local.try_take(now):
            return Admission(True)
        return Admission(
            None, wait=local.ready_at(now) - now, earliest=local.earliest_at(now, ahead) - now
        )

    async def _earliest(self, now: float, ahead: int) -> float:
        if self._core is not None:
            return self._core.earliest_at(now, ahead) - now
        admission = await self._ask_store(ahead)
        if admission.slot is not None:  # free after all: keep nothing, the queue decides
            await self._release_shared(admission.slot, Outcome.DISCARD)
            return 0.0
        return admission.earliest

    async def _wait(self, start: float, max_wait: float | None) -> tuple[object, float]:
        waiters = self._waiters
        deadline = _INF
        if max_wait is not None:
            earliest = await self._earliest(start, len(waiters))
            if earliest > max_wait:
                raise _refusal(max_wait, earliest)
            deadline = start + max_wait
        waiter = _Waiter()
        waiters[waiter] = None
        try:
            return await self._wait_turn(waiter, start, deadline, max_wait)
        except BaseException:
            if waiter in waiters:
                was_head = next(iter(waiters)) is waiter
                del waiters[waiter]
                if was_head:
                    self._wake_head()
            raise

    async def _wait_turn(
        self, waiter: _Waiter, start: float, deadline: float, max_wait: float | None
    ) -> tuple[object, float]:
        waiters = self._waiters
        while True:
            now = self._clock()
            wake_at = deadline
            if next(iter(waiters)) is waiter:
                admission = await self._try(now, 0)
                if admission.slot is not None:
                    del waiters[waiter]
                    self._wake_head()
                    return admission.slot, self._clock() - start
                wake_at = min(now + admission.wait, deadline)
                # Woken by the completion that turns "in flight" into a known time.
                waiter.on_in_flight = admission.wait == _INF
            if now >= deadline:
                raise _refusal(max_wait or 0.0, await self._earliest(now, self._position(waiter)))
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

    def _position(self, waiter: _Waiter) -> int:
        """How many waiters are ahead of ``waiter`` (capped: beyond a window, it is moot)."""
        cap = max((n for n, _ in self.limits), default=0)
        for i, w in enumerate(itertools.islice(self._waiters, cap)):
            if w is waiter:
                return i
        return cap

    def _wake_head(self) -> None:
        if self._waiters:
            next(iter(self._waiters)).event.set()

    # -- release -----------------------------------------------------------------------------

    def _release_local(self, outcome: Outcome) -> None:
        core = self._core
        assert core is not None
        if outcome is Outcome.DISCARD:
            core.discard()
            self._wake_head()
            return
        now = self._clock()
        if outcome is Outcome.ABANDON:
            core.abandon(now)
        else:
            core.complete(now)
        # A completion never frees a slot sooner; it only turns "waiting on requests in
        # flight" into a known time, so only a head waiting on in-flight needs to hear.
        if self._waiters:
            head = next(iter(self._waiters))
            if head.on_in_flight and core.ready_at(now) != _INF:
                head.on_in_flight = False
                head.event.set()

    async def _release_shared(self, slot: object, outcome: Outcome) -> None:
        """Tell a shared store how a permit ended; shielded, and never raising.

        A store that cannot be reached keeps the slot until its lease runs out, which is
        safe: the slot only frees later than it could have.
        """
        with anyio.CancelScope(shield=True):
            try:
                await self._store.release(slot, outcome)
            except Exception:
                log.warning("could not release a quota slot (%s); its lease will", outcome.value)
        self._wake_head()


def _refusal(max_wait: float, retry_after: float) -> QuotaWaitError:
    retry_after = max(0.0, retry_after)
    return QuotaWaitError(
        f"no request permit within max_wait={max_wait:g}s; one could be free in {retry_after:.3f}s",
        retry_after=retry_after,
    )
