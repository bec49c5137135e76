"""BlockingPlannerClient: the async surface for synchronous code, on one background loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest
import trio

from planner_async import (
    BlockingPlannerClient,
    EventLoopBlockedError,
    NotFoundError,
    PlannerClient,
    SyncCheckpoint,
)
from planner_async._portal import PortalIterator, Runner
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT

THREADS, CALLS = 8, 5


def blocking_client(fake: FakePlanner, **options: Any) -> BlockingPlannerClient:
    """A blocking client on ``fake`` over its in-process transport."""
    options.setdefault("retry", NO_WAIT)
    http = httpx.AsyncClient(transport=fake.transport())
    return BlockingPlannerClient(
        "demo", "demo-key", base_url=fake.base_url, http_client=http, **options
    )


@pytest.fixture
def fake() -> FakePlanner:
    """A fake with 300 events and its default limits, on the wall clock."""
    return FakePlanner(events=300, seed=5)


@pytest.fixture
def client(fake: FakePlanner) -> Iterator[BlockingPlannerClient]:
    """A blocking client on ``fake``, closed after the test."""
    with blocking_client(fake) as client:
        yield client


def test_get_list_pages_get_many_and_sync_return_the_fakes_data(
    fake: FakePlanner, client: BlockingPlannerClient
) -> None:
    """Each endpoint answers in plain Python what the async client would."""
    ids = fake.visible_ids()
    assert ids[0] == client.events.get(ids[0]).id
    assert ids == [event.id for event in client.events.list(page_size=50)]
    pages = list(client.events.list(page_size=100).pages(prefetch=0))
    assert [1, 2, 3] == [page.page for page in pages]
    results = client.events.get_many([*ids[:3], ids[0], 99_999_999])
    assert 4 == len(results)
    assert [True, True, True, False] == [result.ok for result in results]
    run = client.events.sync(lag=0)
    delivered = list(run)
    assert isinstance(run.checkpoint, SyncCheckpoint)
    assert max(event.updated_at for event in delivered if event.updated_at) == (
        run.checkpoint.updated_at
    )


def test_errors_come_through_typed(client: BlockingPlannerClient) -> None:
    """An unknown id raises NotFoundError in the calling thread, as the async client does."""
    with pytest.raises(NotFoundError):
        client.events.get(99_999_999)


def test_bad_arguments_are_refused_before_any_request(
    fake: FakePlanner, client: BlockingPlannerClient
) -> None:
    """Arguments are checked in the calling thread; nothing is sent."""
    with pytest.raises(ValueError, match="page_size"):
        client.events.list(page_size=0)
    with pytest.raises(TypeError):
        client.events.get_many("123")
    with pytest.raises(ValueError, match="id"):
        client.events.get(0)
    with pytest.raises(ValueError, match="username"):
        BlockingPlannerClient("", "key")
    assert 0 == fake.stats.total_requests


def test_eight_threads_share_one_login_and_never_earn_a_429() -> None:
    """8 threads x 5 calls under a 10-per-minute quota: one login, no 429, all answered."""
    clock = ManualClock()
    fake = FakePlanner(events=100, seed=1, clock=clock, rate_limits=[(10, 60)])
    ids = fake.visible_ids()
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> list[int]:
        barrier.wait()
        return [client.events.get(ids[index * CALLS + n]).id for n in range(CALLS)]

    options = {"clock": clock, "sleep": clock.sleep, "rate_limits": [(10, 60.0)]}
    with blocking_client(fake, **options) as client, ThreadPoolExecutor(THREADS) as pool:
        found = [event_id for ids_of in pool.map(work, range(THREADS)) for event_id in ids_of]
        stats = client.stats
    assert ids[: THREADS * CALLS] == found
    assert (1, 1) == (stats.logins, fake.stats.logins)
    assert (0, 0) == (stats.rate_limited, fake.stats.rate_limited)
    assert THREADS * CALLS == fake.stats.count("events.get", 200)
    assert fake.stats.max_window_usage[(10, 60)] <= 10


def test_eight_threads_over_loopback_share_one_login() -> None:
    """The same over a real socket (the fake served by uvicorn): one login, no 429."""
    fake = FakePlanner(events=100, seed=2)
    ids = fake.visible_ids()
    started = threading.Event()
    url: list[str] = []
    stopping: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def serve() -> None:
        stop = asyncio.Event()
        stopping.append((asyncio.get_running_loop(), stop))
        async with fake.serve() as base_url:
            url.append(base_url)
            started.set()
            await stop.wait()

    server = threading.Thread(target=asyncio.run, args=(serve(),))
    server.start()
    try:
        assert started.wait(10)
        with BlockingPlannerClient("demo", "demo-key", base_url=url[0]) as client:
            with ThreadPoolExecutor(THREADS) as pool:
                calls = [ids[n % len(ids)] for n in range(THREADS * CALLS)]
                found = [event.id for event in pool.map(client.events.get, calls)]
            assert calls == found
    finally:
        loop, stop = stopping[0]
        loop.call_soon_threadsafe(stop.set)
        server.join(10)
    assert (1, 0) == (fake.stats.logins, fake.stats.rate_limited)


def test_calls_inside_an_asyncio_loop_are_refused(
    fake: FakePlanner, client: BlockingPlannerClient
) -> None:
    """Inside asyncio, every call raises EventLoopBlockedError (a RuntimeError) at once."""

    async def main() -> list[str]:
        refused = []
        for call in (
            lambda: client.events.get(1),
            lambda: client.events.list(),
            lambda: client.authenticate(),
            lambda: client.stats,
        ):
            with pytest.raises(EventLoopBlockedError, match="asyncio") as caught:
                call()
            refused.append(str(caught.value))
        return refused

    refused = asyncio.run(main())
    assert 4 == len(refused)
    assert isinstance(EventLoopBlockedError("x"), RuntimeError)
    assert 0 == fake.stats.total_requests


def test_calls_inside_a_trio_loop_are_refused(
    fake: FakePlanner, client: BlockingPlannerClient
) -> None:
    """Inside trio, a call raises EventLoopBlockedError naming trio."""

    async def main() -> None:
        with pytest.raises(EventLoopBlockedError, match="trio"):
            client.events.get(1)

    trio.run(main)
    assert 0 == fake.stats.total_requests


def test_close_is_idempotent_and_bounded_with_a_call_waiting() -> None:
    """Closing while a thread waits an hour for quota returns within seconds; that thread
    gets a RuntimeError saying so; a second close is a no-op; later calls are refused
    (the stats stay readable)."""
    fake = FakePlanner(events=20, seed=4)
    ids = fake.visible_ids()
    client = blocking_client(fake, rate_limits=[(1, 3600.0)])
    client.events.get(ids[0])  # spends the only permit of the hour
    outcome: list[BaseException] = []

    def wait_for_quota() -> None:
        try:
            client.events.get(ids[1])
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait_for_quota)
    waiter.start()
    deadline = time.monotonic() + 5
    while client.rate_limit.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # real time: another thread, so poll until it is parked
    assert 1 == client.rate_limit.waiting  # parked in the quota wait
    started = time.monotonic()
    client.close()
    elapsed = time.monotonic() - started
    waiter.join(5)
    client.close()
    assert elapsed < 2.0
    assert not waiter.is_alive()
    assert [RuntimeError] == [type(exc) for exc in outcome]
    assert "closed" in str(outcome[0])
    with pytest.raises(RuntimeError, match="closed"):
        client.events.get(ids[0])
    assert 2 == client.stats.requests  # the final counters stay readable: a login, a get
    assert not [t for t in threading.enumerate() if t.name == "planner-async-portal"]


def test_a_view_shares_the_login_and_closing_it_closes_nothing(
    fake: FakePlanner, client: BlockingPlannerClient
) -> None:
    """with_options() shares tokens and quota; its close() leaves the client working."""
    ids = fake.visible_ids()
    view = client.with_options(max_wait=5.0, timeout=10.0)
    assert ids[0] == view.events.get(ids[0]).id
    view.close()
    assert ids[1] == client.events.get(ids[1]).id
    assert 1 == fake.stats.logins
    assert 2 == client.stats.requests - 1  # one login and two gets


def test_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env() takes the credentials and base URL from PLANNER_* variables."""
    monkeypatch.setenv("PLANNER_USERNAME", "ann")
    monkeypatch.setenv("PLANNER_API_KEY", "ann-key")
    monkeypatch.setenv("PLANNER_BASE_URL", "http://127.0.0.1:9")
    with BlockingPlannerClient.from_env(max_retries=0) as client:
        assert "BlockingPlannerClient(username='ann', base_url='http://127.0.0.1:9')" == repr(
            client
        )
        assert client.session is None
    monkeypatch.delenv("PLANNER_API_KEY")
    with pytest.raises(ValueError, match="PLANNER_API_KEY"):
        BlockingPlannerClient.from_env()


def test_an_iterator_left_early_closes_its_async_generator() -> None:
    """Breaking out of a for loop (then dropping the iterator) runs the generator's finally
    on the loop at once; so does leaving a ``with`` block."""
    runner = Runner()
    closed: list[str] = []

    def numbers(name: str) -> AsyncIterator[int]:
        async def generate() -> AsyncIterator[int]:
            try:
                for n in range(10):
                    yield n
            finally:
                closed.append(name)

        return generate()

    try:
        for n in PortalIterator(runner, "for", lambda: numbers("for")):
            if n == 2:
                break
        assert ["for"] == closed
        with PortalIterator(runner, "with", lambda: numbers("with")) as numbers_:
            assert 0 == next(numbers_)
        assert ["for", "with"] == closed
        assert list(range(10)) == list(PortalIterator(runner, "all", lambda: numbers("all")))
    finally:
        runner.close(_nothing)


async def _nothing() -> None:
    return None


def _portal_threads() -> int:
    return sum(thread.name == "planner-async-portal" for thread in threading.enumerate())


def test_a_client_dropped_without_close_stops_its_thread(fake: FakePlanner) -> None:
    """No close(): once the client (and its listings) are unreachable, its thread ends;
    while a listing of it is iterated, it stays open."""
    before = _portal_threads()
    listing = blocking_client(fake).events.list(page_size=100)  # the client itself is dropped
    assert fake.visible_ids()[:100] == [next(listing).id for _ in range(100)]
    assert before + 1 == _portal_threads()
    del listing
    gc.collect()
    deadline = time.monotonic() + 5
    while _portal_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert before == _portal_threads()


def test_a_blocking_client_shares_the_account_with_an_async_client() -> None:
    """A blocking client and an async client of one account count one quota, one login."""
    fake = FakePlanner(events=20, seed=2, rate_limits=[(10, 60)], auth_rate_limits=[])
    ids = fake.visible_ids()[:2]
    options: dict[str, Any] = {"rate_limits": [(10, 60)], "auth_rate_limits": []}
    with BlockingPlannerClient(
        "demo",
        "demo-key",
        base_url=fake.base_url,
        http_client=httpx.AsyncClient(transport=fake.transport()),
        **options,
    ) as blocking:
        blocking.events.get(ids[0])

        async def run() -> int:
            async with PlannerClient(
                "demo",
                "demo-key",
                base_url=fake.base_url,
                http_client=httpx.AsyncClient(transport=fake.transport()),
                **options,
            ) as client:
                await client.events.get(ids[1])
                return client.rate_limit.windows[0].used

        used = anyio.run(run)
    assert 2 == used
    assert 1 == fake.stats.logins
