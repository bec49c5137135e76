"""Retries, backoff, Retry-After and error mapping, with respx routes under the client.

Tests that wait out a Retry-After run on trio with a MockClock, so no wait is slept for real.
"""

from __future__ import annotations

import email.utils
import itertools
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import respx
import trio
import trio.testing

from planner_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlannerClient,
    RateLimitError,
    RetryDetails,
    RetryPolicy,
    ServerError,
)

from support import BASE, NO_WAIT, event_json, mocked_api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> AsyncIterator[tuple[respx.MockRouter, httpx.AsyncClient]]:
    """A mocked API and the httpx client that reaches it."""
    router, http = mocked_api()
    yield router, http
    await http.aclose()


def client_for(http: httpx.AsyncClient, **kwargs: object) -> PlannerClient:
    """A client on the mocked API with zero backoff waits unless told otherwise."""
    kwargs.setdefault("retry", NO_WAIT)
    return PlannerClient("demo", "demo-key", base_url=BASE, http_client=http, **kwargs)  # type: ignore[arg-type]


@pytest.mark.backends("trio-virtual")
async def test_429_with_retry_after_seconds_is_waited_out(api):
    """A 429 with ``Retry-After: 120`` is retried once 120 s have passed."""
    router, http = api
    route = router.get("/events/7").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}, json={"error": "Throttle"}),
            httpx.Response(200, json=event_json(7)),
        ]
    )
    client = client_for(http)
    started = trio.current_time()
    event = await client.events.get(7)
    assert 7 == event.id
    assert 2 == route.call_count
    assert trio.current_time() - started >= 120
    assert 1 == client.stats.rate_limited


@pytest.mark.backends("trio-virtual")
async def test_429_with_retry_after_http_date_is_waited_out(api):
    """A 429 whose Retry-After is an HTTP date waits until that date."""
    router, http = api
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    route = router.get("/events/7").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": when}),
            httpx.Response(200, json=event_json(7)),
        ]
    )
    client = client_for(http)
    started = trio.current_time()
    await client.events.get(7)
    assert 2 == route.call_count
    assert 28 <= trio.current_time() - started <= 31


@pytest.mark.backends("trio-virtual")
async def test_429_pauses_every_caller_of_the_client(api):
    """After one 429, no request of the client is sent before its Retry-After has passed."""
    router, http = api
    sent_at: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "60"})])

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(trio.current_time())
        return next(answers, None) or httpx.Response(200, json=event_json(1))

    router.get("/events/1").mock(side_effect=handler)
    client = client_for(http, coalesce=False)  # six requests, not one shared
    await client.authenticate()
    start = trio.current_time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.events.get, 1)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(5):
            tg.start_soon(client.events.get, 1)
    assert 7 == len(sent_at)  # the 429, its retry, and five others
    assert all(t - start >= 60 for t in sent_at[1:])


async def test_503_then_success(api):
    """A 503 is retried and the call succeeds."""
    router, http = api
    route = router.get("/events/7").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=event_json(7))]
    )
    assert 7 == (await client_for(http).events.get(7)).id
    assert 2 == route.call_count


async def test_connection_reset_then_success(api):
    """A reset connection is retried and the call succeeds."""
    router, http = api
    route = router.get("/events/7").mock(
        side_effect=[
            httpx.ReadError("connection reset by peer"),
            httpx.RemoteProtocolError("server disconnected"),
            httpx.Response(200, json=event_json(7)),
        ]
    )
    async with client_for(http) as client:
        assert 7 == (await client.events.get(7)).id
    assert 3 == route.call_count


async def test_timeout_is_retried_then_raised(api):
    """Timeouts are retried up to max_retries, then raise APITimeoutError."""
    router, http = api
    route = router.get("/events/7").mock(side_effect=httpx.ReadTimeout("slow"))
    async with client_for(http, max_retries=2) as client:
        with pytest.raises(APITimeoutError):
            await client.events.get(7)
    assert 3 == route.call_count


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (403, PermissionDeniedError), (404, NotFoundError)],
)
async def test_client_errors_are_not_retried(api, status, error):
    """400, 403 and 404 raise their class after exactly one request."""
    router, http = api
    route = router.get("/events/7").mock(
        return_value=httpx.Response(status, json={"error": "Nope", "message": "not for you"})
    )
    with pytest.raises(error) as info:
        await client_for(http).events.get(7)
    assert 1 == route.call_count
    assert status == info.value.status_code
    assert "not for you" == info.value.message
    assert "Nope" == info.value.error


async def test_retries_are_bounded_by_max_retries(api):
    """A persistent 500 is tried 1 + max_retries times, then raises ServerError."""
    router, http = api
    route = router.get("/events/7").mock(return_value=httpx.Response(500))
    with pytest.raises(ServerError):
        await client_for(http, max_retries=3).events.get(7)
    assert 4 == route.call_count


async def test_max_retries_zero_disables_retries(api):
    """With max_retries=0 a 503 raises after one request."""
    router, http = api
    route = router.get("/events/7").mock(return_value=httpx.Response(503))
    with pytest.raises(ServerError):
        await client_for(http, max_retries=0).events.get(7)
    assert 1 == route.call_count


async def test_html_error_page_maps_to_the_status_class(api):
    """An HTML page from a proxy still gives ServerError, with a short snippet of it."""
    router, http = api
    page = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>"
    router.get("/events/7").mock(
        return_value=httpx.Response(502, text=page, headers={"content-type": "text/html"})
    )
    with pytest.raises(ServerError) as info:
        await client_for(http, max_retries=0).events.get(7)
    assert 502 == info.value.status_code
    assert "502 Bad Gateway" in info.value.message
    assert len(info.value.message) < 300


async def test_truncated_success_body_is_retried_then_raised(api):
    """A 200 whose JSON is cut is retried, and raises APIResponseValidationError at the end."""
    router, http = api
    route = router.get("/events/7").mock(
        return_value=httpx.Response(200, content=b'{"id": 7, "tit')
    )
    with pytest.raises(APIResponseValidationError):
        await client_for(http, max_retries=1).events.get(7)
    assert 2 == route.call_count


async def test_connection_errors_exhaust_into_api_connection_error(api):
    """A connection that always fails raises APIConnectionError after the retries."""
    router, http = api
    router.get("/events/7").mock(side_effect=httpx.ConnectError("refused"))
    async with client_for(http, max_retries=1) as client:
        with pytest.raises(APIConnectionError):
            await client.events.get(7)


@pytest.mark.backends("trio-virtual")
async def test_backoff_waits_grow_and_are_capped(api):
    """Without jitter, waits double from wait_initial and stop at wait_max."""
    router, http = api
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(trio.current_time())
        return httpx.Response(503)

    router.get("/events/7").mock(side_effect=handler)
    policy = RetryPolicy(max_retries=5, wait_initial=1.0, wait_max=4.0, wait_jitter=False)
    with pytest.raises(ServerError):
        await client_for(http, retry=policy).events.get(7)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(sent_at)]
    assert [1.0, 2.0, 4.0, 4.0, 4.0] == gaps


@pytest.mark.backends("trio-virtual")
async def test_max_wait_raises_at_once_without_a_request(api):
    """With max_wait=5, a 60 s cool-down makes the next call raise RateLimitError at once."""
    router, http = api
    route = router.get("/events/7").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "60"})
    )
    client = client_for(http, max_wait=5.0, max_retries=0)
    with pytest.raises(RateLimitError):
        await client.events.get(7)
    started = trio.current_time()
    with pytest.raises(RateLimitError) as info:
        await client.events.get(7)
    assert 1 == route.call_count
    assert started == trio.current_time()
    assert info.value.retry_after is not None
    assert 55 <= info.value.retry_after <= 60


async def test_retry_after_beyond_max_retry_after_is_not_waited(api):
    """A Retry-After longer than the policy's max_retry_after raises instead of waiting."""
    router, http = api
    route = router.get("/events/7").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "86400"})
    )
    with pytest.raises(RateLimitError) as info:
        await client_for(http).events.get(7)
    assert 1 == route.call_count
    assert 86400 == info.value.retry_after


async def test_on_retry_hook_sees_each_retry(api):
    """on_retry is called once per retry with the attempt, the wait and the reason."""
    router, http = api
    router.get("/events/7").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(502),
            httpx.Response(200, json=event_json(7)),
        ]
    )
    seen: list[RetryDetails] = []
    policy = RetryPolicy(wait_initial=0.0, wait_max=0.0)
    await client_for(http, retry=policy, on_retry=seen.append).events.get(7)
    assert [1, 2] == [d.attempt for d in seen]
    assert ["/events/7", "/events/7"] == [d.path for d in seen]
    assert "503" in seen[0].reason
    assert all(0.0 == d.wait for d in seen)
