"""The fake's events change while listings go on: add, update, delete, page hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from planner_async import Event
from planner_async.testing import FakePlanner, FakeRequest, ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

T0 = 2_000_000_000.0  # after every generated updatedAt
EVENTS = "/api/v2/events"


def make_fake(count: int = 30, **kwargs: Any) -> FakePlanner:
    """A fake on a manual clock with no restricted events and no rate limits."""
    kwargs.setdefault("clock", ManualClock(T0))
    return FakePlanner(
        events=count, seed=5, restricted_share=0.0, rate_limits=[], auth_rate_limits=[], **kwargs
    )


@asynccontextmanager
async def session(fake: FakePlanner) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the fake, logged in as demo."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        answer = await client.post(
            "/api/v2/auth", json={"username": "demo", "password": "demo-key"}
        )
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        yield client


async def listing(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page after page (pageSize 10)."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = (await client.get(EVENTS, params={"pageSize": 10, "page": page, **params})).json()
        items.extend(body["items"])
        if page >= body["totalPages"]:
            return items
        page += 1


def instant(text: str) -> float:
    """Epoch seconds of a wire date-time."""
    return datetime.fromisoformat(text).timestamp()


async def test_update_moves_updated_at_to_the_clock_and_shows_in_listings() -> None:
    """An update stamps updatedAt with the fake clock's now; get and updatedSince see it."""
    clock = ManualClock(T0)
    fake = make_fake(clock=clock)
    target = fake.visible_ids()[3]
    clock.advance(100)
    changed = fake.update_event(target, title="Changed")
    assert T0 + 100 == instant(changed["updatedAt"])
    async with session(fake) as client:
        got = (await client.get(f"{EVENTS}/{target}")).json()
        since = datetime.fromtimestamp(T0 + 50, UTC).isoformat()
        recent = await listing(client, updatedSince=since)
    assert "Changed" == got["title"]
    assert [target] == [e["id"] for e in recent]


async def test_versions_strictly_increase_even_when_the_clock_stands_still() -> None:
    """Three updates at one instant give three different, increasing updatedAt values."""
    fake = make_fake()
    target = fake.visible_ids()[0]
    stamps = [fake.update_event(target, title=f"v{n}")["updatedAt"] for n in range(3)]
    assert sorted(set(stamps), key=instant) == stamps
    assert instant(stamps[2]) - instant(stamps[0]) == pytest.approx(0.002, abs=1e-4)


def test_an_explicit_updated_at_must_move_forward() -> None:
    """A caller-chosen updatedAt is kept when later than the current one, refused otherwise."""
    fake = make_fake()
    target = fake.visible_ids()[0]
    later = "2099-01-01T00:00:00Z"
    assert later == fake.update_event(target, updatedAt=later)["updatedAt"]
    with pytest.raises(ValueError, match="later"):
        fake.update_event(target, updatedAt="2000-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="id"):
        fake.update_event(target, id=1)
    with pytest.raises(KeyError):
        fake.update_event(1, title="no such event")


async def test_sort_by_updated_at_puts_the_changed_event_last() -> None:
    """After an update, sort=updatedAt lists that event last and -updatedAt first."""
    clock = ManualClock(T0)
    fake = make_fake(clock=clock)
    target = fake.visible_ids()[5]
    clock.advance(1)
    fake.update_event(target, title="Newest")
    async with session(fake) as client:
        ascending = await listing(client, sort="updatedAt")
        descending = await listing(client, sort="-updatedAt")
    assert target == ascending[-1]["id"]
    assert target == descending[0]["id"]
    assert fake.visible_ids(sort="updatedAt")[-1] == target


async def test_add_and_delete_change_get_and_listing() -> None:
    """An added event is listed and got; a deleted one answers 404 and leaves the listing."""
    fake = make_fake(count=5)
    added = fake.add_event(title="Fresh", startDate="2026-06-01")
    gone = fake.visible_ids()[0]
    fake.delete_event(gone)
    async with session(fake) as client:
        ids = [e["id"] for e in await listing(client)]
        assert 404 == (await client.get(f"{EVENTS}/{gone}")).status_code
        assert "Fresh" == (await client.get(f"{EVENTS}/{added['id']}")).json()["title"]
    assert added["id"] in ids
    assert gone not in ids
    assert 5 == len(fake.events)
    assert fake.event(gone) is None


def test_add_event_fills_id_and_stamps_and_refuses_duplicates() -> None:
    """A new event gets the next id and the clock's time; an existing id is refused."""
    fake = FakePlanner(events=[{"id": 10, "title": "a"}], clock=ManualClock(T0))
    added = fake.add_event({"title": "b"})
    assert 11 == added["id"]
    assert T0 == instant(added["updatedAt"])
    assert added["createdAt"] == added["updatedAt"]
    with pytest.raises(ValueError, match="exists"):
        fake.add_event(id=10)


def test_restricted_added_event_is_hidden() -> None:
    """add_event(restricted=True) makes the event invisible to listings."""
    fake = FakePlanner(events=0, clock=ManualClock(T0))
    shown = fake.add_event(id=1)["id"]
    hidden = fake.add_event(id=2, restricted=True)["id"]
    assert [shown] == fake.visible_ids()
    assert hidden in fake.restricted_ids


def test_seeding_takes_event_models_and_wire_dicts() -> None:
    """FakePlanner(events=...) accepts Event models next to wire dicts."""
    model = Event(id=3, title="Model", start=datetime(2026, 5, 1, 9, tzinfo=UTC))
    fake = FakePlanner(events=[model, {"id": 4, "title": "Dict"}], restricted_share=0)
    assert "2026-05-01T09:00:00Z" == fake.event(3)["startDate"]  # type: ignore[index]
    assert [3, 4] == sorted(fake.visible_ids())
    with pytest.raises(ValueError, match="integer 'id'"):
        FakePlanner(events=[{"title": "no id"}])
    with pytest.raises(TypeError):
        FakePlanner(events=[object()])


def test_visible_ids_knows_its_accounts_and_sorts() -> None:
    """visible_ids refuses an unknown account and an unknown sort."""
    fake = make_fake()
    with pytest.raises(ValueError, match="account"):
        fake.visible_ids("mallory")
    with pytest.raises(ValueError, match="sort"):
        fake.visible_ids(sort="title")


async def test_page_hook_changes_data_between_pages() -> None:
    """A hook that deletes the first listed event after page 1 shifts page 2 (offset paging)."""
    fake = make_fake(count=20)
    before = fake.visible_ids()
    seen_pages: list[str | None] = []

    @fake.on_page
    def drop_first(request: FakeRequest, page: Mapping[str, Any]) -> None:
        seen_pages.append(request.param("page"))
        if request.param("page") == "1":
            fake.delete_event(page["items"][0]["id"])

    async with session(fake) as client:
        ids = [e["id"] for e in await listing(client)]
    assert ["1", "2"] == seen_pages
    assert before[:10] + before[11:] == ids  # before[10] slid onto page 1: missed
    fake.remove_page_hook(drop_first)
    with pytest.raises(ValueError, match="not installed"):
        fake.remove_page_hook(drop_first)


async def test_async_page_hook_is_awaited() -> None:
    """An async hook runs before the page is sent."""
    fake = make_fake(count=5)
    calls: list[int] = []

    async def hook(request: FakeRequest, page: Mapping[str, Any]) -> None:
        calls.append(page["page"])

    fake.on_page(hook)
    async with session(fake) as client:
        await listing(client)
        await client.get(f"{EVENTS}/{fake.visible_ids()[0]}")
    assert [1] == calls
