"""The quota arithmetic: a sans-I/O core that never awaits and takes ``now`` as an argument.

The guarantee
-------------
For every window ``(max_requests, period)``, no interval of ``period`` seconds holds more
than ``max_requests`` of this client's requests *as the server stamps them*. The server
stamps a request somewhere between its send and the arrival of its response, and its
windows may be sliding or fixed with any phase, so the only safe rule is:

    a permit's slot becomes reusable ``period`` seconds after the request's response
    arrived (its *completion*), never ``period`` seconds after the permit was taken.

Why that is enough: think of each window as ``max_requests`` slots. A slot is busy while
its request is in flight and for ``period`` seconds after completion. Two consecutive
requests on one slot are stamped at ``s1 <= c1`` (completion) and ``s2 >= c1 + period``,
so ``s2 - s1 >= period``: a half-open interval ``[a, a + period)`` holds at most one stamp
per slot, hence at most ``max_requests`` stamps, whatever the network delay. That is why
``margin=0.0`` is safe against a server that counts half-open windows; ``margin`` adds
seconds to every expiry for servers that count closed intervals or whose clock runs fast.

A request abandoned mid-flight (cancelled, timed out, or failed after it may have left)
has no response, so its exit time is no upper bound on its stamp: the server may still
receive it afterwards. Such a request keeps its slot ``abandon_grace`` seconds longer, i.e.
the guarantee holds for abandoned requests that reach the server within that grace.

The representation
------------------
Per window: ``in_flight`` (permits taken, not yet completed) and a deque of expiry times
(completion + period), sorted. Completions from one monotonic clock with one period per
window arrive in order, so they are appended; an abandoned request's later expiry is the
rare case that is slotted in from the right. ``used(now) = in_flight + #expiries > now``
(expired entries are popped from the left), and a window is free iff ``used < limit``. No
entry is added unless the window is free, so each deque holds at most ``limit`` entries.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

from ._checks import check_int, check_number, check_seconds
from ._lanes import DEFAULT_INTERACTIVE_RESERVE, Lane, reserve_of
from ._quota_types import RateHeaders, RateLimitStatus, WindowStatus

__all__ = [
    "QuotaCore",
    "RateHeaders",
    "RateLimitStatus",
    "WindowStatus",
    "validate_limits",
]

_INF = math.inf


def validate_limits(rate_limits: Iterable[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Check ``rate_limits`` and return them as a tuple of ``(max_requests, period)``.

    ``max_requests`` must be a positive ``int`` and ``period`` a positive finite number of
    seconds; wrong types raise :class:`TypeError`, wrong values :class:`ValueError`.
    """
    if isinstance(rate_limits, str | bytes) or not isinstance(rate_limits, Iterable):
        raise TypeError(
            f"rate_limits must be a sequence of (max_requests, period_seconds) pairs, "
            f"not {type(rate_limits).__name__}"
        )
    checked: list[tuple[int, float]] = []
    for item in rate_limits:
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise TypeError(
                f"each rate limit must be a (max_requests, period_seconds) pair, got {item!r}"
            )
        max_requests, period = item
        max_requests = check_int("max_requests", max_requests, low=1)
        checked.append((max_requests, check_seconds("period_seconds", period, positive=True)))
    return tuple(checked)


class _Window:
    """One ``(limit, period)`` window: permits in flight and sorted expiry times."""

    __slots__ = ("expiries", "freed", "hold", "in_flight", "limit", "period")

    def __init__(self, limit: int, period: float, margin: float) -> None:
        self.limit = limit
        self.period = period
        self.hold = period + margin  # completion -> expiry
        self.in_flight = 0
        self.expiries: deque[float] = deque()
        self.freed: deque[float] = deque(maxlen=limit)  # the latest expiries passed

    def used(self, now: float) -> int:
        expiries = self.expiries
        while expiries and expiries[0] <= now:
            self.freed.append(expiries.popleft())
        return self.in_flight + len(expiries)

    def freed_since(self, since: float) -> int:
        """How many slots freed after ``since`` (of the latest ``limit``)."""
        return sum(1 for expiry in self.freed if expiry > since)

    def ready_at(self, now: float, ahead: int) -> float:
        """When this window admits one more after ``ahead`` others; inf if in flight blocks."""
        k = self.used(now) - self.limit + 1 + ahead  # expiries that must pass first
        if k <= 0:
            return now
        if k <= len(self.expiries):
            return self.expiries[k - 1]
        return _INF

    def add_expiry(self, expiry: float) -> None:
        expiries = self.expiries
        if not expiries or expiries[-1] <= expiry:
            expiries.append(expiry)
            return
        # Rare: a normal completion lands before a recent abandoned request's later expiry.
        later: list[float] = []
        while expiries and expiries[-1] > expiry:
            later.append(expiries.pop())
        expiries.append(expiry)
        expiries.extend(reversed(later))


def _add_phantoms(window: _Window, count: int, now: float, reset: float | None) -> None:
    expiry = now + window.hold
    if reset is not None and count > 0:
        window.add_expiry(now + min(max(reset, 0.0), window.hold))
        count -= 1
    for _ in range(count):
        window.add_expiry(expiry)


class QuotaCore:
    """Sans-I/O quota accounting over several sliding windows and a shared cool-down.

    Every method takes ``now`` (seconds on one monotonic clock) and returns at once; a
    ``now`` older than one already seen is treated as the newest seen, so the accounting
    never runs backwards. The async layer (:class:`planner_async.QuotaLimiter`) decides
    who waits and sleeps; this class only counts.

    ``margin`` seconds are added to every expiry (see the module docstring for why ``0.0``
    is safe); a request abandoned mid-flight holds its slot ``abandon_grace`` seconds more.
    """

    __slots__ = (
        "_abandon_grace",
        "_interactive_at",
        "_lane_memory",
        "_limits",
        "_now",
        "_pause_until",
        "_reserves",
        "_windows",
    )

    def __init__(
        self,
        rate_limits: Iterable[tuple[int, float]],
        *,
        margin: float = 0.0,
        abandon_grace: float = 10.0,
        interactive_reserve: float = DEFAULT_INTERACTIVE_RESERVE,
        lane_memory: float | None = None,
    ) -> None:
        self._limits = validate_limits(rate_limits)
        margin = check_seconds("margin", margin)
        self._abandon_grace = check_seconds("abandon_grace", abandon_grace)
        self._windows = tuple(_Window(n, t, margin) for n, t in self._limits)
        share = check_number("interactive_reserve", interactive_reserve, low=0.0, high=1.0)
        self._reserves = tuple(reserve_of(n, share) for n, _ in self._limits)
        self._lane_memory = (
            min((t for _, t in self._limits), default=0.0)
            if lane_memory is None
            else check_seconds("lane_memory", lane_memory)
        )
        self._interactive_at = -_INF
        self._pause_until = -_INF
        self._now = -_INF

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self._limits

    def _clock(self, now: float) -> float:
        if now < self._now:
            return self._now
        self._now = now
        return now

    # -- admission -------------------------------------------------------------------------

    def _recent(self, now: float) -> bool:
        """Whether interactive traffic was seen within ``lane_memory`` of ``now``.

        Written as the very sum a batch waiter is woken at, so that float rounding can
        never wake it at an instant that still counts as recent (a wait of 0 forever).
        """
        return now < self._interactive_at + self._lane_memory

    def _held_back(self, now: float, lane: Lane) -> tuple[int, ...] | None:
        """The slots ``lane`` may not take per window: the interactive reserve while
        interactive traffic was seen within ``lane_memory``, for batch; None for none."""
        if lane == "interactive":
            self._interactive_at = now
            return None
        if self._recent(now):
            return self._reserves
        return None

    def try_take(self, now: float, lane: Lane = "interactive") -> bool:
        """Take a permit in every window if all are free at ``now``; return whether it did.

        A ``"batch"`` permit leaves each window's interactive reserve free while
        interactive traffic was seen recently (see :func:`reserve_of`).
        """
        now = self._clock(now)
        held = self._held_back(now, lane)
        if now < self._pause_until:
            return False
        windows = self._windows
        if held is None:
            for w in windows:
                if w.used(now) >= w.limit:
                    return False
        else:
            for w, r in zip(windows, held, strict=True):
                if w.used(now) >= w.limit - r:
                    return False
        for w in windows:
            w.in_flight += 1
        return True

    def ready_at(self, now: float, ahead: int = 0, lane: Lane = "interactive") -> float:
        """The earliest time a permit is free after ``ahead`` others take theirs first.

        Returns ``now`` if free now, and ``inf`` when a window waits on requests still in
        flight (their completion, which only the async layer sees, decides the time).
        For ``"batch"``, the earlier of the reserve's slots freeing and the reserve ending.
        """
        return self._when(now, ahead, lane, finite=False)

    def delay(self, now: float, ahead: int = 0, lane: Lane = "interactive") -> float:
        """Seconds until :meth:`ready_at`: ``0.0`` when free, ``inf`` when waiting on in-flight."""
        now = self._clock(now)
        return self.ready_at(now, ahead, lane) - now

    def earliest_at(self, now: float, ahead: int = 0, lane: Lane = "interactive") -> float:
        """A finite lower bound of :meth:`ready_at`: in-flight requests free ``period`` later.

        Used for ``retry_after``: a request in flight completes at ``now`` at the soonest,
        so its slot frees at ``now + period + margin`` at the soonest.
        """
        return self._when(now, ahead, lane, finite=True)

    def forecast(self, now: float, n: int = 1, lane: Lane = "interactive") -> float:
        """Seconds until ``n`` more ``lane`` permits could be taken if nobody else asked."""
        now = self._clock(now)
        return self._when(now, n - 1, lane, finite=False, stamp=False) - now

    def _when(
        self, now: float, ahead: int, lane: Lane, *, finite: bool, stamp: bool = True
    ) -> float:
        now = self._clock(now)
        held = None
        if lane == "batch" and self._recent(now):
            held = self._reserves
        ready = self._ready(now, ahead, held, finite)
        if held is not None:  # ... or when the reserve lapses, whichever is sooner
            lapse = self._interactive_at + self._lane_memory
            ready = min(ready, max(lapse, self._ready(now, ahead, None, finite)))
        elif lane == "interactive" and stamp:
            self._interactive_at = now
        return ready

    def _ready(self, now: float, ahead: int, held: tuple[int, ...] | None, finite: bool) -> float:
        ready = max(now, self._pause_until)
        for i, w in enumerate(self._windows):
            t = w.ready_at(now, ahead + (0 if held is None else held[i]))
            if t == _INF and finite:
                t = now + w.hold
            if t > ready:
                ready = t
        return ready

    # -- the life of a permit ----------------------------------------------------------------

    def complete(self, now: float) -> None:
        """A permit's response arrived at ``now``: its slots free ``period`` later."""
        now = self._clock(now)
        for w in self._windows:
            w.in_flight -= 1
            w.add_expiry(now + w.hold)

    def abandon(self, now: float) -> None:
        """A permit's request was given up at ``now`` without a response (it may have left).

        The server may stamp it after ``now``, so its slots free ``abandon_grace`` later
        than a completion's would.
        """
        now = self._clock(now)
        grace = self._abandon_grace
        for w in self._windows:
            w.in_flight -= 1
            w.add_expiry(now + grace + w.hold)

    def discard(self) -> None:
        """A permit's request was never sent: its slots are free again at once."""
        for w in self._windows:
            w.in_flight -= 1

    # -- the server's word -------------------------------------------------------------------

    def pause(self, now: float, seconds: float) -> None:
        """Admit nothing until ``now + seconds``; extends a running cool-down, never shortens."""
        seconds = check_seconds("seconds", seconds)
        now = self._clock(now)
        until = now + seconds
        if until > self._pause_until:
            self._pause_until = until

    def observe(
        self,
        now: float,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
        since: float | None = None,
    ) -> bool:
        """Adopt the server's ``X-Rate-Limit-Remaining`` when it is below the local count.

        The window is the one whose ``max_requests == limit``; with ``limit`` unknown or
        unmatched, the only window when there is exactly one, else nothing. Adopting adds
        phantom usages until the local remaining equals ``remaining``; this is sound because
        local accounting never undercounts our own requests. The first phantom expires
        ``reset`` seconds from ``now`` (the server's word on when a request frees, capped at
        the window's period), the others a full period from ``now``, so ``Remaining: 0,
        Reset: 1`` costs one second, not a window. ``since`` (when the answered request
        was sent) discounts the slots that freed here while it was in flight: the server
        counted before they freed, so they are not someone else's use. Returns whether
        anything was adopted.
        """
        if remaining is None:
            return False
        now = self._clock(now)
        windows = [w for w in self._windows if limit is not None and w.limit == limit]
        if not windows and len(self._windows) == 1:
            windows = [self._windows[0]]
        adopted = False
        for w in windows:
            extra = (w.limit - w.used(now)) - max(0, int(remaining))
            if since is not None and extra > 0:
                extra -= w.freed_since(since)
            if extra > 0:
                _add_phantoms(w, extra, now, reset)
                adopted = True
        return adopted

    # -- snapshot ----------------------------------------------------------------------------

    def status(self, now: float, *, waiting: int = 0) -> RateLimitStatus:
        """A frozen snapshot of every window and the cool-down at ``now``."""
        now = self._clock(now)
        windows = []
        for w in self._windows:
            used = w.used(now)
            ready = w.ready_at(now, 0)
            windows.append(
                WindowStatus(
                    limit=w.limit,
                    period=w.period,
                    used=used,
                    remaining=max(0, w.limit - used),
                    next_free_in=None if ready == _INF else (ready - now if ready > now else 0.0),
                )
            )
        return RateLimitStatus(
            windows=tuple(windows),
            paused_for=self._pause_until - now if self._pause_until > now else 0.0,
            waiting=waiting,
        )

    def reserved_now(self, now: float) -> int:
        """The slots of the first window that batch leaves to interactive traffic now."""
        now = self._clock(now)
        recent = self._recent(now)
        return self._reserves[0] if recent and self._reserves else 0

    def __repr__(self) -> str:
        return f"QuotaCore({list(self._limits)!r})"
