"""Hostile Redis (issue 16, items 5 and 8-11): a hung server, trio with a fallback, key TTLs,
a brand-new prefix, and namespaces no prefix can reach; against the suite's own servers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_support import RedisServer, private_server, redis_client, redis_url, unique_prefix

from planner_async import (
    APITimeoutError,
    PlannerClient,
    QuotaWaitError,
    RedisQuotaStore,
    RedisTokenStore,
    StoreUnavailableError,
)
from planner_async._redis import RedisStores
from planner_async._redis._keys import namespace
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]


def _client(fake: FakePlanner, url: str, prefix: str, **options: Any) -> PlannerClient:
    return PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=httpx.AsyncClient(transport=fake.transport()),
        redis_url=url,
        redis_prefix=prefix,
        **options,
    )


@asynccontextmanager
async def _hung(**options: Any) -> AsyncIterator[tuple[PlannerClient, int, RedisServer]]:
    """A client that made one good call through a private Redis, which is then SIGSTOPped."""
    fake = FakePlanner(events=20, restricted_share=0)
    with private_server() as server:
        client = _client(fake, server.url, unique_prefix("hung"), **options)
        ids = fake.visible_ids()
        try:
            async with client:
                await client.events.get(ids[0])
                server.pause()
                yield client, ids[1], server
                server.resume()
        finally:
            server.resume()


# -- item 5: a hung Redis never holds a call beyond its bounds --------------------------------


async def test_a_hung_redis_fails_a_call_within_the_store_bound() -> None:
    """SIGSTOPped Redis, no call bound: StoreUnavailableError within ~2.5 s, not ~50 s."""
    async with _hung() as (client, event_id, _):
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await client.events.get(event_id)
        elapsed = time.monotonic() - start
    print(f"\nhung Redis, no bound: failed after {elapsed:.2f} s")
    assert elapsed < 3.5


async def test_max_wait_on_a_hung_redis_ends_within_the_store_bound() -> None:
    """SIGSTOPped Redis with max_wait=0.5: the call ends (typed error) within ~2.5 s."""
    async with _hung() as (client, event_id, _):
        start = time.monotonic()
        with pytest.raises((StoreUnavailableError, QuotaWaitError)):
            await client.events.get(event_id, max_wait=0.5)
        elapsed = time.monotonic() - start
    assert elapsed < 3.5


async def test_deadline_on_a_hung_redis_ends_the_call_in_time() -> None:
    """SIGSTOPped Redis, ``deadline=1.5``: the call ends within 2 s."""
    async with _hung() as (client, event_id, _):
        start = time.monotonic()
        with pytest.raises((APITimeoutError, StoreUnavailableError)):
            await client.events.get(event_id, deadline=1.5)
        elapsed = time.monotonic() - start
    print(f"\nhung Redis, deadline=1.5: ended after {elapsed:.2f} s")
    assert elapsed < 2.0


async def test_a_cancel_scope_on_a_hung_redis_ends_the_call_in_time() -> None:
    """SIGSTOPped Redis, a 1 s cancel scope: the call is cancelled within 1.5 s."""
    async with _hung() as (client, event_id, _):
        start = time.monotonic()
        with anyio.move_on_after(1.0):
            await client.events.get(event_id)
        elapsed = time.monotonic() - start
    assert elapsed < 1.5


async def test_closing_a_client_on_a_hung_redis_is_bounded() -> None:
    """Leaving the client while Redis hangs takes a few seconds at most, and warns of nothing."""
    fake = FakePlanner(events=20, restricted_share=0)
    with private_server() as server:
        client = _client(fake, server.url, unique_prefix("hungclose"))
        try:
            await client.__aenter__()
            await client.events.get(fake.visible_ids()[0])
            server.pause()
            start = time.monotonic()
            await client.aclose()
            elapsed = time.monotonic() - start
        finally:
            server.resume()
    assert elapsed < 3.0


# -- item 8: trio with a fallback share -------------------------------------------------------


@pytest.mark.backends("trio")
async def test_trio_with_a_fallback_share_says_it_needs_asyncio() -> None:
    """Under trio, authenticate() with redis_fallback_share fails with the documented error."""
    fake = FakePlanner(events=5, restricted_share=0)
    client = _client(fake, "redis://127.0.0.1:1/0", "trio", redis_fallback_share=0.5)
    async with client:
        with pytest.raises(StoreUnavailableError, match="needs asyncio"):
            await client.authenticate()
        with pytest.raises(StoreUnavailableError, match="needs asyncio"):
            await client.events.get(fake.visible_ids()[0])
    assert 0 == fake.stats.total_requests


# -- items 9-11: TTLs, a fresh prefix, namespaces ---------------------------------------------


async def _keys_of(redis: Redis, prefix: str) -> dict[str, int]:
    """Every key of ``prefix``'s namespace with its PTTL."""
    found = {}
    async for key in redis.scan_iter(f"*{prefix}*"):
        found[key.decode()] = await redis.pttl(key)
    return found


async def test_every_key_has_a_ttl_the_epochs_included() -> None:
    """After calls, a 429 pause and a login, every key of the prefix expires, epochs too."""
    url, prefix = redis_url(), unique_prefix("ttl")
    fake = FakePlanner(events=20, restricted_share=0)
    async with redis_client(url, prefix=prefix) as redis:
        async with _client(fake, url, prefix) as client:
            for event_id in fake.visible_ids()[:3]:
                await client.events.get(event_id)
        await RedisQuotaStore(redis, prefix, [(5, 10.0)]).pause(5.0)
        keys = await _keys_of(redis, prefix)
    epochs = [key for key in keys if key.endswith(":epoch")]
    assert 2 == len(epochs)
    assert {} == {key: ttl for key, ttl in keys.items() if ttl <= 0}


async def test_a_brand_new_prefix_admits_at_once() -> None:
    """The first call of a fresh deployment does not wait out a recovery pause."""
    url = redis_url()
    fake = FakePlanner(events=20, restricted_share=0)
    prefix = unique_prefix("fresh")
    async with redis_client(url, prefix=prefix), _client(fake, url, prefix, max_wait=0.2) as client:
        start = time.monotonic()
        await client.events.get(fake.visible_ids()[0])
        elapsed = time.monotonic() - start
    assert elapsed < 0.5


async def test_lost_data_still_pauses_while_a_live_worker_listens() -> None:
    """When keys vanish under a worker that listens, a newcomer waits the recovery pause."""
    prefix = unique_prefix("lost")
    async with redis_client(prefix=prefix) as redis:
        worker = RedisQuotaStore(redis, prefix, [(5, 10.0)], recovery=0.5)
        worker.subscribe(lambda: None)
        assert (await worker.acquire()).slot is not None
        channel = f"{namespace(prefix)}:quota:freed"
        with anyio.fail_after(5):
            while (await redis.pubsub_numsub(channel))[0][1] == 0:  # noqa: ASYNC110 - polls Redis
                await anyio.sleep(0.01)
        keys = [k async for k in redis.scan_iter(f"*{prefix}*")]
        await redis.delete(*keys)
        newcomer = RedisQuotaStore(redis, prefix, [(5, 10.0)], recovery=0.5)
        admission = await newcomer.acquire()
        await worker.aclose()
    assert admission.slot is None
    assert 0 < admission.wait <= 0.5


async def test_no_prefix_reaches_another_prefixs_auth_keys() -> None:
    """Prefix P's login cool-down does not stall the account whose prefix is ``P:auth``."""
    url, prefix = redis_url(), unique_prefix("ns")
    common: dict[str, Any] = {
        "base_url": "https://x",
        "username": "u",
        "rate_limits": [(5, 10.0)],
        "auth_rate_limits": [(5, 10.0)],
        "lease": 60.0,
        "abandon_grace": 1.0,
        "fallback_share": None,
    }
    one = RedisStores(url, prefix=prefix, **common)
    two = RedisStores(url, prefix=f"{prefix}:auth", **common)
    try:
        await one.auth_quota.pause(30.0)
        admission = await two.quota.acquire()
        one_keys = [k async for k in one.redis.scan_iter(f"{namespace(prefix)}:*")]
    finally:
        await one.aclose()
        await two.aclose()
        async with redis_client(url, prefix=prefix):
            pass
    assert admission.slot is not None
    assert one_keys
    assert all(key.decode().startswith(f"planner:{{{prefix}}}:auth:") for key in one_keys)


def test_a_prefix_with_braces_is_refused() -> None:
    """Braces delimit the prefix in every key: a prefix holding one is refused early."""
    redis = Redis.from_url("redis://127.0.0.1:1/0")
    for bad in ("a}b", "{x}", ""):
        with pytest.raises(ValueError, match="prefix"):
            RedisQuotaStore(redis, bad, [(5, 1.0)])
        with pytest.raises(ValueError, match="prefix"):
            RedisTokenStore(redis, bad)
    with pytest.raises(ValueError, match="role"):
        RedisQuotaStore(redis, "p", [(5, 1.0)], role="tokens")


def test_a_store_left_open_does_not_hang_the_loop_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``asyncio.run`` ends promptly when a store was never closed, even though redis-py
    turns the listener's cancellation into a connection error."""
    url, prefix = redis_url(), unique_prefix("exit")

    async def cancel_as_error(self: Any, **_: Any) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RedisConnectionError("Connection closed by server.") from None

    monkeypatch.setattr(PubSub, "get_message", cancel_as_error)

    async def main() -> None:
        async with Redis.from_url(url) as redis:
            store = RedisQuotaStore(redis, prefix, [(5, 10.0)])
            store.subscribe(lambda: None)  # as a QuotaLimiter does: the listener starts
            await store.acquire()
            channel = f"{namespace(prefix)}:quota:freed"
            while (await redis.pubsub_numsub(channel))[0][1] == 0:  # noqa: ASYNC110 - polls Redis
                await asyncio.sleep(0.01)  # real time: until the listener is subscribed
        # the store is never closed: asyncio.run cancels its listener

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
