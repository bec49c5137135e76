"""RedisTokenStore: compare-and-set saves, the renewal lease, TTLs and encryption at rest."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import anyio
import pytest
from cryptography.fernet import Fernet
from redis_support import redis_client, unique_prefix

from planner_async import RedisTokenStore, Session, StoreUnavailableError, TokenState
from planner_async._redis._keys import lease_key, token_key

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]

SESSION = Session(
    user_id=7, product_id=3, email="a@b.c", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
)
STATE = TokenState("access-token-abcdef", "refresh-token-123456", 2_000_000_000.0, SESSION)


async def test_save_is_a_compare_and_set_on_the_generation() -> None:
    """A save from a stale generation is refused; the stored state round-trips intact."""
    prefix = unique_prefix("tok")
    async with redis_client(prefix=prefix) as redis:
        store = RedisTokenStore(redis, prefix)
        assert (await store.load()).generation == 0
        saved = await store.save(STATE, expected=0)
        stale = await store.save(STATE, expected=0)
        loaded = await store.load()
        await store.clear(expected=0)  # stale: ignored
        kept = await store.load()
        await store.clear(expected=1)
        cleared = await store.load()
        ttl = await redis.pttl(token_key(prefix))
    assert saved is not None
    assert saved.generation == 1
    assert stale is None
    assert loaded.state == STATE
    assert kept.state == STATE
    assert (cleared.state, cleared.generation) == (None, 2)
    assert 0 < ttl <= 30 * 86_400_000


async def test_the_lease_excludes_and_a_dead_holder_blocks_only_until_its_timeout() -> None:
    """A second holder waits for the first; a lease left by a dead holder expires by itself."""
    prefix = unique_prefix("lease")
    order: list[str] = []
    async with redis_client(prefix=prefix) as redis:
        store = RedisTokenStore(redis, prefix, poll=0.01)
        a_in = anyio.Event()

        async def hold(name: str) -> None:
            async with store.lease(5.0):
                order.append(f"{name}+")
                a_in.set()
                await anyio.sleep(0.05)  # real time: b polls a real Redis meanwhile
                order.append(f"{name}-")

        async with anyio.create_task_group() as group:
            group.start_soon(hold, "a")
            await a_in.wait()
            group.start_soon(hold, "b")
        await redis.set(lease_key(prefix), "dead-worker", px=200)
        start = time.monotonic()
        async with store.lease(5.0):
            waited = time.monotonic() - start
    assert order == ["a+", "a-", "b+", "b-"]
    assert 0.1 < waited < 1.0


async def test_an_expired_lease_is_not_released_by_its_old_holder() -> None:
    """Leaving a lease that ran out and was taken by another does not free theirs."""
    prefix = unique_prefix("mine")
    async with redis_client(prefix=prefix) as redis:
        store = RedisTokenStore(redis, prefix)
        async with store.lease(0.05):
            await anyio.sleep(0.1)  # real time: the lease's TTL runs on the Redis server
            await redis.set(lease_key(prefix), "someone-else", px=5000)
        holder = await redis.get(lease_key(prefix))
    assert holder == b"someone-else"


async def test_encryption_at_rest_hides_the_tokens() -> None:
    """With a key the stored bytes hold no token; a wrong key fails clearly, a bad one early."""
    prefix = unique_prefix("enc")
    key = Fernet.generate_key()
    async with redis_client(prefix=prefix) as redis:
        store = RedisTokenStore(redis, prefix, encryption_key=key)
        await store.save(STATE, expected=0)
        raw = await redis.hget(token_key(prefix), "data")
        loaded = await store.load()
        other = RedisTokenStore(redis, prefix, encryption_key=Fernet.generate_key())
        with pytest.raises(StoreUnavailableError, match="decrypted"):
            await other.load()
    assert raw is not None
    assert b"access-token" not in raw
    assert b"refresh-token" not in raw
    assert loaded.state == STATE
    with pytest.raises(ValueError, match="Fernet key"):
        RedisTokenStore(redis, prefix, encryption_key="not-a-key")
    assert "token" not in repr(store).replace(":token", "")


async def test_unreadable_state_counts_as_empty() -> None:
    """Garbage under the token key is treated as no state; the next save replaces it."""
    prefix = unique_prefix("junk")
    async with redis_client(prefix=prefix) as redis:
        await redis.hset(token_key(prefix), mapping={"gen": 4, "data": b"{not json"})
        store = RedisTokenStore(redis, prefix)
        stored = await store.load()
        saved = await store.save(STATE, expected=4)
    assert (stored.state, stored.generation) == (None, 4)
    assert saved is not None
