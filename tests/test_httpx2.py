"""The client's core behaviour over an ``httpx.AsyncClient`` and over an ``httpx2.AsyncClient``.

httpx2 (the maintained fork) has httpx's API but classes of its own; each test runs once
per library, with the client's HTTP client, transports and exceptions all from it.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import pytest

from planner_async import (
    APIConnectionError,
    APITimeoutError,
    PlannerClient,
)
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT, jwt

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

Factory = Callable[..., PlannerClient]


@pytest.fixture(params=["httpx", "httpx2"])
def library(request: pytest.FixtureRequest) -> ModuleType:
    """The HTTP library the client is given a client of."""
    return importlib.import_module(request.param)


@pytest.fixture
async def make(
    library: ModuleType, fake: FakePlanner, clock: ManualClock
) -> AsyncIterator[Factory]:
    """Clients over ``library``'s AsyncClient: on the fake's ASGI app, or on ``transport=``."""
    made: list[tuple[PlannerClient, Any]] = []

    def factory(transport: Any = None, http_options: Any = None, **options: Any) -> PlannerClient:
        transport = transport or library.ASGITransport(app=fake)
        http = library.AsyncClient(transport=transport, **(http_options or {}))
        options.setdefault("clock", clock)
        options.setdefault("sleep", clock.sleep)
        options.setdefault("retry", NO_WAIT)
        client = PlannerClient(
            "demo", "demo-key", base_url=fake.base_url, http_client=http, **options
        )
        made.append((client, http))
        return client

    yield factory
    for client, http in made:
        await client.aclose()
        await http.aclose()


def mock_api(library: ModuleType, events: Callable[[Any], Any]) -> Any:
    """A ``library.MockTransport``: logins succeed, ``/events`` calls go to ``events``."""

    def handle(request: Any) -> Any:
        if request.url.path.endswith("/auth"):
            session = {"userId": 1, "productId": 2, "email": "demo@example.com"}
            tokens = {"token": jwt(time.time() + 900), "refreshToken": "refresh-1"}
            return library.Response(200, json={**session, **tokens})
        return events(request)

    return library.MockTransport(handle)


async def test_get_and_list_read_the_fakes_events(make: Factory, fake: FakePlanner) -> None:
    """An event by id and the whole listing come back as over httpx."""
    client = make()
    ids = fake.visible_ids()
    assert ids[3] == (await client.events.get(ids[3])).id
    assert ids == [event.id async for event in client.events.list(page_size=100)]
    assert 1 == client.stats.logins


async def test_a_401_renews_the_token_once_and_resends(make: Factory, fake: FakePlanner) -> None:
    """A revoked access token: the call renews (no new login) and succeeds."""
    client = make()
    ids = fake.visible_ids()
    await client.events.get(ids[0])
    assert 1 == fake.revoke_access_tokens()
    assert ids[1] == (await client.events.get(ids[1])).id
    assert (1, 1) == (client.stats.logins, client.stats.renewals)
    assert 1 == fake.stats.count("events.get", 401)


async def test_a_429_is_waited_out_and_retried(make: Factory, fake: FakePlanner) -> None:
    """A 429 with Retry-After is retried once and the call succeeds."""
    client = make()
    ids = fake.visible_ids()
    await client.authenticate()
    fake.fail_next(1, status=429, retry_after=2, endpoint="events.get")
    assert ids[0] == (await client.events.get(ids[0])).id
    assert (1, 1) == (client.stats.rate_limited, client.stats.retries)


@pytest.mark.parametrize(
    ("name", "expected", "slot_kept"),
    [
        ("ConnectError", APIConnectionError, False),
        ("RemoteProtocolError", APIConnectionError, True),
        ("ReadTimeout", APITimeoutError, True),
    ],
)
async def test_transport_errors_map_to_ours(
    make: Factory,
    library: ModuleType,
    name: str,
    expected: type[Exception],
    slot_kept: bool,
) -> None:
    """The library's own transport errors become ours, the cause kept; a failure before
    sending gives the quota slot back, one after keeps it."""
    error = getattr(library, name)

    def fail(request: Any) -> Any:
        raise error("boom", request=request)

    client = make(transport=mock_api(library, fail), max_retries=0, rate_limits=[(50, 60.0)])
    with pytest.raises(APIConnectionError) as caught:
        await client.events.get(7)
    assert expected is type(caught.value)
    assert isinstance(caught.value.__cause__, error)
    assert "planner.test" in str(caught.value)
    assert int(slot_kept) == client.rate_limit.windows[0].used  # the login has its own limit


async def test_timeouts_reach_the_library(make: Factory, library: ModuleType) -> None:
    """The client's own timeout applies by default; a per-call timeout wins for that call."""
    seen: list[dict[str, float]] = []

    def record(request: Any) -> Any:
        seen.append(request.extensions["timeout"])
        return library.Response(200, json={"id": 7, "title": "Seven"})

    client = make(transport=mock_api(library, record), http_options={"timeout": 7.0})
    await client.events.get(7)
    await client.events.get(7, timeout=2.5)
    assert [7.0, 2.5] == [timeout["read"] for timeout in seen]
    assert [7.0, 2.5] == [timeout["pool"] for timeout in seen]


def test_other_http_clients_are_refused() -> None:
    """Anything but an httpx or httpx2 AsyncClient is a TypeError naming both."""
    with pytest.raises(TypeError, match=r"httpx\.AsyncClient or an httpx2\.AsyncClient"):
        PlannerClient("demo", "demo-key", http_client=object())  # type: ignore[arg-type]
