"""The fake's test helpers: scripted handlers, fail_next, recorded requests, tokens, clock."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from planner_async.testing import (
    FakePlanner,
    FakeRequest,
    ManualClock,
    RateLimiter,
    Reply,
    TokenAuthority,
    generate_events,
)
from planner_async.testing._data import _VENUES

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

AUTH = "/api/v2/auth"
RENEW = "/api/v2/auth/renew"
EVENTS = "/api/v2/events"
CREDENTIALS = {"username": "demo", "password": "demo-key"}


def make_fake(**kwargs: Any) -> FakePlanner:
    """A small fake on a manual clock without restricted events or rate limits."""
    kwargs.setdefault("events", 20)
    kwargs.setdefault("clock", ManualClock())
    return FakePlanner(restricted_share=0.0, rate_limits=[], auth_rate_limits=[], **kwargs)


@asynccontextmanager
async def connect(fake: FakePlanner) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the fake in-process."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        yield client


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    """Log in as demo, put the bearer token on the client, return the session."""
    session: dict[str, Any] = (await client.post(AUTH, json=CREDENTIALS)).json()
    client.headers["Authorization"] = f"Bearer {session['token']}"
    return session


async def test_script_handler_answers_dynamically_and_can_pass() -> None:
    """A handler sees each request and answers it, or returns None to let the endpoint answer."""
    fake = make_fake()
    seen: list[str | None] = []

    def handler(request: FakeRequest) -> Reply | None:
        seen.append(request.param("page"))
        if request.param("page") == "2":
            return Reply(503, {"error": "busy", "message": "page 2 is busy"}, {"Retry-After": "3"})
        return None

    fake.script("events.list", handler, times=None)
    async with connect(fake) as client:
        await login(client)
        first = await client.get(EVENTS, params={"page": 1})
        second = await client.get(EVENTS, params={"page": 2})
        again = await client.get(EVENTS, params={"page": 2})
    assert (200, 503, 503) == (first.status_code, second.status_code, again.status_code)
    assert "3" == second.headers["retry-after"]
    assert "page 2 is busy" == second.json()["message"]
    assert ["1", "2", "2"] == seen
    assert [False, True, True] == [r.scripted for r in fake.requests[1:]]


@pytest.mark.parametrize(
    ("returned", "status", "body"),
    [
        (418, 418, {"error": "Error", "message": "Scripted 418 answer."}),
        ((200, {"items": []}), 200, {"items": []}),
        ((201, b"raw", {"X-Test": "1"}), 201, None),
    ],
)
async def test_script_handler_return_shapes(returned: Any, status: int, body: Any) -> None:
    """A handler may return a status, (status, body) or (status, body, headers)."""
    fake = make_fake()

    async def handler(request: FakeRequest) -> Any:
        await anyio.lowlevel.checkpoint()
        return returned

    fake.script("/api/v2/events", handler)
    async with connect(fake) as client:
        answer = await client.get(f"{EVENTS}/1")
    assert status == answer.status_code
    if body is not None:
        assert body == answer.json()
    else:
        assert (b"raw", "1") == (answer.content, answer.headers["x-test"])


async def test_script_handler_with_a_bad_return_fails_loudly() -> None:
    """A handler returning nonsense raises TypeError instead of answering something."""
    fake = make_fake()

    def handler(request: FakeRequest) -> Any:
        return "not a reply"

    fake.script("other", handler)
    async with connect(fake) as client:
        with pytest.raises(TypeError, match="script handler"):
            await client.get("/nowhere")


def test_script_arguments_are_checked() -> None:
    """Unknown targets, bad times, and headers next to a handler are refused."""
    fake = make_fake()
    with pytest.raises(ValueError, match="target"):
        fake.script("events", 500)
    with pytest.raises(ValueError, match="times"):
        fake.script("auth", 500, times=0)
    with pytest.raises(TypeError, match="handler"):
        fake.script("auth", lambda r: 500, headers={"A": "b"})


async def test_fail_next_fails_exactly_n_answers_then_recovers() -> None:
    """fail_next(2, status=429, retry_after=1.5) answers two 429s, then the real endpoint."""
    fake = make_fake()
    async with connect(fake) as client:
        await login(client)
        fake.fail_next(2, status=429, retry_after=1.5, endpoint="events.get")
        event_id = fake.visible_ids()[0]
        answers = [await client.get(f"{EVENTS}/{event_id}") for _ in range(3)]
    assert [429, 429, 200] == [a.status_code for a in answers]
    assert "1.5" == answers[0].headers["retry-after"]
    assert "Throttle Limit Reached" == answers[0].json()["error"]
    assert 2 == fake.stats.rate_limited


async def test_fail_next_without_endpoint_hits_any_request_and_can_be_cleared() -> None:
    """Without an endpoint every request counts; clear_scripts drops what is left."""
    fake = make_fake()
    fake.fail_next(3)
    async with connect(fake) as client:
        assert 503 == (await client.post(AUTH, json=CREDENTIALS)).status_code
        fake.clear_scripts()
        assert 200 == (await client.post(AUTH, json=CREDENTIALS)).status_code
    with pytest.raises(ValueError, match="error status"):
        fake.fail_next(1, status=200)
    with pytest.raises(ValueError, match="endpoint"):
        fake.fail_next(1, endpoint="events")


async def test_requests_are_recorded_without_secrets() -> None:
    """fake.requests has method, path, params, bearer flag and status, never a secret."""
    fake = make_fake()
    async with connect(fake) as client:
        session = await login(client)
        await client.get(EVENTS, params={"page": 1, "q": "budget"})
        await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        await client.get("/nowhere")
    first, listing, renewal, lost = fake.requests
    assert ("POST", AUTH, "auth", False, 200) == (
        first.method,
        first.path,
        first.endpoint,
        first.bearer,
        first.status,
    )
    assert {"page": ("1",), "q": ("budget",)} == listing.params
    assert (True, "events.list") == (listing.bearer, listing.endpoint)
    assert [1, 2, 3, 4] == [r.number for r in fake.requests]
    assert ("other", 404) == (lost.endpoint, lost.status)
    shown = repr(fake.requests) + str(
        [vars(r) if hasattr(r, "__dict__") else r for r in fake.requests]
    )
    for secret in ("demo-key", session["token"], session["refreshToken"], renewal.path + "?"):
        assert secret not in shown
    fake.clear_requests()
    assert [] == fake.requests


async def test_revoke_access_tokens_per_user_keeps_refresh_tokens() -> None:
    """Revoked access tokens get 401; the refresh token still renews."""
    fake = make_fake(users={"demo": "demo-key", "ann": "ann-key"})
    async with connect(fake) as client:
        session = await login(client)
        assert 0 == fake.revoke_access_tokens("ann")
        assert 200 == (await client.get(EVENTS)).status_code
        assert 1 == fake.revoke_access_tokens("demo")
        rejected = await client.get(EVENTS)
        renewed = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
    assert 401 == rejected.status_code
    assert "revoked" in rejected.json()["message"]
    assert 200 == renewed.status_code


async def test_manual_clock_sleep_advances_without_real_time() -> None:
    """ManualClock.sleep moves the clock by the given seconds and returns at once."""
    clock = ManualClock(start=0.0)
    started = time.monotonic()
    await clock.sleep(3600)
    await clock.sleep(-5)
    assert 3600.0 == clock()
    assert time.monotonic() - started < 0.5


async def test_manual_clock_sleep_yields_to_other_tasks() -> None:
    """A loop of manual-clock sleeps lets another task run (it would spin forever otherwise)."""
    clock = ManualClock(start=0.0)
    done = anyio.Event()

    async def other() -> None:
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(other)
            while not done.is_set():
                await clock.sleep(1)
    assert clock() >= 1.0


def test_exposed_parts_are_exported_classes() -> None:
    """fake.tokens and fake.limiter are the documented, exported classes."""
    fake = make_fake()
    assert isinstance(fake.tokens, TokenAuthority)
    assert isinstance(fake.limiter, RateLimiter)
    assert isinstance(fake.auth_limiter, RateLimiter)


def test_venues_fit_categories() -> None:
    """Every generated event's venue is one its first category takes place in."""
    events = generate_events(400, seed=11)
    for event in events:
        location = event.get("location")
        if location:
            assert location["venue"] in _VENUES[event["categories"][0]], event["title"]
    assert not any(
        "Stadium" in (e.get("location") or {}).get("venue", "")
        for e in events
        if e["categories"][0] == "Politics"
    )


def test_scripted_json_body_round_trips() -> None:
    """Reply encodes a mapping body as JSON with a JSON content type."""
    answer = Reply(200, {"a": 1}).answer()
    assert ("content-type", "application/json") in answer.headers
    assert {"a": 1} == json.loads(answer.body)
