"""The seams: the pure retry decision, rate headers, the store protocols and the call options."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from planner_async import (
    Admission,
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    DeadlineExceededError,
    MemoryQuotaStore,
    MemoryTokenStore,
    NotFoundError,
    Outcome,
    PlannerClient,
    QuotaCore,
    QuotaLimiter,
    QuotaStore,
    QuotaWaitError,
    RateHeaders,
    RateLimitError,
    RateLimitStatus,
    RetryPolicy,
    ServerError,
    TokenStore,
)
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT, ClientFactory, jwt

pytestmark = pytest.mark.anyio

POLICY = RetryPolicy(max_retries=3, wait_jitter=False, max_retry_after=300.0)


# -- the retry decision is one pure function --------------------------------------------------


@pytest.mark.parametrize(
    ("error", "attempt", "retry_after", "expected"),
    [
        (ServerError("x", status_code=502), 0, None, 1.0),
        (ServerError("x", status_code=503), 2, None, 4.0),
        (ServerError("x", status_code=503), 0, 7.0, 7.0),
        (RateLimitError("x"), 0, 12.0, 12.0),
        (RateLimitError("x"), 1, None, 2.0),
        (RateLimitError("x"), 0, 301.0, None),
        (RateLimitError("x"), 0, math.inf, None),
        (ServerError("x", status_code=500), 3, None, None),
        (APIStatusError("x", status_code=400), 0, None, None),
        (NotFoundError("x", status_code=404), 0, None, None),
        (AuthenticationError("x", status_code=401), 0, None, None),
        (APIConnectionError("x"), 1, None, 2.0),
        (APIResponseValidationError("x"), 0, None, 1.0),
    ],
)
def test_retry_decision_table(
    error: Any, attempt: int, retry_after: float | None, expected: float | None
) -> None:
    """``RetryPolicy.decide`` maps (error, attempt, Retry-After) to a wait or to final."""
    assert expected == POLICY.decide(error, attempt, retry_after=retry_after)


def test_retry_decision_jitter_draws_below_the_ceiling() -> None:
    """With jitter, the backoff is the ceiling times the random draw."""
    policy = RetryPolicy(wait_initial=1.0, wait_max=30.0)
    assert 2.0 == policy.decide(ServerError("x", status_code=500), 2, rand=lambda: 0.5)


# -- rate headers, read in one pass and honoured ----------------------------------------------


def test_rate_headers_are_read_in_one_pass() -> None:
    """All three headers come from one pass over the raw pairs, any case."""
    raw = [
        (b"X-RATE-LIMIT-LIMIT", b"500"),
        (b"x-rate-limit-remaining", b"0"),
        (b"X-Rate-Limit-Reset", b"1.5"),
    ]
    assert RateHeaders(limit=500, remaining=0, reset=1.5) == RateHeaders.from_raw(raw)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [(b"x-rate-limit-limit", b"500")],
        [(b"x-rate-limit-remaining", b"lots")],
        [(b"x-rate-limit-remaining", b"-1")],
        [(b"x-rate-limit-remaining", b"nan")],
    ],
)
def test_rate_headers_absent_or_unreadable_give_none(raw: list[tuple[bytes, bytes]]) -> None:
    """Without a readable ``Remaining`` there is nothing to adopt."""
    assert RateHeaders.from_raw(raw) is None


def test_reset_frees_the_adopted_phantom_when_the_server_says() -> None:
    """``Remaining: 0, Reset: 1`` blocks one second, not the whole 60 s window."""
    core = QuotaCore([(10, 60.0)])
    assert core.observe(0.0, limit=10, remaining=0, reset=1.0)
    assert 1.0 == core.delay(0.0)
    assert core.try_take(1.0)
    assert not core.try_take(1.0)  # the other phantoms still live a whole period


# -- the store protocols ----------------------------------------------------------------------


def test_memory_stores_implement_the_protocols() -> None:
    """The defaults are instances of the documented protocols."""
    assert isinstance(MemoryQuotaStore([(5, 1.0)]), QuotaStore)
    assert isinstance(MemoryTokenStore(), TokenStore)


class SharedOnly:
    """A quota store that is not the in-memory one: the limiter must use its async methods."""

    def __init__(self, inner: MemoryQuotaStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.wakers: list[Callable[[], None]] = []

    @property
    def limits(self) -> tuple[tuple[int, float], ...]:
        return self.inner.limits

    async def acquire(self, ahead: int = 0) -> Admission:
        self.calls.append("acquire")
        await anyio.lowlevel.checkpoint()  # a round trip: a real await point
        return await self.inner.acquire(ahead)

    async def release(self, slot: object, outcome: Outcome) -> None:
        self.calls.append(outcome.value)
        await anyio.lowlevel.checkpoint()
        await self.inner.release(slot, outcome)

    async def pause(self, seconds: float) -> None:
        await self.inner.pause(seconds)

    async def observe(self, headers: RateHeaders) -> None:
        await self.inner.observe(headers)

    async def status(self, waiting: int = 0) -> RateLimitStatus:
        return await self.inner.status(waiting)

    def subscribe(self, wake: Callable[[], None]) -> None:
        self.wakers.append(wake)


@pytest.mark.backends("trio-virtual")
async def test_a_shared_store_keeps_every_window(anyio_backend: object) -> None:
    """Through a store's async methods, 60 tasks never put more than 5 in any 1 s window."""
    store = SharedOnly(MemoryQuotaStore([(5, 1.0)]))
    limiter = QuotaLimiter(store=store)
    assert 1 == len(store.wakers)
    stamps: list[float] = []

    async def one() -> None:
        async with limiter.acquire():
            stamps.append(anyio.current_time())
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        for _ in range(60):
            tg.start_soon(one)
    assert 60 == len(stamps)
    stamps.sort()
    assert all(later - earlier >= 1.0 for earlier, later in zip(stamps, stamps[5:], strict=False))
    assert 60 == store.calls.count("complete")
    snapshot = await limiter.snapshot()
    assert 5 == snapshot.windows[0].used  # the last five still hold their slots
    assert snapshot == limiter.status  # with a shared store, status is the last snapshot


@pytest.mark.backends("asyncio", "trio")
async def test_a_shared_store_gets_back_a_slot_taken_by_a_cancelled_waiter(
    anyio_backend: object,
) -> None:
    """A caller cancelled while queued for a shared store takes nothing."""
    store = SharedOnly(MemoryQuotaStore([(1, 60.0)]))
    limiter = QuotaLimiter(store=store)
    async with limiter.acquire():
        with anyio.move_on_after(0.05):
            async with limiter.acquire():
                pytest.fail("no slot was free")  # pragma: no cover
    status = await limiter.snapshot()
    assert 1 == status.windows[0].used  # only the completed one
    assert 0 == status.waiting


@pytest.mark.backends("asyncio", "trio")
async def test_a_shared_store_max_wait_refuses_with_a_local_error(anyio_backend: object) -> None:
    """``max_wait`` with a shared store raises :class:`QuotaWaitError`, nothing sent."""
    limiter = QuotaLimiter(store=SharedOnly(MemoryQuotaStore([(1, 60.0)])))
    async with limiter.acquire():
        with pytest.raises(QuotaWaitError) as info:
            async with limiter.acquire(max_wait=1.0):
                pass  # pragma: no cover
    assert info.value.sent is False
    assert info.value.retry_after is not None
    assert info.value.retry_after > 1.0


async def test_memory_token_store_compares_and_sets(make_client: ClientFactory) -> None:
    """A save against an old generation is refused; the lease is one at a time."""
    own = MemoryTokenStore()
    client = make_client(token_store=own)
    await client.authenticate()
    state = (await own.load()).state  # the client's own tokens, as its store holds them
    assert state is not None
    store = MemoryTokenStore()
    first = await store.save(state, expected=0)
    assert first is not None
    assert 1 == first.generation
    assert await store.save(state, expected=0) is None
    await store.clear(expected=0)  # stale: ignored
    assert (await store.load()).state is state
    took: list[str] = []

    async def other() -> None:
        with anyio.move_on_after(0.05):
            async with store.lease(5.0):
                took.append("other")  # pragma: no cover

    async with store.lease(5.0), anyio.create_task_group() as tg:
        tg.start_soon(other)
    assert [] == took


async def test_clients_sharing_stores_share_one_login_and_one_quota(
    fake: FakePlanner, make_client: ClientFactory
) -> None:
    """Two clients given the same stores log in once between them and count one quota."""
    quota = MemoryQuotaStore([(100, 60.0)])
    tokens = MemoryTokenStore()
    a = make_client(quota_store=quota, token_store=tokens)
    b = make_client(quota_store=quota, token_store=tokens)
    ids = fake.visible_ids("demo")[:4]
    async with anyio.create_task_group() as tg:
        for event_id in ids:
            tg.start_soon(a.events.get, event_id)
            tg.start_soon(b.events.get, event_id)
    assert 1 == fake.stats.logins
    assert 8 == a.rate_limit.windows[0].used


# -- options per client, per view and per call ------------------------------------------------


async def test_with_options_shares_tokens_quota_and_counters(
    fake: FakePlanner, make_client: ClientFactory
) -> None:
    """A view made by ``with_options`` reuses the login and the quota of its client."""
    client = make_client(rate_limits=[(50, 60.0)])
    view = client.with_options(max_retries=0, timeout=5.0)
    event_id = fake.visible_ids("demo")[0]
    await client.events.get(event_id)
    await view.events.get(event_id)
    assert 1 == fake.stats.logins
    assert 2 == client.rate_limit.windows[0].used
    assert 3 == client.stats.requests == view.stats.requests  # login + two gets
    await view.aclose()  # a view closes nothing
    await client.events.get(event_id)


async def test_with_options_refuses_what_a_view_cannot_change(make_client: ClientFactory) -> None:
    """Credentials, URLs, windows and stores belong to the client, not to a view."""
    client = make_client()
    with pytest.raises(TypeError, match="rate_limits"):
        client.with_options(rate_limits=[(1, 1.0)])


async def test_per_call_max_wait_refuses_locally(
    fake: FakePlanner, make_client: ClientFactory
) -> None:
    """``events.get(..., max_wait=0)`` on a full window raises QuotaWaitError, sending nothing."""
    client = make_client(rate_limits=[(2, 60.0)])
    event_id = fake.visible_ids("demo")[0]
    await client.events.get(event_id)
    await client.events.get(event_id)
    before = fake.stats.total_requests
    with pytest.raises(QuotaWaitError):
        await client.events.get(event_id, max_wait=0)
    assert before == fake.stats.total_requests


async def test_per_call_deadline_covers_the_whole_call(make_client: ClientFactory) -> None:
    """A call still waiting for its permit when its deadline ends raises DeadlineExceededError."""
    client = make_client(rate_limits=[(1, 60.0)])
    await client.authenticate()
    await client.events.list(page_size=1).__aiter__().__anext__()
    with anyio.fail_after(5), pytest.raises(DeadlineExceededError) as info:
        await client.events.get(1, deadline=0.05)
    assert 0.05 == info.value.deadline


async def test_per_call_options_are_checked_before_any_request(
    fake: FakePlanner, make_client: ClientFactory
) -> None:
    """Bad per-call values are TypeError/ValueError at once, before any request."""
    client = make_client()
    with pytest.raises(ValueError, match="timeout"):
        await client.events.get(1, timeout=-1)
    with pytest.raises(ValueError, match="deadline"):
        await client.events.get(1, deadline=0)
    with pytest.raises(TypeError, match="max_wait"):
        await client.events.get(1, max_wait="soon")  # type: ignore[arg-type]
    assert 0 == fake.stats.total_requests


async def test_timeout_applies_even_to_a_given_http_client(fake: FakePlanner) -> None:
    """``timeout=`` reaches every request although the httpx client was the user's own."""
    seen: list[dict[str, Any]] = []
    inner = fake.transport()

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.extensions["timeout"])
            return await inner.handle_async_request(request)

    async with (
        httpx.AsyncClient(transport=Spy(), timeout=2.0) as http,
        PlannerClient(
            "demo", "demo-key", base_url=fake.base_url, http_client=http, timeout=0.5
        ) as client,
    ):
        await client.events.get(fake.visible_ids("demo")[0], timeout=0.25)
    assert {0.5} == {entry["read"] for entry in seen[:-1]}  # the login
    assert 0.25 == seen[-1]["read"]  # the per-call override


async def test_back_off_uses_the_injected_sleep(fake: FakePlanner, clock: ManualClock) -> None:
    """With ``sleep=``, retry waits go through it (no real time under a manual clock)."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json={"token": "t", "refreshToken": "r"})
        calls += 1
        if calls < 3:
            return httpx.Response(502, json={"error": "Bad Gateway", "message": "try again"})
        return httpx.Response(200, json={"id": 1, "title": "One"})

    policy = RetryPolicy(wait_initial=10.0, wait_max=60.0, wait_jitter=False)
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        PlannerClient(
            "demo", "k", base_url=fake.base_url, http_client=http, retry=policy, sleep=sleep
        ) as client,
    ):
        with anyio.fail_after(2):
            event = await client.events.get(1)
    assert 1 == event.id
    assert [10.0, 20.0] == slept


def test_plain_http_is_refused_unless_loopback_or_opted_in() -> None:
    """The API key never travels in clear by accident."""
    with pytest.raises(ValueError, match="plain http"):
        PlannerClient("u", "k", base_url="http://api.example.com")
    for url in ("http://127.0.0.1:8000", "http://localhost", "http://[::1]:9"):
        PlannerClient("u", "k", base_url=url)
    PlannerClient("u", "k", base_url="http://api.example.com", allow_insecure_http=True)


def test_no_retry_wait_uses_no_wait_policy_constant() -> None:
    """The shared test policy really waits nothing (guards the other tests' speed)."""
    assert 0.0 == NO_WAIT.decide(ServerError("x", status_code=500), 0)


async def test_a_token_shorter_lived_than_the_margin_is_not_renewed_on_every_call(
    fake: FakePlanner, clock: ManualClock
) -> None:
    """A 30 s token with the default 60 s margin is renewed at half its life, not per call."""
    logins = renewals = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal logins, renewals
        if request.url.path.endswith("/auth") or request.url.path.endswith("/renew"):
            if request.url.path.endswith("/auth"):
                logins += 1
            else:
                renewals += 1
            return httpx.Response(200, json={"token": jwt(clock() + 30), "refreshToken": "r"})
        return httpx.Response(200, json={"id": 1, "title": "One"})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        PlannerClient("demo", "k", base_url=fake.base_url, http_client=http, clock=clock) as client,
    ):
        for _ in range(5):
            await client.events.get(1)
        assert (1, 0) == (logins, renewals)
        clock.advance(16)  # past half of its life
        await client.events.get(1)
        await client.events.get(1)
    assert (1, 1) == (logins, renewals)
