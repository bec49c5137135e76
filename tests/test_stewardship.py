"""Quota stewardship: clients of one account share, lanes put people first, reads coalesce.

Real time on small windows (a 10-per-0.25 s window), so each test takes about a second:
the threads test needs two event loops; the lane test stays on real time because, on
trio's MockClock, a batch waiter spins at the instant the interactive reserve lapses
(``QuotaCore._when`` tests ``now - interactive_at < lane_memory`` but wakes it at
``interactive_at + lane_memory``, which float rounding can make equal to ``now``).
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from typing import Any, get_type_hints

import anyio
import attrs
import httpx
import pytest

from planner_async import (
    ClientOptions,
    DeadlineExceededError,
    MemoryQuotaStore,
    PlannerClient,
    QuotaCore,
    QuotaWaitError,
)
from planner_async._config import ClientConfig
from planner_async.testing import FakePlanner

from support import GatedTransport

pytestmark = [pytest.mark.anyio]

WINDOW = ((10, 0.25),)


def _fake(**kwargs: Any) -> FakePlanner:
    kwargs.setdefault("rate_limits", WINDOW)
    kwargs.setdefault("auth_rate_limits", [])
    return FakePlanner(events=50, seed=5, **kwargs)


def _client(fake: FakePlanner, **options: Any) -> PlannerClient:
    if "quota_store" not in options:
        options.setdefault("rate_limits", WINDOW)
    options.setdefault("auth_rate_limits", [])
    http = httpx.AsyncClient(transport=options.pop("transport", None) or fake.transport())
    return PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http, **options)


# -- 1. clients of one account share ---------------------------------------------------------


@pytest.mark.backends("asyncio", "trio")
async def test_two_clients_of_one_account_share_quota_and_login(anyio_backend: Any) -> None:
    """Two clients of one account in one process: one login and no 429 in 60 calls."""
    fake = _fake()
    ids = fake.visible_ids()[:5]
    one, two = _client(fake), _client(fake)
    async with one, two, anyio.create_task_group() as tg:
        for n in range(30):
            tg.start_soon(one.events.get, ids[n % 5])
            tg.start_soon(two.events.get, ids[(n + 1) % 5])
    assert (1, 0) == (fake.stats.logins, fake.stats.rate_limited)
    assert 10 >= fake.stats.max_window_usage[WINDOW[0]]


def test_clients_on_two_threads_share_one_window() -> None:
    """Clients of one account on two threads (two event loops) never overfill a window."""
    fake = _fake()
    ids = fake.visible_ids()[:5]
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        async def run() -> None:
            async with _client(fake, coalesce=False) as client:
                for n in range(20):
                    await client.events.get(ids[(n + offset) % 5])

        try:
            anyio.run(run)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [] == errors
    assert (1, 0) == (fake.stats.logins, fake.stats.rate_limited)
    assert 40 == fake.stats.count("events.get", 200)


async def test_an_explicit_store_opts_out_of_sharing() -> None:
    """A client given its own quota_store counts alone; the others keep sharing."""
    fake = _fake()
    own = MemoryQuotaStore(WINDOW)
    one, two, alone = _client(fake), _client(fake), _client(fake, quota_store=own)
    assert one.rate_limit is not None
    async with one, two, alone:
        await one.events.get(fake.visible_ids()[0])
        assert 1 == two.rate_limit.windows[0].used
        assert 0 == alone.rate_limit.windows[0].used


# -- 2. lanes --------------------------------------------------------------------------------


def test_batch_leaves_the_reserve_while_interactive_is_recent() -> None:
    """Batch stops at limit - reserve while interactive was seen; alone it takes everything."""
    core = QuotaCore([(10, 1.0)], interactive_reserve=0.2)
    assert all(core.try_take(0.0, "batch") for _ in range(10))  # alone: the whole window
    busy = QuotaCore([(10, 1.0)], interactive_reserve=0.2)
    assert busy.try_take(0.0, "interactive")
    taken = sum(busy.try_take(0.1, "batch") for _ in range(10))
    assert 7 == taken  # 1 interactive + 7 batch = 8 = 10 - ceil(10 * 0.2)
    assert busy.try_take(0.1, "interactive")
    assert 1.1 == busy.ready_at(1.1, 0, "batch")  # the reserve lapsed with lane_memory (1 s)


async def test_interactive_calls_go_first_under_a_batch_flood() -> None:
    """An interactive call with max_wait=0.5 never fails while 40 batch calls queue."""
    fake = _fake()
    ids = fake.visible_ids()[:20]
    failures: list[BaseException] = []
    waits: list[float] = []
    async with _client(fake, coalesce=False) as client:
        await client.authenticate()

        async def batch(n: int) -> None:
            await client.events.get(ids[n % 20], priority="batch")

        async def interactive(n: int) -> None:
            started = time.monotonic()
            try:
                await client.events.get(ids[n % 20], max_wait=0.5)
            except QuotaWaitError as exc:
                failures.append(exc)
            waits.append(time.monotonic() - started)

        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(batch, n)
            for n in range(8):
                await anyio.sleep(0.1)  # real time: see the module docstring
                tg.start_soon(interactive, n)
    assert [] == failures
    assert 0 == fake.stats.rate_limited
    assert sorted(waits)[int(0.9 * len(waits)) - 1] <= 0.3


async def test_per_call_priority_is_checked_before_any_request() -> None:
    """An unknown priority is a ValueError before any request is spent."""
    fake = _fake()
    async with _client(fake) as client:
        with pytest.raises(ValueError, match="priority"):
            await client.events.get(1, priority="urgent")  # type: ignore[arg-type]
    assert 0 == fake.stats.total_requests
    with pytest.raises(ValueError, match="priority"):
        _client(fake, priority="later")


# -- 3. coalescing and 4. the cache ----------------------------------------------------------


@pytest.mark.backends("asyncio", "trio")
async def test_identical_concurrent_gets_share_one_request(anyio_backend: Any) -> None:
    """100 concurrent gets of one id make one request; every caller gets the event."""
    fake = _fake(rate_limits=[])
    fake.faults = attrs.evolve(fake.faults, latency=0.05)  # so the calls overlap
    event_id = fake.visible_ids()[0]
    got: list[int] = []
    async with _client(fake, rate_limits=[]) as client:
        await client.authenticate()

        async def get() -> None:
            got.append((await client.events.get(event_id)).id)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(get)
        assert 99 == client.stats.coalesced
    assert [event_id] * 100 == got
    assert 1 == fake.stats.count("events.get", 200)


async def test_coalescing_can_be_turned_off() -> None:
    """With coalesce=False, 10 concurrent gets make 10 requests."""
    fake = _fake(rate_limits=[])
    event_id = fake.visible_ids()[0]
    async with _client(fake, rate_limits=[], coalesce=False) as client:
        await client.authenticate()
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(client.events.get, event_id)
    assert 10 == fake.stats.count("events.get", 200)


async def _leader_gives_up() -> tuple[FakePlanner, float]:
    """A leader gives up 0.05 s into a 0.2 s read; a follower joins while it is in flight.

    Returns the fake and how long the follower took from the leader's start."""
    fake = _fake(rate_limits=[])
    fake.faults = attrs.evolve(fake.faults, latency=0.2)
    event_id = fake.visible_ids()[0]
    gated = GatedTransport(fake.transport(), f"/api/v2/events/{event_id}")
    results: list[object] = []
    async with _client(fake, rate_limits=[], transport=gated) as client:
        await client.authenticate()

        async def leader() -> None:
            with anyio.move_on_after(0.05):
                await client.events.get(event_id)
            results.append("left")

        async def follower() -> None:
            results.append((await client.events.get(event_id)).id)

        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(leader)
            await gated.entered.wait()  # the leader's request is in flight
            gated.gate.set()
            tg.start_soon(follower)
        took = anyio.current_time() - start
    assert ["left", event_id] == results
    assert 1 == fake.stats.count("events.get", 200)
    return fake, took


@pytest.mark.backends("asyncio", "trio-virtual")
async def test_a_leader_giving_up_does_not_fail_the_others(anyio_backend: Any) -> None:
    """The first caller's deadline does not cancel the shared request while another waits:
    one read is sent, both get the answer when it lands (0.2 s), on asyncio and trio."""
    fake, took = await _leader_gives_up()
    assert 2 == fake.stats.total_requests  # the login and the one shared read
    if anyio_backend != "asyncio":  # virtual time: exact
        assert 0.2 == took


async def test_a_leader_alone_is_called_off_at_once() -> None:
    """With nobody waiting for the same answer, a caller's deadline ends its read at once."""
    fake = _fake(rate_limits=[])
    fake.faults = attrs.evolve(fake.faults, latency=0.5)
    async with _client(fake, rate_limits=[]) as client:
        await client.authenticate()
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            await client.events.get(fake.visible_ids()[0], deadline=0.05)
        assert time.monotonic() - started < 0.3


async def test_every_caller_gets_the_same_typed_error() -> None:
    """A shared request's 404 reaches every caller as NotFoundError."""
    fake = _fake(rate_limits=[])
    async with _client(fake, rate_limits=[]) as client:
        await client.authenticate()
        fake.faults = attrs.evolve(fake.faults, latency=0.05)  # so the calls overlap
        outcomes: list[str] = []

        async def get() -> None:
            try:
                await client.events.get(999_999)
            except Exception as exc:
                outcomes.append(type(exc).__name__)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(get)
    assert ["NotFoundError"] * 5 == outcomes
    assert 1 == fake.stats.count("events.get", 404)


async def test_cache_ttl_answers_repeated_gets_from_memory() -> None:
    """cache_ttl=5: 100 gets over 5 ids make 5 requests, shared by clients of the account."""
    fake = _fake(rate_limits=[])
    ids = fake.visible_ids()[:5]
    one, two = (
        _client(fake, rate_limits=[], cache_ttl=5),
        _client(fake, rate_limits=[], cache_ttl=5),
    )
    async with one, two:
        for n in range(50):
            await one.events.get(ids[n % 5])
            await two.events.get(ids[n % 5])
    assert 5 == fake.stats.count("events.get", 200)


# -- 6. forecast ----------------------------------------------------------------------------


async def test_forecast_says_when_more_requests_could_go() -> None:
    """Forecast is 0 with room, then about a period once the window is full."""
    fake = _fake()
    async with _client(fake) as client:
        assert 0.0 == await client.forecast(5)
        await client.authenticate()
        ids = fake.visible_ids()[:10]
        for event_id in ids:
            await client.events.get(event_id)
        wait = await client.forecast(1)
        assert 0.0 < wait <= 0.25
        assert wait <= await client.forecast(5)
        with pytest.raises(ValueError, match="n"):
            await client.forecast(0)


# -- architecture: one life cycle, options written once --------------------------------------


async def test_a_view_of_a_closed_client_refuses_before_any_request() -> None:
    """A view shares its client's life cycle: closing the client closes the view."""
    fake = _fake()
    client = _client(fake)
    view = client.with_options(max_wait=1)
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await view.events.get(1)
    assert 0 == fake.stats.total_requests


def test_a_view_made_before_first_use_is_bound_to_its_clients_loop() -> None:
    """A view used on a second event loop fails with the client's clear error."""
    fake = _fake(rate_limits=[])
    client = _client(fake, rate_limits=[])
    view = client.with_options(max_retries=0)
    anyio.run(client.authenticate)
    with pytest.raises(RuntimeError, match="another event loop"):
        anyio.run(view.authenticate)


def test_signature_options_and_config_agree() -> None:
    """The constructor's keywords, ClientOptions and ClientConfig name the same options."""
    signature = inspect.signature(PlannerClient)
    keywords = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
    config = [field.name for field in attrs.fields(ClientConfig)]
    assert config == keywords
    assert set(config) == set(get_type_hints(ClientOptions))
    for field in attrs.fields(ClientConfig):
        assert field.default == signature.parameters[field.name].default
    assert {"redis_url", "priority", "coalesce", "cache_ttl"} <= set(keywords)


def test_rate_headers_do_not_count_slots_that_freed_in_flight() -> None:
    """A server count taken before local slots freed is not read as someone else's use."""
    core = QuotaCore([(3, 10.0)])
    for _ in range(3):
        assert core.try_take(0.0)
        core.complete(0.0)  # the three free at 10.0
    assert core.try_take(10.0)
    core.complete(10.05)  # the server counted the three old ones when it stamped this one
    assert not core.observe(10.05, limit=3, remaining=0, since=9.99)
    assert 1 == core.status(10.05).windows[0].used
    assert core.observe(10.05, limit=3, remaining=0)  # without since: two phantoms
    assert 3 == core.status(10.05).windows[0].used


async def test_a_lone_batch_job_gets_the_whole_window() -> None:
    """60 batch calls on a 20-per-second window take about two seconds, not three."""
    fake = FakePlanner(events=100, seed=4, rate_limits=[(20, 1.0)], auth_rate_limits=[])
    async with _client(fake, rate_limits=[(20, 1.0)], priority="batch", coalesce=False) as job:
        await job.authenticate()
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for event_id in fake.visible_ids()[:60]:
                tg.start_soon(job.events.get, event_id)
        took = time.monotonic() - started
    assert 0 == fake.stats.rate_limited
    assert 1.9 <= took <= 2.5


async def test_the_status_shows_both_lanes_and_the_watch_view_draws_them() -> None:
    """After an interactive call the snapshot lists both lanes and the reserve kept."""
    from planner_async import QuotaLimiter
    from planner_async._cli._quota_view import frame_lines

    limiter = QuotaLimiter([(10, 60.0)])
    async with limiter.acquire(lane="interactive"):
        pass
    status = limiter.status
    expected = [("interactive", 0, 2), ("batch", 0, 0)]
    assert expected == [(lane.name, lane.waiting, lane.reserved) for lane in status.lanes]
    lines = frame_lines(status, 80)
    assert "waiting: 0 interactive, 0 batch (2 kept)" == lines[-1].strip()


def test_a_batch_waiter_is_admitted_when_the_reserve_lapses_whatever_the_rounding() -> None:
    """At the instant the reserve lapses (0.35 + 0.7, not exact in floats), batch goes."""
    core = QuotaCore([(10, 5.0)], lane_memory=0.7)
    assert core.try_take(0.35, "interactive")
    assert 7 == sum(core.try_take(0.4, "batch") for _ in range(8))  # 10 - 2 kept
    lapse = core.ready_at(0.4, 0, "batch")
    assert 0.35 + 0.7 == lapse
    assert core.try_take(lapse, "batch")


async def test_an_interactive_read_never_waits_behind_a_batch_one() -> None:
    """Identical reads coalesce within a lane only: the interactive one is its own request."""
    fake = _fake(rate_limits=[])
    event_id = fake.visible_ids()[0]
    async with _client(fake, rate_limits=[]) as client:
        await client.authenticate()
        fake.faults = attrs.evolve(fake.faults, latency=0.05)  # so the calls overlap
        async with anyio.create_task_group() as tg:
            for priority in ("batch", "batch", "interactive", "interactive"):
                tg.start_soon(functools.partial(client.events.get, event_id, priority=priority))
    assert 2 == fake.stats.count("events.get", 200)
