"""Events: paging, filters on the wire, argument checks, single gets, client lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime

import anyio
import httpx
import pytest

from planner_async import (
    Event,
    EventPage,
    NotFoundError,
    PermissionDeniedError,
    PlannerClient,
)
from planner_async.testing import FakePlanner

from support import BASE, NO_WAIT, ClientFactory, mocked_api

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def listed_ids(fake: FakePlanner) -> list[int]:
    """The ids the fake lists by default: visible events sorted by start, then id."""
    return fake.visible_ids("demo")


async def test_paging_yields_every_event_once_in_order(
    fake: FakePlanner, make_client: ClientFactory
):
    """Iterating a multi-page listing yields each event once, in the server's order."""
    client = make_client()
    ids = [event.id async for event in client.events.list(page_size=37)]
    assert listed_ids(fake) == ids
    pages = -(-len(ids) // 37)
    assert pages == fake.stats.count("events.list", 200)


async def test_pages_exposes_the_page_metadata(fake: FakePlanner, make_client: ClientFactory):
    """``.pages()`` yields EventPage objects numbered 1..totalPages."""
    client = make_client()
    pages = [page async for page in client.events.list(page_size=100).pages()]
    assert all(isinstance(page, EventPage) for page in pages)
    assert list(range(1, len(pages) + 1)) == [page.page for page in pages]
    assert pages[0].total_pages == len(pages)
    assert sum(len(page.items) for page in pages) == pages[0].total_items


async def test_empty_result_costs_one_request(fake: FakePlanner, make_client: ClientFactory):
    """A listing that matches nothing yields nothing after a single request."""
    client = make_client()
    assert [] == [e async for e in client.events.list(query="no event says this zzqx")]
    assert 1 == fake.stats.count("events.list", 200)


async def test_breaking_out_early_stops_fetching(fake: FakePlanner, make_client: ClientFactory):
    """Leaving the loop after the first page sends no request for the second."""
    client = make_client()
    async for _event in client.events.list(page_size=10):
        break
    assert 1 == fake.stats.count("events.list", 200)


async def test_filters_reach_the_server_as_the_contract_names_them():
    """Every argument of events.list travels under its wire name and format."""
    router, http = mocked_api()
    route = router.get("/events").mock(
        return_value=httpx.Response(
            200, json={"items": [], "page": 1, "pageSize": 20, "totalItems": 0, "totalPages": 0}
        )
    )
    client = PlannerClient("demo", "demo-key", base_url=BASE, http_client=http, retry=NO_WAIT)
    listing = client.events.list(
        start=date(2026, 12, 1),
        end=datetime(2026, 12, 31, 18, 0, tzinfo=UTC),
        query="budget",
        categories=["Politics", "Economy"],
        country="gb",
        updated_since=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        sort="-updatedAt",
        page_size=20,
    )
    assert [] == [e async for e in listing]
    params = route.calls.last.request.url.params
    assert "2026-12-01" == params["from"]
    assert "2026-12-31T18:00:00Z" == params["to"]
    assert "budget" == params["q"]
    assert ["Politics", "Economy"] == params.get_list("category")
    assert "GB" == params["country"]
    assert "2026-11-01T09:30:00Z" == params["updatedSince"]
    assert "-updatedAt" == params["sort"]
    assert "20" == params["pageSize"]
    assert "1" == params["page"]
    assert route.calls.last.request.headers["authorization"].startswith("Bearer ")
    await http.aclose()


async def test_filters_select_on_the_fake(fake: FakePlanner, make_client: ClientFactory):
    """Filtering by country and category returns only matching events."""
    client = make_client()
    events = [e async for e in client.events.list(country="GB", categories=["Politics"])]
    assert events
    for event in events:
        assert event.location is not None
        assert "GB" == event.location.country
        assert "Politics" in event.categories


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"start": date(2026, 12, 2), "end": date(2026, 12, 1)}, ValueError, "after"),
        ({"page_size": 0}, ValueError, "page_size"),
        ({"page_size": 201}, ValueError, "page_size"),
        ({"page_size": "50"}, TypeError, "page_size"),
        ({"start": datetime(2026, 12, 1, 9, 0)}, ValueError, "naive"),
        ({"updated_since": datetime(2026, 12, 1)}, ValueError, "naive"),
        ({"updated_since": date(2026, 12, 1)}, TypeError, "updated_since"),
        ({"start": "2026-12-01"}, TypeError, "start"),
        ({"categories": "Politics"}, TypeError, "categories"),
        ({"categories": ["Politics", 3]}, TypeError, "category"),
        ({"country": "GBR"}, ValueError, "country"),
        ({"sort": "title"}, ValueError, "sort"),
        ({"query": 5}, TypeError, "query"),
    ],
)
async def test_bad_arguments_raise_before_any_request(
    fake: FakePlanner, make_client: ClientFactory, kwargs, error, words
):
    """Bad arguments raise a TypeError/ValueError that names the problem, and cost nothing."""
    client = make_client()
    with pytest.raises(error, match=words):
        client.events.list(**kwargs)
    assert 0 == fake.stats.total_requests


@pytest.mark.parametrize(("bad", "error"), [("7", TypeError), (True, TypeError), (0, ValueError)])
async def test_bad_event_id_raises_before_any_request(
    fake: FakePlanner, make_client: ClientFactory, bad, error
):
    """events.get rejects non-int and non-positive ids without a request."""
    with pytest.raises(error):
        await make_client().events.get(bad)
    assert 0 == fake.stats.total_requests


async def test_get_returns_a_typed_event(fake: FakePlanner, make_client: ClientFactory):
    """events.get returns the Event with its fields structured."""
    event_id = fake.visible_ids("demo")[0]
    event = await make_client().events.get(event_id)
    assert isinstance(event, Event)
    assert event_id == event.id
    assert event.title


async def test_get_unknown_and_restricted(fake: FakePlanner, make_client: ClientFactory):
    """An unknown id raises NotFoundError, a restricted one PermissionDeniedError."""
    client = make_client()
    with pytest.raises(NotFoundError):
        await client.events.get(10_000_000)
    restricted = min(fake.restricted_ids)
    with pytest.raises(PermissionDeniedError):
        await client.events.get(restricted)
    assert 1 == fake.stats.count("events.get", 404)
    assert 1 == fake.stats.count("events.get", 403)


def test_construction_needs_no_event_loop():
    """A module-level client can be built with no running loop."""
    client = PlannerClient("u", "k")
    assert "PlannerClient(username='u'" in repr(client)
    assert "k'" not in repr(client)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"username": ""}, ValueError),
        ({"api_key": None}, TypeError),
        ({"base_url": "ftp://x"}, ValueError),
        ({"max_retries": -1}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"refresh_margin": -5}, ValueError),
        ({"max_wait": -1}, ValueError),
        ({"rate_limits": [(0, 60)]}, ValueError),
        ({"http_client": object()}, TypeError),
    ],
)
def test_bad_constructor_arguments(kwargs, error):
    """The constructor rejects bad settings with a typed error."""
    args = {"username": "u", "api_key": "k", **kwargs}
    with pytest.raises(error):
        PlannerClient(args.pop("username"), args.pop("api_key"), **args)


def test_from_env(monkeypatch: pytest.MonkeyPatch):
    """from_env reads the three variables, and names the missing ones."""
    monkeypatch.delenv("PLANNER_USERNAME", raising=False)
    monkeypatch.delenv("PLANNER_API_KEY", raising=False)
    with pytest.raises(ValueError, match="PLANNER_USERNAME, PLANNER_API_KEY"):
        PlannerClient.from_env()
    monkeypatch.setenv("PLANNER_USERNAME", "ann")
    monkeypatch.setenv("PLANNER_API_KEY", "key")
    monkeypatch.setenv("PLANNER_BASE_URL", "http://localhost:9999")
    client = PlannerClient.from_env()
    assert "PlannerClient(username='ann', base_url='http://localhost:9999')" == repr(client)


async def test_shared_http_client_is_left_open(fake: FakePlanner, monkeypatch: pytest.MonkeyPatch):
    """aclose() does not close an http_client passed in, and closes one it made."""
    closed: list[httpx.AsyncClient] = []
    real_aclose = httpx.AsyncClient.aclose

    async def spy(self: httpx.AsyncClient) -> None:
        closed.append(self)
        await real_aclose(self)

    monkeypatch.setattr(httpx.AsyncClient, "aclose", spy)
    http = httpx.AsyncClient(transport=fake.transport())
    async with PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http) as c:
        await c.authenticate()
    assert [] == closed
    assert not http.is_closed
    await http.aclose()
    own = PlannerClient("demo", "demo-key")
    await own.aclose()
    assert 2 == len(closed)  # the test's own, then the one the client made
    assert closed[1] is not http
    assert closed[1].is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await own.events.get(1)


async def test_shared_http_client_event_hooks_run_and_are_not_mutated(fake: FakePlanner):
    """The shared client's hooks see our requests; its default headers stay untouched."""
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    http = httpx.AsyncClient(transport=fake.transport(), event_hooks={"request": [hook]})
    async with PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http) as c:
        await c.authenticate()
    assert ["/api/v2/auth"] == seen
    assert "authorization" not in http.headers
    await http.aclose()


def test_one_client_on_two_event_loops_raises_clearly(fake: FakePlanner):
    """Using a client on a second event loop raises a clear RuntimeError, not a hang."""
    http = httpx.AsyncClient(transport=fake.transport())
    client = PlannerClient("demo", "demo-key", base_url=fake.base_url, http_client=http)

    async def use() -> None:
        await client.authenticate()

    anyio.run(use)
    with pytest.raises(RuntimeError, match="another event loop"):
        anyio.run(use)
