"""The answer cache in Redis: N web workers of one account ask the API once per answer.

Values are JSON text set with ``PX`` (the entry's TTL); keys are
``planner:{<prefix>}:cache:<key>``, the braces a Redis Cluster hash tag so an account's
keys share one slot. A cache must never fail a call: a read that fails is a miss and a
write that fails is skipped. After a failure Redis is left alone for ``pause`` seconds
(every read a miss at once, no connection attempts piling latency onto calls), with one
warning per outage and one info line when it answers again. redis-py's asyncio client
runs on asyncio only; under trio the cache is always empty (one warning).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._keys import namespace

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

__all__ = ["RedisAnswerCache", "cache_namespace"]

log = logging.getLogger("planner_async.cache")

T = TypeVar("T")


def cache_namespace(prefix: str) -> str:
    """Where an account's cache keys live in Redis (one hash slot per account).

    >>> cache_namespace("planner:0123abcd")
    'planner:{planner:0123abcd}:cache:'
    """
    return f"{namespace(prefix)}:cache:"


class RedisAnswerCache:
    """An answer cache (see ``_cache.AnswerCache``) shared through Redis.

    ``redis`` is a ``redis.asyncio.Redis`` (or cluster) client; it is closed by
    :meth:`aclose` only with ``close_client=True``. ``prefix`` names the account (for
    example ``default_prefix(base_url, username)``). ``timeout`` bounds each Redis
    operation in seconds, ``pause`` how long Redis is skipped after a failure;
    ``clock`` is monotonic seconds.

    >>> from redis.asyncio import Redis                       # doctest: +SKIP
    >>> cache = RedisAnswerCache(Redis(), "planner:0123abcd")
    """

    __slots__ = (
        "_clock",
        "_close_client",
        "_down_until",
        "_namespace",
        "_pause",
        "_redis",
        "_timeout",
        "_warned",
    )

    def __init__(
        self,
        redis: Redis | RedisCluster,
        prefix: str,
        *,
        timeout: float = 0.5,
        pause: float = 5.0,
        close_client: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ValueError("prefix must be a non-empty str without braces")
        for name, value in (("timeout", timeout), ("pause", pause)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number of seconds")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0")
        self._redis = redis
        self._namespace = cache_namespace(prefix)
        self._timeout = float(timeout)
        self._pause = float(pause)
        self._close_client = close_client
        self._clock = clock
        self._down_until = -math.inf
        self._warned = False

    def __repr__(self) -> str:
        return f"RedisAnswerCache(namespace={self._namespace!r})"

    async def get(self, key: str) -> Any | None:
        """The JSON value under ``key``, or ``None`` (absent, expired, unreadable, Redis down)."""
        raw = await self._guarded(lambda: self._redis.get(self._namespace + key), "read")
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            return None

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds; skipped when Redis fails."""
        await self.put_many({key: value}, ttl)

    async def put_many(self, values: Mapping[str, Any], ttl: float) -> None:
        """Keep each value for ``ttl`` seconds, in one pipelined round trip."""
        if isinstance(ttl, bool) or not (math.isfinite(ttl) and ttl > 0):
            return
        px = max(1, round(ttl * 1000))
        encoded: list[tuple[str, str]] = []
        for key, value in values.items():
            try:
                text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError, RecursionError):
                continue
            encoded.append((self._namespace + key, text))
        if encoded:
            await self._guarded(lambda: self._write(encoded, px), "write")

    async def _write(self, encoded: list[tuple[str, str]], px: int) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, text in encoded:
                pipe.set(key, text, px=px)
            await pipe.execute()

    async def aclose(self) -> None:
        """Close the Redis client when this cache was given it to own (``close_client``)."""
        if self._close_client:
            await self._redis.aclose()

    async def _guarded(self, call: Callable[[], Awaitable[T]], what: str) -> T | None:
        """``await call()``; on any failure, ``None`` (and Redis skipped for ``pause``).

        Any ``Exception`` counts, not only Redis errors: a cache is an optimisation, and
        a client bound to another event loop, say, must cost a miss, not the call.
        """
        if asyncio._get_running_loop() is None:
            self._warn_once("the Redis answer cache needs asyncio; answers are not cached")
            return None
        if self._clock() < self._down_until:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                result = await call()
        except Exception as exc:
            self._down_until = self._clock() + self._pause
            self._warn_once(f"the Redis answer cache is unavailable ({what}: {type(exc).__name__})")
            return None
        if self._warned:
            self._warned = False
            log.info("the Redis answer cache answers again")
        return result

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s; calls go to the API meanwhile", message)
