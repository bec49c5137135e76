"""The stores a client builds for itself from ``redis_url`` (see :class:`RedisStores`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
import httpx

from ._connect import connect, default_prefix
from ._quota import RedisQuotaStore
from ._tokens import RedisTokenStore

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisStores", "permit_lease"]

log = logging.getLogger("planner_async")

_TOKEN_FLIGHT = 60.0  # TokenManager's flight timeout: a permit may wait that long for a login


def permit_lease(timeout: httpx.Timeout, abandon_grace: float) -> float:
    """How long a permit can be held by a live worker: a login, then one request, then grace.

    A reserved slot without a release for this long (plus its period) is freed.
    """
    parts = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    request = sum(30.0 if part is None else part for part in parts)
    return request + _TOKEN_FLIGHT + abandon_grace


class RedisStores:
    """One Redis connection pool and the three stores of a client built from ``redis_url``.

    The API windows (role ``quota``), the auth endpoint's window (role ``auth``) and the
    token state, all under ``planner:{<prefix>}:`` (see :mod:`._keys`); the prefix
    defaults to :func:`default_prefix`.
    """

    __slots__ = ("auth_quota", "prefix", "quota", "redis", "tokens")

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None,
        base_url: str,
        username: str,
        rate_limits: Sequence[tuple[int, float]],
        auth_rate_limits: Sequence[tuple[int, float]],
        lease: float,
        abandon_grace: float,
        fallback_share: float | None,
        interactive_reserve: float = 0.2,
        lane_memory: float | None = None,
    ) -> None:
        self.prefix = prefix or default_prefix(base_url, username)
        self.redis: Redis | RedisCluster = connect(url)
        self.quota, self.auth_quota = (
            RedisQuotaStore(
                self.redis,
                self.prefix,
                limits,
                lease=lease,
                abandon_grace=abandon_grace,
                fallback_share=fallback_share,
                interactive_reserve=interactive_reserve,
                lane_memory=lane_memory,
                role=role,
            )
            for role, limits in (("quota", rate_limits), ("auth", auth_rate_limits))
        )
        self.tokens = RedisTokenStore(self.redis, self.prefix, fallback=fallback_share is not None)

    async def aclose(self) -> None:
        """Stop the listeners and close the connection pool (nothing to do off asyncio)."""
        if asyncio._get_running_loop() is None:
            return  # under trio nothing was opened: every Redis call refused to run
        await self.quota.aclose()
        await self.auth_quota.aclose()
        # Bounded: closing a socket can wait on its peer; an unclosed one is reclaimed.
        with anyio.move_on_after(1.0) as scope:
            await self.redis.aclose()
        if scope.cancelled_caught:
            log.debug("the Redis connection pool did not close within 1 s")
