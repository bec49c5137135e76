"""The beds the contract suites run on: every ``QuotaStore`` and ``TokenStore`` we ship.

A contract test asks for ``quota_bed`` or ``token_bed`` and runs once per implementation
(``memory`` and ``redis`` quota stores; ``memory``, ``file`` and ``redis`` token stores).
The Redis beds skip cleanly when no Redis answers (fail with ``PLANNER_REQUIRE_REDIS=1``)
and run on asyncio only (redis-py's asyncio client); the others on asyncio and trio.

Time is injected, never slept: a quota bed's stores all read the bed's clock (the memory
store's ``clock=``; for Redis the script's tests-only injected time,
``RedisQuotaStore._injected_now``, instead of Redis ``TIME``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from beds import QuotaBed, TokenBed, cancelled_holder, killed_process
from redis_support import redis_client, unique_prefix

from planner_async import (
    FileTokenStore,
    MemoryQuotaStore,
    MemoryTokenStore,
    QuotaStore,
    RedisQuotaStore,
    RedisTokenStore,
    TokenStore,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the Redis beds on trio: redis-py's asyncio client cannot run there."""
    kept, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        params = {} if spec is None else spec.params
        on_trio = params.get("anyio_backend") == "trio"
        redis = "redis" in (params.get("quota_bed"), params.get("token_bed"))
        (dropped if on_trio and redis else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["memory", "redis"])
async def quota_bed(request: pytest.FixtureRequest) -> AsyncIterator[QuotaBed]:
    """One bed per quota store implementation: ``MemoryQuotaStore``, ``RedisQuotaStore``."""
    if request.param == "memory":

        def memory(limits: Sequence[tuple[int, float]], bed: QuotaBed, **o: Any) -> QuotaStore:
            return MemoryQuotaStore(limits, clock=lambda: bed.now, **o)

        yield QuotaBed("memory", memory)
        return
    prefix = unique_prefix("contract-quota")
    async with redis_client(prefix=prefix) as redis:

        def remote(limits: Sequence[tuple[int, float]], bed: QuotaBed, **o: Any) -> QuotaStore:
            return RedisQuotaStore(redis, prefix, limits, **{"recovery": 0.0, **o})

        bed = QuotaBed("redis", remote)
        try:
            yield bed
        finally:
            await bed.aclose()


@pytest.fixture(params=["memory", "file", "redis"])
async def token_bed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TokenBed]:
    """One bed per token store: ``MemoryTokenStore``, ``FileTokenStore``, ``RedisTokenStore``."""
    if request.param == "memory":
        yield TokenBed("memory", MemoryTokenStore, cancelled_holder)
        return
    if request.param == "file":
        path = tmp_path / "session.json"

        async def killed(store: TokenStore, lease_for: float) -> None:
            await killed_process(str(path) + ".lock")

        yield TokenBed("file", lambda: FileTokenStore(path, poll=0.005), killed)
        return
    prefix = unique_prefix("contract-token")
    async with redis_client(prefix=prefix) as redis:

        async def vanished(store: TokenStore, lease_for: float) -> None:
            # A worker that took the lease (SET NX PX) and was never heard of again.
            assert isinstance(store, RedisTokenStore)
            await redis.set(store._lease_key, "dead-worker", px=int(lease_for * 1000))

        yield TokenBed("redis", lambda: RedisTokenStore(redis, prefix, poll=0.005), vanished)
