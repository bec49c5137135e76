"""Seeded chaos in the fake: HTML pages, cut bodies, spikes, revocations, 429 bursts, drops."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
import trio

from planner_async.testing import FakePlanner, Faults, ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

AUTH = "/api/v2/auth"
RENEW = "/api/v2/auth/renew"
EVENTS = "/api/v2/events"
CREDENTIALS = {"username": "demo", "password": "demo-key"}


def make_fake(faults: Faults, **kwargs: Any) -> FakePlanner:
    """A small fake on a manual clock with the given faults and no auth limit."""
    kwargs.setdefault("rate_limits", [])
    return FakePlanner(
        events=30,
        clock=ManualClock(),
        restricted_share=0.0,
        auth_rate_limits=[],
        faults=faults,
        **kwargs,
    )


@asynccontextmanager
async def connect(
    fake: FakePlanner, base_url: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client logged in as demo, in-process (or at ``base_url``)."""
    transport = None if base_url else fake.transport()
    async with httpx.AsyncClient(transport=transport, base_url=base_url or fake.base_url) as client:
        await relogin(client)
        yield client


async def relogin(client: httpx.AsyncClient) -> dict[str, Any]:
    """Log in again and put the new bearer token on the client."""
    session: dict[str, Any] = (await client.post(AUTH, json=CREDENTIALS)).json()
    client.headers["Authorization"] = f"Bearer {session['token']}"
    return session


async def outcome(client: httpx.AsyncClient) -> str:
    """One listing request's fate: its status, "cut" for an unparsable 200, or "drop"."""
    try:
        answer = await client.get(EVENTS, params={"pageSize": 5})
    except httpx.TransportError:
        return "drop"
    if answer.status_code == 200:
        try:
            json.loads(answer.content)
        except ValueError:
            return "cut"
    return str(answer.status_code)


async def test_html_502_pages_are_text_html() -> None:
    """html_rate=1 answers every listing with a text/html 502 page, counted as "html"."""
    fake = make_fake(Faults(html_rate=1.0))
    async with connect(fake) as client:
        answers = [await client.get(EVENTS) for _ in range(3)]
    assert {502} == {a.status_code for a in answers}
    assert answers[0].headers["content-type"].startswith("text/html")
    assert answers[0].text.startswith("<!DOCTYPE html>")
    assert 3 == fake.stats.faults["html"]


async def test_truncated_bodies_are_200_with_cut_json() -> None:
    """truncate_rate=1 answers 200 with half a JSON body and a matching Content-Length."""
    fake = make_fake(Faults(truncate_rate=1.0))
    async with connect(fake) as client:
        answer = await client.get(EVENTS)
    assert 200 == answer.status_code
    assert int(answer.headers["content-length"]) == len(answer.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    assert 1 == fake.stats.faults["truncate"]


@pytest.mark.backends("trio-virtual")
async def test_latency_spikes_delay_some_answers_by_seed() -> None:
    """A spike adds spike_delay to its answer; the spikes counted are the ones recorded."""
    fake = make_fake(Faults(spike_rate=0.3, spike_delay=10.0, seed=4))
    async with connect(fake) as client:
        started = trio.current_time()
        for _ in range(40):
            await client.get(EVENTS)
        elapsed = trio.current_time() - started
    spikes = fake.stats.faults["spike"]
    assert 4 <= spikes <= 25
    assert spikes == sum("spike" in r.faults for r in fake.requests)
    assert elapsed == pytest.approx(10.0 * spikes)


async def test_access_token_revocation_at_a_request_count() -> None:
    """revoke_access_at=3: the third events request gets a 401; a new login works again."""
    fake = make_fake(Faults(revoke_access_at=3))
    async with connect(fake) as client:
        statuses = [(await client.get(EVENTS)).status_code for _ in range(4)]
        await relogin(client)
        after = (await client.get(EVENTS)).status_code
    assert [200, 200, 401, 401] == statuses
    assert 200 == after
    assert 1 == fake.stats.faults["revoke_access"]
    assert ("revoke_access",) == fake.requests[3].faults


async def test_refresh_token_revocation_at_a_request_count() -> None:
    """revoke_refresh_at=2: after the second events request the refresh token is dead."""
    fake = make_fake(Faults(revoke_refresh_at=2))
    async with connect(fake) as client:
        session = await relogin(client)
        first = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
        session = first.json()
        for _ in range(2):
            await client.get(EVENTS)
        second = await client.post(RENEW, json={"refreshToken": session["refreshToken"]})
    assert (200, 401) == (first.status_code, second.status_code)
    assert 1 == fake.stats.faults["revoke_refresh"]


async def test_burst_of_429s_with_retry_after_not_counted_against_limits() -> None:
    """burst_at=2, burst_length=3: requests 2-4 are 429 with Retry-After and cost no quota."""
    fake = make_fake(
        Faults(burst_at=2, burst_length=3, burst_retry_after=2.0), rate_limits=[(100, 60)]
    )
    async with connect(fake) as client:
        answers = [await client.get(EVENTS) for _ in range(5)]
    assert [200, 429, 429, 429, 200] == [a.status_code for a in answers]
    assert "2" == answers[1].headers["retry-after"]
    assert "Throttle Limit Reached" == answers[1].json()["error"]
    assert 3 == fake.stats.faults["burst_429"] == fake.stats.rate_limited
    assert {(100, 60.0): 2} == fake.stats.max_window_usage


async def test_drops_in_process_are_transport_errors() -> None:
    """drop_rate=1 closes the connection: httpx raises RemoteProtocolError; counted as 0."""
    fake = make_fake(Faults(drop_rate=1.0))
    async with connect(fake) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(EVENTS)
    assert 1 == fake.stats.faults["drop"] == fake.stats.dropped
    assert 1 == fake.stats.count("events.list", 0)
    assert 0 == fake.requests[-1].status


async def test_chaos_mix_is_reproducible_and_fully_counted() -> None:
    """The same chaos seed gives the same run; stats.faults sums what the requests suffered."""

    async def run(seed: int) -> tuple[list[str], FakePlanner]:
        fake = make_fake(attrs.evolve(Faults.chaos(seed, requests=100), spike_delay=0.0))
        async with connect(fake) as client:
            seen = []
            for _ in range(200):
                result = await outcome(client)
                if result == "401":
                    await relogin(client)
                seen.append(result)
        return seen, fake

    first, fake = await run(8)
    again, _ = await run(8)
    other, _ = await run(9)
    assert first == again
    assert first != other
    kinds = Counter(kind for r in fake.requests for kind in r.faults)
    assert kinds == fake.stats.faults
    assert first.count("drop") == fake.stats.faults["drop"]
    assert first.count("cut") == fake.stats.faults["truncate"]
    assert first.count("429") == fake.stats.faults["burst_429"] == 5
    assert 1 == fake.stats.faults["revoke_access"] == fake.stats.faults["revoke_refresh"]
    assert fake.stats.faults["error"] >= 3


def test_chaos_positions_are_drawn_from_the_seed() -> None:
    """Faults.chaos puts the revocations and the burst inside the first `requests` requests."""
    plans = [Faults.chaos(seed, requests=50) for seed in range(20)]
    for faults in plans:
        assert faults.burst_at is not None
        assert 2 <= faults.burst_at <= 50
        assert 2 <= faults.revoke_access_at[0] <= 50
    assert len({f.burst_at for f in plans}) > 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoints": {"events"}},
        {"revoke_access_at": 0},
        {"burst_at": 0},
        {"burst_length": 0},
        {"spike_rate": 1.5},
        {"spike_delay": -1},
        {"burst_retry_after": -1},
    ],
)
def test_fault_settings_are_checked(kwargs: dict[str, Any]) -> None:
    """Unknown endpoints, counts below 1 and negative delays are refused."""
    with pytest.raises(ValueError, match=r"unknown|from 1|within|negative"):
        Faults(**kwargs)


def test_chaos_needs_room_for_its_events() -> None:
    """Faults.chaos refuses a horizon too short to place its events in."""
    with pytest.raises(ValueError, match="requests"):
        Faults.chaos(1, requests=5)


@pytest.mark.backends("asyncio")
async def test_chaos_over_a_real_socket_matches_the_stats() -> None:
    """Over uvicorn, drops are socket errors and every fault seen is one counted."""
    pytest.importorskip("uvicorn")
    faults = Faults(drop_rate=0.2, html_rate=0.1, truncate_rate=0.1, error_rate=0.1, seed=3)
    fake = make_fake(faults)
    async with fake.serve() as base_url, connect(fake, base_url) as client:
        seen = Counter([await outcome(client) for _ in range(40)])
    assert seen["drop"] == fake.stats.faults["drop"] > 0
    assert seen["cut"] == fake.stats.faults["truncate"] > 0
    assert seen["502"] >= fake.stats.faults["html"] > 0
    assert sum(seen.values()) == 40
