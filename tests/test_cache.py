"""The answer cache (issue 14 item 4): TTLs, per-account isolation, sharing, never failing."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_support import need_redis, redis_client, unique_prefix

from planner_async import Event, NotFoundError
from planner_async._cache import (
    AnswerCache,
    MemoryAnswerCache,
    cached_get,
    event_key,
    remember_page,
)
from planner_async._codec import StructureError
from planner_async._redis._cache import RedisAnswerCache, cache_namespace
from planner_async.testing import ManualClock

pytestmark = [pytest.mark.anyio]

BOTH = pytest.mark.backends("asyncio", "trio")
#: A URL no test connects to: the cache is built on it only to be refused or stay quiet.
UNUSED_REDIS = "redis://127.0.0.1:1/0"


def wire(event_id: int, title: str = "Budget") -> dict[str, Any]:
    """A minimal event as the API sends it."""
    return {"id": event_id, "title": title, "extra": {"nested": [1, 2]}}


class Fetcher:
    """A stand-in for the request: counts calls, answers the wire JSON of an id."""

    def __init__(self, answer: Callable[[int], Any] = wire) -> None:
        self.calls: list[int] = []
        self._answer = answer

    def __call__(self, event_id: int) -> Callable[[], Awaitable[Any]]:
        async def fetch() -> Any:
            self.calls.append(event_id)
            return self._answer(event_id)

        return fetch


async def get(cache: AnswerCache | None, fetcher: Fetcher, event_id: int, ttl: float = 5) -> Event:
    """``cached_get`` as the client will call it."""
    return await cached_get(cache, ttl, event_id, fetcher(event_id), Event.from_dict)


# -- MemoryAnswerCache ------------------------------------------------------------------------


@BOTH
async def test_an_entry_lives_exactly_its_ttl_on_the_manual_clock() -> None:
    """An entry is served until its TTL has passed on the cache's clock, then it is gone."""
    clock = ManualClock(start=0.0)
    cache = MemoryAnswerCache(timer=clock)
    await cache.put("event:1", wire(1), 5)
    await cache.put("event:2", wire(2), 60)
    clock.advance(4.9)
    before = await cache.get("event:1")
    clock.advance(0.2)
    after = await cache.get("event:1")
    assert wire(1) == before
    assert after is None
    assert wire(2) == await cache.get("event:2")


async def test_the_least_recently_used_entry_goes_first_when_full() -> None:
    """``maxsize`` bounds the entries; the one used least recently is dropped."""
    cache = MemoryAnswerCache(maxsize=2)
    await cache.put("a", 1, 60)
    await cache.put("b", 2, 60)
    await cache.get("a")
    await cache.put("c", 3, 60)
    assert [1, None, 3] == [await cache.get(k) for k in ("a", "b", "c")]
    assert 2 == len(cache)


async def test_a_hit_is_a_copy_the_caller_may_change() -> None:
    """Changing a returned value (or the one put) does not change what the cache holds."""
    cache = MemoryAnswerCache()
    value = wire(1)
    await cache.put("event:1", value, 60)
    value["title"] = "changed after put"
    hit = await cache.get("event:1")
    assert hit is not None
    hit["extra"]["nested"].append(3)
    assert wire(1) == await cache.get("event:1")


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf")])
async def test_an_unusable_ttl_keeps_nothing(ttl: float) -> None:
    """A zero, negative or non-finite TTL stores nothing (and raises nothing)."""
    cache = MemoryAnswerCache()
    await cache.put("k", 1, ttl)
    assert await cache.get("k") is None


async def test_a_value_json_cannot_encode_is_skipped_not_raised() -> None:
    """A value that is not JSON is not kept; its neighbours in the same batch are."""
    cache = MemoryAnswerCache()
    await cache.put_many({"bad": {"when": object()}, "nan": float("nan"), "good": [1]}, 60)
    assert [None, None, [1]] == [await cache.get(k) for k in ("bad", "nan", "good")]


@pytest.mark.parametrize(
    ("maxsize", "error"),
    [(0, ValueError), (-5, ValueError), (1.5, TypeError), (True, TypeError), ("10", TypeError)],
)
def test_a_bad_maxsize_is_refused(maxsize: Any, error: type[Exception]) -> None:
    """``maxsize`` must be an int (TypeError) of at least 1 (ValueError)."""
    with pytest.raises(error, match="maxsize"):
        MemoryAnswerCache(maxsize=maxsize)


async def test_aclose_drops_every_entry() -> None:
    """After ``aclose`` the cache is empty."""
    cache = MemoryAnswerCache()
    await cache.put("k", 1, 60)
    await cache.aclose()
    assert 0 == len(cache)


def test_threads_on_their_own_loops_share_one_cache_safely() -> None:
    """Eight threads, each with its own event loop, hammer one small cache without error."""
    cache = MemoryAnswerCache(maxsize=64)
    errors: list[BaseException] = []
    wrong: list[tuple[str, Any]] = []

    async def work(seed: int) -> None:
        for i in range(3000):
            key = f"event:{(seed * 7919 + i) % 200}"
            if i % 3:
                got = await cache.get(key)
                if got is not None and got != {"key": key}:
                    wrong.append((key, got))
            else:
                await cache.put(key, {"key": key}, 60)

    def run(seed: int) -> None:
        try:
            asyncio.run(work(seed))
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert [] == errors
    assert [] == wrong
    assert 0 < len(cache) <= 64


# -- cached_get / remember_page ---------------------------------------------------------------


@BOTH
async def test_100_gets_over_5_ids_make_5_fetches() -> None:
    """With a TTL of 5 s, 100 gets cycling over 5 ids fetch each id once."""
    cache = MemoryAnswerCache()
    fetcher = Fetcher()
    ids = [1001 + i % 5 for i in range(100)]
    events = [await get(cache, fetcher, event_id) for event_id in ids]
    assert [1001, 1002, 1003, 1004, 1005] == sorted(fetcher.calls)
    assert ids == [event.id for event in events]
    assert {"extra": {"nested": [1, 2]}} == dict(events[-1].extra)


async def test_an_answer_is_fetched_again_once_its_ttl_passed() -> None:
    """A hit within the TTL costs no fetch; after it, the event is fetched afresh."""
    clock = ManualClock(start=0.0)
    cache = MemoryAnswerCache(timer=clock)
    fetcher = Fetcher()
    await get(cache, fetcher, 7)
    clock.advance(4.99)
    await get(cache, fetcher, 7)
    clock.advance(0.02)
    await get(cache, fetcher, 7)
    assert [7, 7] == fetcher.calls


async def test_two_accounts_never_share_answers() -> None:
    """Each account has its own cache: what one fetched, the other fetches for itself."""
    ann, bob = MemoryAnswerCache(), MemoryAnswerCache()
    fetcher = Fetcher()
    await get(ann, fetcher, 1)
    await get(bob, fetcher, 1)
    await get(ann, fetcher, 1)
    assert [1, 1] == fetcher.calls
    assert await bob.get("event:2") is None


async def test_without_a_cache_or_ttl_every_get_fetches() -> None:
    """No cache, or ``cache_ttl=None``, means every get is a request."""
    fetcher = Fetcher()
    cache = MemoryAnswerCache()
    await get(None, fetcher, 1)
    await get(None, fetcher, 1)
    await cached_get(cache, None, 1, fetcher(1), Event.from_dict)
    await cached_get(cache, None, 1, fetcher(1), Event.from_dict)
    assert [1, 1, 1, 1] == fetcher.calls
    assert 0 == len(cache)


async def test_errors_are_never_cached() -> None:
    """A 404 reaches the caller each time, and an event created meanwhile is then found."""
    cache = MemoryAnswerCache()
    created = False
    calls = 0

    async def fetch() -> Any:
        nonlocal calls
        calls += 1
        if not created:
            raise NotFoundError("Event 9 does not exist.", status_code=404)
        return wire(9)

    with pytest.raises(NotFoundError):
        await cached_get(cache, 5, 9, fetch, Event.from_dict)
    created = True
    event = await cached_get(cache, 5, 9, fetch, Event.from_dict)
    assert (9, 2) == (event.id, calls)


async def test_a_malformed_answer_is_not_remembered() -> None:
    """An answer that does not structure raises and is fetched again next time."""
    cache = MemoryAnswerCache()
    fetcher = Fetcher(lambda event_id: {"id": event_id})  # no title: does not structure
    for _ in range(2):
        with pytest.raises(StructureError, match="title"):
            await get(cache, fetcher, 3)
    assert [3, 3] == fetcher.calls


@pytest.mark.parametrize(
    "stored",
    [wire(2), {"id": 1}, {"id": True, "title": "t"}, [1], "text"],
    ids=["other-id", "unstructurable", "bool-id", "list", "str"],
)
async def test_a_stale_or_foreign_cached_value_is_a_miss(stored: Any) -> None:
    """A cached value that is not this event, or no longer structures, is fetched afresh."""
    cache = MemoryAnswerCache()
    await cache.put(event_key(1), stored, 60)
    fetcher = Fetcher()
    event = await get(cache, fetcher, 1)
    assert (1, [1]) == (event.id, fetcher.calls)
    assert wire(1) == await cache.get(event_key(1))


async def test_an_answer_for_another_id_is_returned_but_not_remembered() -> None:
    """A server answering another id than asked is passed on, never cached under the id."""
    cache = MemoryAnswerCache()
    fetcher = Fetcher(lambda event_id: wire(event_id + 1))
    event = await get(cache, fetcher, 1)
    assert 2 == event.id
    assert await cache.get(event_key(1)) is None


async def test_events_seen_on_a_page_answer_later_gets() -> None:
    """``remember_page`` keeps a page's events; a get of one of them then costs no request."""
    cache = MemoryAnswerCache()
    items: list[Any] = [wire(1), wire(2), {"id": "3"}, {"id": True}, "junk", {"title": "x"}]
    kept = await remember_page(cache, 5, items)
    fetcher = Fetcher()
    first = await get(cache, fetcher, 1)
    second = await get(cache, fetcher, 2)
    assert 2 == kept
    assert [] == fetcher.calls
    assert ("Budget", 2) == (first.title, second.id)
    assert 0 == await remember_page(cache, None, [wire(4)])
    assert 0 == await remember_page(None, 5, [wire(4)])


# -- RedisAnswerCache -------------------------------------------------------------------------


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and an account prefix; the prefix's cache keys are deleted after."""
    prefix = unique_prefix("cache")
    async with redis_client(prefix=cache_namespace(prefix)) as redis:
        yield redis, prefix


@pytest.mark.backends("asyncio")
async def test_redis_keeps_json_under_the_hash_tagged_namespace_with_px(
    redis_prefix: tuple[Redis, str],
) -> None:
    """A put is JSON at ``planner:{prefix}:cache:<key>`` with the TTL as ``PX``."""
    redis, prefix = redis_prefix
    cache = RedisAnswerCache(redis, prefix)
    await cache.put("event:1", wire(1), 5)
    key = f"planner:{{{prefix}}}:cache:event:1"
    assert b'{"id":1,"title":"Budget","extra":{"nested":[1,2]}}' == await redis.get(key)
    assert 4000 < await redis.pttl(key) <= 5000
    assert wire(1) == await cache.get("event:1")
    assert await cache.get("event:2") is None


@pytest.mark.backends("asyncio")
async def test_redis_workers_of_one_account_fetch_once_and_accounts_stay_apart(
    redis_prefix: tuple[Redis, str],
) -> None:
    """Two workers on one prefix share answers (100 gets over 5 ids: 5 fetches); another
    account's prefix shares nothing."""
    redis, prefix = redis_prefix
    workers = [RedisAnswerCache(redis, prefix), RedisAnswerCache(redis, prefix)]
    fetcher = Fetcher()
    for i in range(100):
        await get(workers[i % 2], fetcher, 1001 + i % 5)
    other = unique_prefix("other")
    async with redis_client(prefix=cache_namespace(other)) as redis2:
        stranger = await RedisAnswerCache(redis2, other).get(event_key(1001))
    assert [1001, 1002, 1003, 1004, 1005] == sorted(fetcher.calls)
    assert stranger is None


@pytest.mark.backends("asyncio")
async def test_redis_remembers_a_page_in_one_round_trip(redis_prefix: tuple[Redis, str]) -> None:
    """``remember_page`` over Redis stores each event with the TTL."""
    redis, prefix = redis_prefix
    cache = RedisAnswerCache(redis, prefix)
    kept = await remember_page(cache, 30, [wire(i) for i in range(1, 51)])
    pttl = await redis.pttl(cache_namespace(prefix) + "event:50")
    assert 50 == kept
    assert wire(37) == await cache.get("event:37")
    assert 29_000 < pttl <= 30_000


@pytest.mark.backends("asyncio")
async def test_a_corrupt_redis_value_is_a_miss(redis_prefix: tuple[Redis, str]) -> None:
    """A value that is not JSON (or too deep to decode) reads as a miss."""
    redis, prefix = redis_prefix
    cache = RedisAnswerCache(redis, prefix)
    await redis.set(cache_namespace(prefix) + "a", b"{not json")
    await redis.set(cache_namespace(prefix) + "b", b"[" * 100_000)
    assert [None, None] == [await cache.get("a"), await cache.get("b")]


@pytest.mark.backends("asyncio")
async def test_redis_down_is_a_miss_never_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """With no Redis answering, gets fetch, puts are skipped, and one warning is logged."""
    need_redis()
    redis = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    clock = ManualClock(start=0.0)
    cache = RedisAnswerCache(redis, "down", close_client=True, clock=clock)
    fetcher = Fetcher()
    with caplog.at_level(logging.INFO, logger="planner_async.cache"):
        for _ in range(3):
            event = await get(cache, fetcher, 1)
            clock.advance(6)  # past the pause: each round tries Redis again
        await cache.put_many({"a": 1}, 5)
    await cache.aclose()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (1, [1, 1, 1]) == (event.id, fetcher.calls)
    assert 1 == len(warnings)
    assert "unavailable (read: ConnectionError)" in warnings[0].getMessage()
    assert "127.0.0.1" not in caplog.text


class FlakyRedis:
    """Enough of a Redis client for the cache: fails while ``down``, counts reads."""

    def __init__(self) -> None:
        self.down = True
        self.reads = 0
        self.hang = False

    async def get(self, key: str) -> bytes | None:
        """Fail, hang or answer a miss."""
        self.reads += 1
        if self.hang:
            await asyncio.sleep(3600)  # parked: the cache's timeout cancels it (redis-py: asyncio)
        if self.down:
            raise RedisConnectionError("Error 111 connecting to secret-host:7777")
        return None


@pytest.mark.backends("asyncio")
async def test_after_a_failure_redis_rests_then_recovery_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Within ``pause`` of a failure Redis is not asked; when it answers again that is logged."""
    flaky = FlakyRedis()
    clock = ManualClock(start=0.0)
    cache = RedisAnswerCache(flaky, "p", pause=5, clock=clock)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="planner_async.cache"):
        await cache.get("k")
        clock.advance(4)
        await cache.get("k")
        reads_during_pause = flaky.reads
        clock.advance(2)
        flaky.down = False
        await cache.get("k")
    assert 1 == reads_during_pause
    assert ["WARNING", "INFO"] == [r.levelname for r in caplog.records]
    assert "answers again" in caplog.records[1].getMessage()
    assert "secret-host" not in caplog.text


@pytest.mark.backends("asyncio")
async def test_a_hanging_redis_costs_at_most_the_timeout() -> None:
    """A Redis that does not answer is given up after ``timeout`` seconds: a miss."""
    flaky = FlakyRedis()
    flaky.hang = True
    cache = RedisAnswerCache(flaky, "p", timeout=0.01)  # type: ignore[arg-type]
    assert await cache.get("k") is None


@pytest.mark.backends("trio")
async def test_under_trio_the_redis_cache_is_a_quiet_miss(caplog: pytest.LogCaptureFixture) -> None:
    """redis-py cannot run on trio: reads miss, writes are skipped, one warning says why."""
    cache = RedisAnswerCache(Redis.from_url(UNUSED_REDIS), "trio")
    fetcher = Fetcher()
    for _ in range(2):
        await get(cache, fetcher, 1)
    assert [1, 1] == fetcher.calls
    assert 1 == sum("needs asyncio" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"prefix": ""}, ValueError),
        ({"prefix": "a{b}"}, ValueError),
        ({"prefix": "p", "timeout": -1}, ValueError),
        ({"prefix": "p", "pause": float("nan")}, ValueError),
        ({"prefix": "p", "timeout": "1"}, TypeError),
    ],
)
def test_bad_redis_cache_arguments_are_refused(kwargs: dict[str, Any], error: type) -> None:
    """An empty or brace-holding prefix, or a bad timeout or pause, is refused at once."""
    with pytest.raises(error):
        RedisAnswerCache(Redis.from_url(UNUSED_REDIS), **kwargs)
