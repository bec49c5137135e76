"""RedisQuotaStore and the client's Redis mode: leases, wake-ups, the shared cool-down,
lanes after a restart, failures (fail closed, opt-in fallback) and the options.

What every quota store promises (all-or-nothing reservations, release outcomes, pauses,
adopted headers, status, lanes) is in ``tests/contracts/``, run on this store too."""

from __future__ import annotations

import math
import time

import anyio
import httpx
import pytest
from redis_support import need_redis, private_server, redis_client, redis_url, unique_prefix

from planner_async import (
    Outcome,
    PlannerClient,
    QuotaLimiter,
    QuotaWaitError,
    RateHeaders,
    RedisQuotaStore,
    StoreUnavailableError,
    default_prefix,
)
from planner_async._redis import connect
from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def test_a_dead_workers_slot_frees_after_its_lease() -> None:
    """A slot never released (its worker died) frees at reservation + lease + period."""
    prefix = unique_prefix("lease")
    async with redis_client(prefix=prefix) as redis:
        dead = RedisQuotaStore(redis, prefix, [(1, 1.0)], lease=5.0, recovery=0.0)
        alive = RedisQuotaStore(redis, prefix, [(1, 1.0)], lease=5.0, recovery=0.0)
        dead._injected_now = alive._injected_now = 1000.0
        assert (await dead.acquire()).slot is not None
        alive._injected_now = 1005.9
        blocked = await alive.acquire()
        alive._injected_now = 1006.0
        freed = await alive.acquire()
    assert blocked.slot is None
    assert math.isclose(blocked.wait, 0.1, abs_tol=1e-6)  # the lease bounds the wait
    assert freed.slot is not None


async def test_lanes_hold_again_after_a_redis_restart() -> None:
    """A restart forgets the interactive stamp: batch alone fills, the next interactive call
    brings the reserve back at once."""
    prefix = unique_prefix("lanes-restart")
    with private_server() as server:
        redis = connect(server.url)  # the client's own connection: it reconnects
        store = RedisQuotaStore(redis, prefix, [(5, 60.0)], recovery=0.0, lane_memory=30.0)
        slot = (await store.acquire(lane="interactive")).slot
        await store.release(slot, Outcome.DISCARD)
        server.restart()
        batch = [(await store.acquire(lane="batch")).slot is not None for _ in range(3)]
        interactive = (await store.acquire(lane="interactive")).slot
        refused = await store.acquire(lane="batch")  # 4 used: the last slot is kept
        last = (await store.acquire(lane="interactive")).slot
        await store.aclose()
        await redis.aclose()
    assert [True, True, True] == batch
    assert interactive is not None
    assert refused.slot is None
    assert last is not None


async def test_pause_and_adopted_headers_are_shared() -> None:
    """A 429's cool-down and the server's remaining count reach every store of the prefix."""
    prefix = unique_prefix("shared")
    async with redis_client(prefix=prefix) as redis:
        one = RedisQuotaStore(redis, prefix, [(5, 10.0)], recovery=0.0)
        other = RedisQuotaStore(redis, prefix, [(5, 10.0)], recovery=0.0)
        await other.acquire()
        await one.pause(0.5)
        paused = await other.acquire()
        await anyio.sleep(0.55)
        slot = (await one.acquire()).slot
        await one.observe(RateHeaders(limit=5, remaining=1, reset=None))
        trips = one.round_trips
        await one.release(slot, Outcome.COMPLETE)  # carries the headers: one round trip
        status = await other.status()
    assert paused.slot is None
    assert 0.3 < paused.wait <= 0.5
    assert one.round_trips == trips + 1
    assert status.windows[0].used == 4  # 2 of ours + 2 phantoms: remaining 1


async def test_a_release_elsewhere_wakes_the_waiting_head() -> None:
    """A discard in another process publishes; the listener calls wake() at once."""
    prefix = unique_prefix("wake")
    events = [anyio.Event()]
    async with redis_client(prefix=prefix) as redis:
        waiting = RedisQuotaStore(redis, prefix, [(1, 60.0)], recovery=0.0)
        waiting.subscribe(lambda: events[-1].set())
        other = RedisQuotaStore(redis, prefix, [(1, 60.0)], recovery=0.0)
        slot = (await other.acquire()).slot
        refused = await waiting.acquire()  # starts the listener; marks someone waiting
        with anyio.fail_after(2):
            await events[-1].wait()  # the listener wakes once when it has connected
        events.append(anyio.Event())
        await other.release(slot, Outcome.DISCARD)
        with anyio.fail_after(2):
            await events[-1].wait()
        await waiting.aclose()
    assert refused.slot is None
    assert refused.wait > 30


async def test_limiter_on_the_store_cancellation_takes_nothing() -> None:
    """Waiters cancelled at any moment leave no slot behind; admitted ones were counted."""
    prefix = unique_prefix("cancel")
    async with redis_client(prefix=prefix) as redis:
        store = RedisQuotaStore(redis, prefix, [(3, 0.3)], recovery=0.0)
        limiter = QuotaLimiter(store=store)
        done = 0

        async def one() -> None:
            nonlocal done
            async with limiter.acquire():
                done += 1

        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(one)
            await anyio.sleep(0.1)
            group.cancel_scope.cancel()
        await anyio.sleep(0.35)
        status = await store.status()
        await store.aclose()
    assert 3 <= done < 12
    assert status.windows[0].used == 0


async def test_waiters_are_admitted_as_slots_free() -> None:
    """Ten callers through a 4-per-0.2 s window finish in about two periods, not paced."""
    prefix = unique_prefix("flow")
    async with redis_client(prefix=prefix) as redis:
        store = RedisQuotaStore(redis, prefix, [(4, 0.2)], recovery=0.0)
        limiter = QuotaLimiter(store=store)
        start = time.monotonic()
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(_use, limiter)
        elapsed = time.monotonic() - start
        await store.aclose()
    assert 0.4 <= elapsed < 0.9


async def _use(limiter: QuotaLimiter) -> None:
    async with limiter.acquire():
        pass


def _fake_client(**options: object) -> tuple[FakePlanner, PlannerClient]:
    fake = FakePlanner(events=20, restricted_share=0)
    http = httpx.AsyncClient(transport=fake.transport())
    client = PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=http,
        **options,  # type: ignore[arg-type]
    )
    return fake, client


async def test_unreachable_redis_fails_closed_at_the_first_call() -> None:
    """No Redis: a typed error, no request sent, and the URL is not in the message."""
    fake, client = _fake_client(redis_url=DEAD_REDIS)
    async with client:
        with pytest.raises(StoreUnavailableError) as info:
            await client.events.get(fake.visible_ids()[0])
    assert fake.stats.total_requests == 0
    assert "127.0.0.1:1" not in str(info.value)


async def test_opt_in_fallback_uses_a_share_of_the_quota() -> None:
    """With redis_fallback_share=0.5, an unreachable Redis leaves half of each window locally."""
    fake, client = _fake_client(
        redis_url=DEAD_REDIS, redis_fallback_share=0.5, rate_limits=[(4, 60.0)], max_wait=0
    )
    ids = fake.visible_ids()
    async with client:
        await client.events.get(ids[0])
        await client.events.get(ids[1])
        with pytest.raises(QuotaWaitError):
            await client.events.get(ids[2])
    assert fake.stats.count("events.get", 200) == 2


@pytest.mark.backends("trio")
async def test_redis_mode_on_trio_says_it_needs_asyncio() -> None:
    """On trio, Redis mode fails with a clear error; nothing is sent."""
    fake, client = _fake_client(redis_url=DEAD_REDIS)  # nothing connects under trio
    async with client:
        with pytest.raises(StoreUnavailableError, match="asyncio"):
            await client.events.get(fake.visible_ids()[0])
    assert fake.stats.total_requests == 0


async def test_two_clients_share_one_login_through_redis() -> None:
    """Two clients of one account on one prefix log in once between them."""
    url = redis_url()
    prefix = unique_prefix("clients")
    fake = FakePlanner(events=20, restricted_share=0)
    http = httpx.AsyncClient(transport=fake.transport())
    clients = [
        PlannerClient(
            "demo",
            "demo-key",
            base_url=fake.base_url,
            http_client=http,
            redis_url=url,
            redis_prefix=prefix,
        )
        for _ in range(2)
    ]
    for client in clients:
        async with client:
            await client.events.get(fake.visible_ids()[0])
            status = await client.fetch_rate_limit()
    async with redis_client(prefix=prefix):
        pass  # deletes the keys
    assert fake.stats.logins == 1
    assert status.windows[0].used == 2


def test_options_are_checked_before_anything_runs() -> None:
    """Wrong Redis options fail at construction with TypeError/ValueError."""
    with pytest.raises(ValueError, match="redis://"):
        PlannerClient("u", "k", redis_url="http://x")
    with pytest.raises(TypeError, match="need redis_url"):
        PlannerClient("u", "k", redis_prefix="p")
    with pytest.raises(ValueError, match="fallback_share"):
        PlannerClient("u", "k", redis_url=DEAD_REDIS, redis_fallback_share=2.0)
    store = RedisQuotaStore.__new__(RedisQuotaStore)
    with pytest.raises(TypeError, match="not both"):
        PlannerClient("u", "k", redis_url=DEAD_REDIS, quota_store=store)  # type: ignore[arg-type]


def test_default_prefix_hashes_base_url_and_username_never_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default prefix depends on base URL and username only; from_env reads the options."""
    monkeypatch.setenv("PLANNER_USERNAME", "ann")
    monkeypatch.setenv("PLANNER_API_KEY", "secret-key-1")
    monkeypatch.setenv("PLANNER_REDIS_URL", DEAD_REDIS)
    one = PlannerClient.from_env()
    monkeypatch.setenv("PLANNER_API_KEY", "secret-key-2")
    monkeypatch.setenv("PLANNER_REDIS_PREFIX", "mine")
    two = PlannerClient.from_env()
    assert one._res.redis is not None
    assert two._res.redis is not None
    assert one._res.redis.prefix == default_prefix("https://api.forwardplanner.com", "ann")
    assert two._res.redis.prefix == "mine"
    assert default_prefix("https://x", "ann") != default_prefix("https://x", "bob")
    assert "secret" not in repr(one._res.redis.quota)


async def test_a_client_with_no_auth_window_runs_on_redis() -> None:
    """``auth_rate_limits=[]`` with ``redis_url`` builds its stores (no window, no lanes)."""
    need_redis()
    fake = FakePlanner(events=5, rate_limits=[], auth_rate_limits=[])
    client = PlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=httpx.AsyncClient(transport=fake.transport()),
        redis_url=redis_url(),
        redis_prefix=unique_prefix("no-auth-window"),
        auth_rate_limits=[],
    )
    async with client:
        await client.events.get(fake.visible_ids()[0])
    assert 1 == fake.stats.logins
