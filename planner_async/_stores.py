"""The two extension points: where quota counts and token state live.

A client keeps both in memory by default. Clients in several processes (or machines)
that share one account share a store instead, so that they count one quota and hold one
token between them. A store is any object with the methods of :class:`QuotaStore` or
:class:`TokenStore`; every method is async and the store, not its caller, reads the
clock, so a shared store can use its own server's time.

The in-memory stores here are the defaults: :class:`MemoryQuotaStore` wraps the sans-I/O
:class:`QuotaCore`, :class:`MemoryTokenStore` holds one :class:`TokenState`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, Protocol, runtime_checkable

import anyio
import attrs

from . import _backend
from ._clock import Clock
from ._lanes import DEFAULT_INTERACTIVE_RESERVE, Lane, check_lane
from ._models import Session
from ._quota import QuotaCore, RateHeaders, RateLimitStatus

__all__ = [
    "Admission",
    "AuthCalls",
    "MemoryQuotaStore",
    "MemoryTokenStore",
    "Outcome",
    "QuotaStore",
    "StoredToken",
    "TokenState",
    "TokenStore",
]


class Outcome(enum.Enum):
    """How a permit ended: what :meth:`QuotaStore.release` does with its slot."""

    COMPLETE = "complete"
    """The response arrived: the slot frees one period from now."""
    ABANDON = "abandon"
    """Given up in flight (it may still reach the server): the slot frees a grace later."""
    DISCARD = "discard"
    """Nothing was sent: the slot is free again at once."""


@attrs.frozen
class Admission:
    """A store's answer to :meth:`QuotaStore.acquire`.

    ``slot`` is the handle of the reserved slot (to pass to :meth:`QuotaStore.release`),
    or None when every window had no room. Then ``wait`` is the seconds until a slot
    frees (``inf`` while every slot is held by a request in flight, whose completion
    decides the time) and ``earliest`` a finite lower bound of it.
    """

    slot: object | None
    wait: float = 0.0
    earliest: float = 0.0


@runtime_checkable
class QuotaStore(Protocol):
    """Where the quota windows are counted. See :class:`MemoryQuotaStore`.

    The guarantee every store keeps: a slot frees one period after its request's
    response arrived (``release(slot, COMPLETE)``), never sooner, in every window.
    """

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        ...

    async def acquire(self, ahead: int = 0, *, lane: Lane = "interactive") -> Admission:
        """Reserve a slot in every window at once if all have room, else say when one frees.

        ``ahead`` is how many local waiters queue before this one (for the times only).
        ``lane`` is the request's priority: a ``"batch"`` request leaves each window's
        interactive reserve free while interactive traffic was seen recently (README,
        "Sharing one account"). A store without lanes may leave the keyword out.
        """
        ...

    async def release(self, slot: object, outcome: Outcome) -> None:
        """End the permit that holds ``slot``: complete, abandon or discard it."""
        ...

    async def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (a 429's cool-down); extends, never shortens."""
        ...

    async def observe(self, headers: RateHeaders) -> None:
        """Adopt the server's ``X-Rate-Limit-*`` word when it says less is left."""
        ...

    async def status(self, waiting: int = 0) -> RateLimitStatus:
        """A snapshot of every window, the cool-down left and ``waiting`` callers."""
        ...

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` whenever capacity may have freed outside this process."""
        ...

    async def forecast(self, n: int = 1, *, lane: Lane = "interactive") -> float:
        """Seconds until ``n`` more ``lane`` requests could be admitted if nobody else
        asked (``0.0``: now; ``inf``: it depends on requests in flight). Reserves nothing.
        """
        ...


class MemoryQuotaStore:
    """The default quota store: one process's counts, in memory (:class:`QuotaCore`).

    ``clock`` returns monotonic seconds (default :func:`anyio.current_time`). Thread-safe:
    clients of one account on several threads or event loops may share one store (every
    method takes :attr:`lock`). ``interactive_reserve`` and ``lane_memory`` set the lanes
    rule (see :class:`QuotaCore`).

    >>> store = MemoryQuotaStore([(500, 60.0), (3000, 3600.0)])
    >>> limiter = QuotaLimiter(store=store)   # doctest: +SKIP
    """

    __slots__ = ("clock", "core", "lock")

    def __init__(
        self,
        rate_limits: Sequence[tuple[int, float]],
        *,
        clock: Clock | None = None,
        margin: float = 0.0,
        abandon_grace: float = 10.0,
        interactive_reserve: float = DEFAULT_INTERACTIVE_RESERVE,
        lane_memory: float | None = None,
    ) -> None:
        self.core = QuotaCore(
            rate_limits,
            margin=margin,
            abandon_grace=abandon_grace,
            interactive_reserve=interactive_reserve,
            lane_memory=lane_memory,
        )
        self.clock: Clock = _backend.current_time if clock is None else clock
        self.lock = threading.Lock()

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self.core.limits

    async def acquire(self, ahead: int = 0, *, lane: Lane = "interactive") -> Admission:
        """Take a slot if every window has room; else say when one frees."""
        return self.admit(ahead, check_lane(lane))

    def admit(self, ahead: int = 0, lane: Lane = "interactive") -> Admission:
        """:meth:`acquire` without awaiting."""
        now = self.clock()
        core = self.core
        with self.lock:
            if core.try_take(now, lane):
                return _TAKEN
            return Admission(
                None,
                wait=core.ready_at(now, ahead, lane) - now,
                earliest=core.earliest_at(now, ahead, lane) - now,
            )

    async def release(self, slot: object, outcome: Outcome) -> None:
        """End a permit taken from this store."""
        self.release_now(outcome)

    def release_now(self, outcome: Outcome) -> None:
        """:meth:`release` without awaiting."""
        core = self.core
        with self.lock:
            if outcome is Outcome.COMPLETE:
                core.complete(self.clock())
            elif outcome is Outcome.ABANDON:
                core.abandon(self.clock())
            else:
                core.discard()

    async def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds``."""
        with self.lock:
            self.core.pause(self.clock(), seconds)

    async def observe(self, headers: RateHeaders) -> None:
        """Adopt the server's remaining count."""
        with self.lock:
            self.core.observe(
                self.clock(), limit=headers.limit, remaining=headers.remaining, reset=headers.reset
            )

    async def status(self, waiting: int = 0) -> RateLimitStatus:
        """A snapshot of the windows."""
        return self.status_now(waiting)

    def status_now(self, waiting: int = 0) -> RateLimitStatus:
        """:meth:`status` without awaiting."""
        with self.lock:
            return self.core.status(self.clock(), waiting=waiting)

    async def forecast(self, n: int = 1, *, lane: Lane = "interactive") -> float:
        """Seconds until ``n`` more ``lane`` requests could be admitted."""
        lane = check_lane(lane)
        with self.lock:
            return self.core.forecast(self.clock(), n, lane)

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Nothing outside this process frees capacity: nothing to subscribe to."""

    def __repr__(self) -> str:
        return f"MemoryQuotaStore({list(self.limits)!r})"


_TAKEN: Final = Admission(True)


@attrs.frozen(repr=False)
class TokenState:
    """One access token, the refresh token that came with it, and when the access expires.

    ``issued_at`` (epoch seconds, when known) caps the refresh margin at half the token's
    life, so a token shorter-lived than the margin is not renewed on every call.
    """

    access: str
    refresh: str | None
    expires_at: float
    session: Session
    issued_at: float | None = None

    def __repr__(self) -> str:
        return f"TokenState(access='***', refresh='***', expires_at={self.expires_at})"

    def usable(self, now: float) -> bool:
        """True while the access token has not expired."""
        return now < self.expires_at

    def fresh(self, now: float, margin: float) -> bool:
        """True while more than ``margin`` seconds (at most half its life) remain."""
        if self.issued_at is not None:
            margin = min(margin, (self.expires_at - self.issued_at) / 2)
        return now < self.expires_at - margin


@attrs.frozen
class StoredToken:
    """What a :class:`TokenStore` holds: the token state and its generation number.

    The generation grows by one with every save, so a renewal can tell whether someone
    else renewed since it looked (compare-and-set).
    """

    state: TokenState | None
    generation: int = 0


@runtime_checkable
class TokenStore(Protocol):
    """Where the token state lives. See :class:`MemoryTokenStore`."""

    async def load(self) -> StoredToken:
        """The current state and generation (``StoredToken(None, 0)`` when empty)."""
        ...

    async def save(self, state: TokenState, *, expected: int) -> StoredToken | None:
        """Store ``state`` if the generation is still ``expected``; None if it moved on."""
        ...

    def lease(self, timeout: float) -> AbstractAsyncContextManager[None]:
        """Hold the renewal lease: one login or renewal at a time among all its users.

        A holder that dies keeps it at most ``timeout`` seconds.
        """
        ...

    async def clear(self, *, expected: int) -> None:
        """Forget the state (its refresh token was rejected) if the generation matches."""
        ...


class MemoryTokenStore:
    """The default token store: one process's token state, in memory.

    Thread-safe, so clients of one account on several threads or event loops can share
    one (the renewal lease is a thread lock, polled without blocking the event loop).
    """

    __slots__ = ("_lease", "_lock", "_stored")

    def __init__(self) -> None:
        self._stored = StoredToken(None, 0)
        self._lock = threading.Lock()
        self._lease = threading.Lock()

    async def load(self) -> StoredToken:
        """The current state and generation."""
        return self._stored

    async def save(self, state: TokenState, *, expected: int) -> StoredToken | None:
        """Store ``state`` if nobody saved since generation ``expected``."""
        with self._lock:
            if self._stored.generation != expected:
                return None
            self._stored = StoredToken(state, expected + 1)
            return self._stored

    async def clear(self, *, expected: int) -> None:
        """Forget the state if the generation is still ``expected``."""
        with self._lock:
            if self._stored.generation == expected:
                self._stored = StoredToken(None, expected + 1)

    def lease(self, timeout: float) -> AbstractAsyncContextManager[None]:
        """The renewal lease: one holder at a time across threads and event loops."""
        return self._hold()

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[None]:
        delay = 0.001
        while not self._lease.acquire(blocking=False):
            await anyio.sleep(delay)  # another flight holds it: it is short, poll
            delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            self._lease.release()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(generation={self._stored.generation})"


@runtime_checkable
class AuthCalls(Protocol):
    """The two HTTP calls a :class:`TokenManager` needs, supplied by the client.

    The client implements them with its pipeline's auth entry point: no bearer token, the
    auth endpoint's own rate limit, never renewed on 401. They return the answer's JSON
    object and raise :class:`AuthenticationError` when the server rejects them. This is
    the only place where control runs from the token side back into the client.
    """

    async def login(self) -> Mapping[str, Any]:
        """``POST /auth`` with the credentials."""
        ...

    async def renew(self, refresh_token: str) -> Mapping[str, Any]:
        """``POST /auth/renew`` with ``refresh_token``."""
        ...
