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
import math
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar, Token
from types import TracebackType

import anyio
import anyio.lowlevel

from ._clock import Clock
from ._exceptions import RateLimitError
from ._quota import QuotaCore, RateLimitStatus, WindowStatus

__all__ = ["Permit", "QuotaCore", "QuotaLimiter", "RateLimitStatus", "WindowStatus"]

_INF = math.inf

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

    __slots__ = ("_limiter", "_max_wait", "_state", "_token", "waited")

    def __init__(self, limiter: QuotaLimiter, max_wait: float | None) -> None:
        self._limiter = limiter
        self._max_wait = max_wait
        self._state = _NEW
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
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._discard()

    def complete(self) -> None:
        """The response arrived now: the slot frees ``period`` from now. Idempotent."""
        if self._state == _NEW:
            raise RuntimeError("cannot complete a permit that was not acquired")
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._complete(abandoned=False)

    def abandon(self) -> None:
        """The request was given up in flight (e.g. a read timeout): it may still be stamped.

        Its slot frees ``abandon_grace + period`` from now. Idempotent; leaving the block by
        an exception does this by itself.
        """
        if self._state == _NEW:
            raise RuntimeError("cannot abandon a permit that was not acquired")
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._complete(abandoned=True)

    async def __aenter__(self) -> Permit:
        if self._state != _NEW:
            raise RuntimeError("a Permit can be entered only once")
        self.waited = await self._limiter._acquire(self._max_wait)
        self._state = _HELD
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == _HELD:
            self._state = _DONE
            self._limiter._complete(abandoned=exc_type is not None)

    def __repr__(self) -> str:
        state = ("new", "held", "done")[self._state]
        return f"<Permit {state} waited={self.waited:.3f}s>"


class QuotaLimiter:
    """Client-side quota for several windows, e.g. ``[(500, 60), (3000, 3600)]``.

    ``rate_limits`` is any sequence of ``(max_requests, period_seconds)``; ``[]`` turns
    windows off (a :meth:`pause` still applies). ``clock`` returns seconds on a monotonic
    clock (default :func:`anyio.current_time`, virtual under trio's ``MockClock``).
    ``margin`` seconds are added to every expiry; ``abandon_grace`` is how much longer a
    request abandoned in flight keeps its slot.

    Use ``async with limiter.acquire(max_wait=...) as permit:`` around one request, or
    ``async with limiter:`` for the same with no ``max_wait``. One limiter serves the tasks
    of one event loop at a time; it is not thread-safe.
    """

    __slots__ = ("_clock", "_core", "_current", "_default_clock", "_waiters", "_wakeups")

    def __init__(
        self,
        rate_limits: Sequence[tuple[int, float]],
        *,
        clock: Clock | None = None,
        margin: float = 0.0,
        abandon_grace: float = 10.0,
    ) -> None:
        self._core = QuotaCore(rate_limits, margin=margin, abandon_grace=abandon_grace)
        self._default_clock = clock is None
        self._clock: Clock = anyio.current_time if clock is None else clock
        self._waiters: OrderedDict[_Waiter, None] = OrderedDict()
        self._current: ContextVar[Permit | None] = ContextVar("planner_async_permit", default=None)
        self._wakeups = 0

    # -- public surface ----------------------------------------------------------------------

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self._core.limits

    @property
    def status(self) -> RateLimitStatus:
        """A frozen snapshot: every window's use, the cool-down left and the queue length.

        Read outside an event loop (where the default clock cannot be read), it describes
        the limiter as of the last time it was used.
        """
        try:
            now = self._clock()
        except RuntimeError:  # anyio's NoEventLoopError: no loop, hence no anyio clock
            now = -_INF  # the core reads this as "the newest time already seen"
        return self._core.status(now, waiting=len(self._waiters))

    @property
    def wakeups(self) -> int:
        """How many times a queued caller was resumed (about one per admission that waited)."""
        return self._wakeups

    def acquire(self, max_wait: float | None = None) -> Permit:
        """A :class:`Permit` to enter with ``async with``; it waits for a free slot in FIFO order.

        With ``max_wait`` seconds, a caller that cannot get a permit in time raises
        :class:`RateLimitError` (``retry_after`` = seconds until one could be free): at
        once, spending nothing, when even the earliest possible time is too late, otherwise
        when the wait runs out.
        """
        if max_wait is not None:
            if isinstance(max_wait, bool) or not isinstance(max_wait, int | float):
                raise TypeError(f"max_wait must be a number of seconds or None, got {max_wait!r}")
            if math.isnan(max_wait) or max_wait < 0:
                raise ValueError(f"max_wait must be non-negative, got {max_wait}")
        return Permit(self, max_wait)

    def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a 429's Retry-After); extends, never shortens."""
        self._core.pause(self._clock(), seconds)

    def observe(
        self,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        """Adopt the server's ``X-Rate-Limit-*`` headers when they say less is left locally.

        See :meth:`QuotaCore.observe`; nothing here can free a slot, so nobody is woken.
        """
        self._core.observe(self._clock(), limit=limit, remaining=remaining, reset=reset)

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

    async def _acquire(self, max_wait: float | None) -> float:
        """Take a permit, waiting if needed; return the seconds waited."""
        # Fast path: honour a pending cancellation, but do not yield to the scheduler. The
        # caller is about to send a request, which yields anyway; a full checkpoint here
        # would cost a scheduler round trip per request for nothing.
        await anyio.lowlevel.checkpoint_if_cancelled()
        now = self._clock()
        if not self._waiters and self._core.try_take(now):
            return 0.0
        return await self._wait(now, max_wait)

    async def _wait(self, start: float, max_wait: float | None) -> float:
        core = self._core
        waiters = self._waiters
        deadline = _INF
        if max_wait is not None:
            earliest = core.earliest_at(start, len(waiters)) - start
            if earliest > max_wait:
                raise _refusal(max_wait, earliest)
            deadline = start + max_wait
        waiter = _Waiter()
        waiters[waiter] = None
        try:
            while True:
                now = self._clock()
                ready = _INF
                if next(iter(waiters)) is waiter:
                    if core.try_take(now):
                        del waiters[waiter]
                        self._wake_head()
                        return now - start
                    ready = core.ready_at(now)
                if now >= deadline:
                    ahead = self._position(waiter)
                    raise _refusal(max_wait or 0.0, core.earliest_at(now, ahead) - now)
                # True for a non-head too: should it become head without being woken, the
                # next completion wakes it (belt and braces; the cancel path wakes it anyway).
                waiter.on_in_flight = ready == _INF
                wake_at = min(ready, deadline)
                if waiter.event.is_set():
                    waiter.event = anyio.Event()
                if wake_at == _INF:
                    await waiter.event.wait()
                else:
                    with anyio.CancelScope(deadline=self._to_anyio_time(wake_at)):
                        await waiter.event.wait()
                self._wakeups += 1
                # Woken: a cancellation that arrived meanwhile must win over taking a permit.
                await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            if waiter in waiters:
                was_head = next(iter(waiters)) is waiter
                del waiters[waiter]
                if was_head:
                    self._wake_head()
            raise

    def _to_anyio_time(self, t: float) -> float:
        if self._default_clock:
            return t
        return anyio.current_time() + (t - self._clock())

    def _position(self, waiter: _Waiter) -> int:
        """How many waiters are ahead of ``waiter`` (capped: beyond a window, it is moot)."""
        cap = max((n for n, _ in self._core.limits), default=0)
        for i, w in enumerate(itertools.islice(self._waiters, cap)):
            if w is waiter:
                return i
        return cap

    def _wake_head(self) -> None:
        if self._waiters:
            next(iter(self._waiters)).event.set()

    # -- release -----------------------------------------------------------------------------

    def _complete(self, *, abandoned: bool) -> None:
        now = self._clock()
        core = self._core
        if abandoned:
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

    def _discard(self) -> None:
        self._core.discard()
        self._wake_head()


def _refusal(max_wait: float, retry_after: float) -> RateLimitError:
    retry_after = max(0.0, retry_after)
    return RateLimitError(
        f"no request permit within max_wait={max_wait:g}s; one could be free in {retry_after:.3f}s",
        retry_after=retry_after,
        response=None,
    )
