"""``RedisQuotaStore``: the quota windows of one account, shared through Redis.

Every decision is one run of the Lua script in :mod:`._lua` (atomic, on Redis
time): an admission is one round trip, a release another (carrying the last
``X-Rate-Limit-*`` headers seen, so adopting them costs nothing extra). Waiting stays in
the :class:`QuotaLimiter` of each process (FIFO, one timer for the head); a release in
any process publishes on a channel when someone waits, and one pub/sub listener per
store wakes the local head. See the README section "Many workers, one account".

Tests only: setting ``store._injected_now`` to a number makes the script use it instead of
Redis ``TIME`` (``tests/test_redis_quota_sim.py`` drives the script on a schedule and
compares it with :class:`QuotaCore`); production code never sets it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Self

from .._checks import check_int, check_seconds
from .._exceptions import StoreUnavailableError
from .._quota import RateHeaders, RateLimitStatus, WindowStatus, validate_limits
from .._stores import Admission, MemoryQuotaStore, Outcome
from ._connect import as_text, guarded, require_asyncio
from ._keys import check_prefix, check_role, namespace, quota_channel, quota_keys
from ._listener import Listener
from ._lua import QUOTA_LUA
from ._script_args import Lane, LaneArgs, observe_args

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisQuotaStore"]

log = logging.getLogger("planner_async")

_INF = math.inf
_FALLBACK_SECONDS: Final = 5.0  # how long a fallback lasts before Redis is tried again
_TRIM_EVERY: Final = 128  # releases between trims of the slots this process remembers


class _LocalSlot:
    """A slot taken from the local fallback store while Redis was unreachable."""

    __slots__ = ()


_LOCAL = _LocalSlot()


class RedisQuotaStore:
    """A :class:`QuotaStore` in Redis: every client with the same ``prefix`` shares the windows.

    ``redis`` is a ``redis.asyncio.Redis`` or ``RedisCluster`` (its connections belong
    to one event loop); ``limits`` the windows. ``lease`` is how long a
    reserved slot may go without a release before it counts as lost (its worker died):
    it must outlast the longest a permit is held (request timeout plus a login), and the
    slot is then held one more ``period`` on top. ``abandon_grace`` and ``margin`` mean
    what they mean for :class:`QuotaCore`. ``recovery`` is the pause after Redis lost
    its data, in which live workers put back the slots they know of. With
    ``fallback_share`` (e.g. ``0.25``), an unreachable Redis makes this process use a
    local limiter with that share of every window for a few seconds instead of raising
    :class:`StoreUnavailableError` (the default: fail closed).

    Lanes: while an ``interactive`` acquire was seen in the last ``lane_memory`` seconds
    (default: the shortest period), ``batch`` leaves ``interactive_reserve`` (rounded up,
    at most ``limit - 1``) of every window free; ``0`` turns the reserve off.

    >>> from redis.asyncio import Redis                       # doctest: +SKIP
    >>> store = RedisQuotaStore(Redis(), "planner:ann", [(500, 60), (3000, 3600)])
    >>> client = PlannerClient("ann", key, quota_store=store)
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        prefix: str,
        limits: Sequence[tuple[int, float]],
        *,
        lease: float = 180.0,
        abandon_grace: float = 10.0,
        margin: float = 0.0,
        recovery: float = 0.5,
        fallback_share: float | None = None,
        role: str = "quota",
        interactive_reserve: float = 0.2,
        lane_memory: float | None = None,
    ) -> None:
        self._prefix = check_prefix(prefix)
        self._role = check_role(role)
        self._limits = validate_limits(limits)
        self._lanes = LaneArgs(self._limits, interactive_reserve, lane_memory)
        self._lease = check_seconds("lease", lease, positive=True)
        self._grace = check_seconds("abandon_grace", abandon_grace)
        self._holds = tuple(p + check_seconds("margin", margin) for _, p in self._limits)
        self._recovery = check_seconds("recovery", recovery)
        self._fallback = _fallback_store(self._limits, fallback_share, abandon_grace, margin)
        self._redis = redis
        # The lane stamp is the last key (the script reads it as KEYS[#KEYS]).
        self._keys = [*quota_keys(prefix, role, self._limits), f"{namespace(prefix)}:{role}:lane"]
        self._channel = quota_channel(prefix, role)
        self._window_args: list[Any] = [
            x for lp in zip((n for n, _ in self._limits), self._holds, strict=True) for x in lp
        ]
        self._script = redis.register_script(QUOTA_LUA)
        self._epoch = ""
        self._pending: RateHeaders | None = None
        self._mine_done: dict[str, tuple[float, ...]] = {}
        self._mine_fly: dict[str, tuple[float, ...]] = {}
        self._releases = 0
        self._wakes: list[Callable[[], None]] = []
        self._listener = Listener(redis, self._channel, self._on_connect, self._on_message)
        self._fallback_until = -_INF
        self._injected_now: float | None = None  # tests only: the script's time (else TIME)
        self.round_trips = 0
        """How many round trips to Redis this store made (for benchmarks)."""

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        """The windows as ``(max_requests, period_seconds)`` pairs."""
        return self._limits

    @property
    def prefix(self) -> str:
        """The key prefix this store's windows live under."""
        return self._prefix

    @property
    def role(self) -> str:
        """``"quota"`` (the API's windows) or ``"auth"`` (the login endpoint's)."""
        return self._role

    def __repr__(self) -> str:
        role = "" if self._role == "quota" else f", role={self._role!r}"
        return f"RedisQuotaStore(prefix={self._prefix!r}, limits={list(self._limits)!r}{role})"

    # -- the protocol ------------------------------------------------------------------------

    async def acquire(self, ahead: int = 0, *, lane: Lane = "interactive") -> Admission:
        """Reserve a slot in every window at once (one round trip), or say when one frees."""
        lanes = self._lanes.args(lane)
        require_asyncio()
        self._start_listener()
        if self._fallback is not None and self._in_fallback():
            return await self._local_acquire(ahead, lane)
        try:
            return await self._acquire_remote(ahead, lanes)
        except StoreUnavailableError:
            if self._fallback is None:
                raise
            self._enter_fallback()
            return await self._local_acquire(ahead, lane)

    async def _local_acquire(self, ahead: int, lane: Lane) -> Admission:
        assert self._fallback is not None
        admission = await self._fallback.acquire(ahead, lane=lane)
        return admission if admission.slot is None else Admission(_LOCAL)

    async def release(self, slot: object, outcome: Outcome) -> None:
        """End a permit: re-stamp its slot at Redis's now (complete/abandon) or free it."""
        if slot is _LOCAL:
            assert self._fallback is not None
            await self._fallback.release(slot, outcome)
            return
        require_asyncio()
        sid = str(slot)
        args = [sid, outcome.value, self._grace]
        pending, self._pending = self._pending, None
        if pending is not None and pending.remaining is not None:
            args += observe_args(pending)  # adopted in the same call: no extra round trip
        reply = await self._run("release", args)
        self._remember(sid, outcome, float(as_text(reply[1])))

    async def pause(self, seconds: float) -> None:
        """Admit nothing, in every process, for ``seconds`` (a 429's cool-down)."""
        seconds = check_seconds("seconds", seconds)
        if self._fallback is not None:
            await self._fallback.pause(seconds)
        require_asyncio()
        try:
            await self._run("pause", [seconds])
        except StoreUnavailableError:
            if self._fallback is None:
                raise

    async def observe(self, headers: RateHeaders) -> None:
        """Adopt the server's remaining count, with the next release (no extra round trip)."""
        if self._fallback is not None and self._in_fallback():
            await self._fallback.observe(headers)
            return
        self._pending = headers

    async def status(self, waiting: int = 0) -> RateLimitStatus:
        """Every window's use as Redis counts it now (one round trip)."""
        require_asyncio()
        reply = [as_text(x) for x in await self._run("status", [])]
        windows = []
        for i, (limit, period) in enumerate(self._limits):
            used, ready = int(reply[1 + 2 * i]), float(reply[2 + 2 * i])
            windows.append(
                WindowStatus(
                    limit=limit,
                    period=period,
                    used=used,
                    remaining=max(0, limit - used),
                    next_free_in=None if ready == _INF else ready,
                )
            )
        return RateLimitStatus(tuple(windows), float(reply[0]), waiting)

    async def forecast(self, n: int = 1, *, lane: Lane = "interactive") -> float:
        """Seconds until ``n`` more ``lane`` requests could be admitted (a read; one round trip).

        ``0.0`` when they could go now, ``inf`` when it depends on requests in flight.
        """
        n = check_int("n", n, low=1)
        lanes = self._lanes.args(lane)
        if self._fallback is not None and self._in_fallback():
            return self._fallback.core.delay(self._fallback.clock(), n - 1)
        require_asyncio()
        reply = await self._run("forecast", [n, *lanes])
        return max(0.0, float(as_text(reply[0])))

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` when a release anywhere may have freed capacity (pub/sub)."""
        self._wakes.append(wake)

    async def aclose(self) -> None:
        """Stop the pub/sub listener, within 1 s (the Redis client is the caller's to close)."""
        await self._listener.aclose()

    async def __aenter__(self) -> Self:
        """``async with store:`` closes it (its listener) on the way out."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the store."""
        await self.aclose()

    # -- round trips -------------------------------------------------------------------------

    async def _run(self, op: str, args: list[Any]) -> list[Any]:
        self.round_trips += 1
        keys, argv = self._call(op, args)
        reply = await guarded(self._script(keys=keys, args=argv), op)
        return list(reply)

    def _call(self, op: str, args: list[Any]) -> tuple[list[str], list[Any]]:
        now = "" if self._injected_now is None else repr(self._injected_now)
        argv = [op, now, self._channel, len(self._limits), *self._window_args, *args]
        return self._keys, argv

    async def _acquire_remote(self, ahead: int, lanes: list[Any]) -> Admission:
        for _ in range(3):
            args = [ahead, self._lease, *self._epoch_args(), *lanes]
            reply = [as_text(x) for x in await self._run("acquire", args)]
            if reply[0] == "lost":
                await self._restore(reply[1])
                continue
            self._epoch = reply[1]
            now = float(reply[2])
            if reply[0] == "ok":
                self._mine_fly[reply[3]] = tuple(now + self._lease + h for h in self._holds)
                return Admission(reply[3])
            core, earliest, lease = float(reply[3]), float(reply[4]), float(reply[5])
            # Blocked by requests in flight: their release wakes us; their lease bounds it.
            return Admission(None, wait=core if core != _INF else lease, earliest=earliest)
        raise StoreUnavailableError("the Redis store keeps losing its data; no request was sent")

    # -- state loss: put back the slots this process knows of ----------------------------------

    async def _restore(self, epoch: str) -> None:
        """Put this process's live slots back after Redis lost its data, then adopt ``epoch``."""
        args: list[Any] = [epoch]
        for i in range(len(self._limits)):
            for mine in (self._mine_done, self._mine_fly):
                args.append(len(mine))
                for member, scores in mine.items():
                    args += [member, scores[i]]
        await self._run("restore", args)
        self._epoch = epoch
        held = len(self._mine_done) + len(self._mine_fly)
        log.log(
            logging.WARNING if held else logging.DEBUG,
            "the Redis quota store lost its data; restored %d slot(s) of this process",
            held,
        )

    async def _sync_epoch(self) -> None:
        """Check the epoch (after a reconnect or a ``lost`` message); restore if it moved."""
        reply = [as_text(x) for x in await self._run("epoch", self._epoch_args())]
        if reply[0] == "lost":
            await self._restore(reply[1])
        elif not self._epoch:
            self._epoch = reply[1]

    def _epoch_args(self) -> list[Any]:
        """What the script needs to judge a missing epoch: ours, the pause, who listens."""
        listening = int(self._listener.running)
        holding = int(bool(self._mine_done or self._mine_fly))
        return [self._epoch, self._recovery, listening, holding]

    def _remember(self, sid: str, outcome: Outcome, now: float) -> None:
        """Keep this process's own completed slots (until they expire) for a restore."""
        self._mine_fly.pop(sid, None)
        if outcome is not Outcome.DISCARD:
            extra = self._grace if outcome is Outcome.ABANDON else 0.0
            self._mine_done[sid] = tuple(now + extra + h for h in self._holds)
        self._releases += 1
        if self._releases % _TRIM_EVERY == 0:
            for mine in (self._mine_done, self._mine_fly):
                for member in [m for m, scores in mine.items() if max(scores) <= now]:
                    del mine[member]

    # -- wake-ups ----------------------------------------------------------------------------

    def _start_listener(self) -> None:
        if self._wakes:
            self._listener.start()

    def _wake_all(self) -> None:
        for wake in self._wakes:
            wake()

    async def _on_connect(self) -> None:
        """(Re)connected: check the epoch, and wake (releases may have been missed)."""
        await self._sync_epoch()
        self._wake_all()

    async def _on_message(self, data: str) -> None:
        if data == "lost":
            await self._sync_epoch()
        self._wake_all()

    # -- fallback ----------------------------------------------------------------------------

    def _in_fallback(self) -> bool:
        return asyncio.get_running_loop().time() < self._fallback_until

    def _enter_fallback(self) -> None:
        self._fallback_until = asyncio.get_running_loop().time() + _FALLBACK_SECONDS
        log.warning(
            "the Redis quota store is unreachable; using a local share of the quota for %g s",
            _FALLBACK_SECONDS,
        )


def _fallback_store(
    limits: tuple[tuple[int, float], ...],
    share: float | None,
    abandon_grace: float,
    margin: float,
) -> MemoryQuotaStore | None:
    """The local store used while Redis is unreachable: ``share`` of every window."""
    if share is None:
        return None
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise TypeError(f"fallback_share must be a number, got {type(share).__name__}")
    if not 0 < share <= 1:
        raise ValueError(f"fallback_share must be in (0, 1], got {share!r}")
    scaled = [(max(1, math.floor(n * share)), p) for n, p in limits]
    return MemoryQuotaStore(scaled, abandon_grace=abandon_grace, margin=margin)
