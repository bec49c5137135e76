"""Shared fixtures: an in-process fake server and clients wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from planner_async import PlannerClient
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT, ClientFactory


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio unless a module asks for more."""
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    """A wall clock that only moves when a test moves it."""
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakePlanner:
    """A fake server with 500 events, on the manual clock, with no rate limits in the way."""
    return FakePlanner(events=500, seed=3, clock=clock, rate_limits=[], auth_rate_limits=[])


@pytest.fixture
async def make_client(fake: FakePlanner, clock: ManualClock) -> AsyncIterator[ClientFactory]:
    """Build clients on ``fake`` over an in-process transport; all are closed at the end."""
    made: list[tuple[PlannerClient, httpx.AsyncClient]] = []

    def factory(**kwargs: Any) -> PlannerClient:
        http = httpx.AsyncClient(transport=kwargs.pop("transport", None) or fake.transport())
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("retry", NO_WAIT)
        client = PlannerClient(
            kwargs.pop("username", "demo"),
            kwargs.pop("api_key", "demo-key"),
            base_url=fake.base_url,
            http_client=http,
            **kwargs,
        )
        made.append((client, http))
        return client

    yield factory
    for client, http in made:
        await client.aclose()
        await http.aclose()
