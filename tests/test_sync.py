"""Resumable sync: every version delivered as documented across crashes and mid-sync changes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

from planner_async import EventSync, PlannerClient, SyncCheckpoint
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

Version = tuple[int, datetime]


@pytest.fixture
def sync_clock() -> ManualClock:
    """A clock later than every generated ``updatedAt`` (2025-2027): 2033."""
    return ManualClock(2_000_000_000.0)


@pytest.fixture
def sync_fake(sync_clock: ManualClock) -> FakePlanner:
    """A fake with 300 events on the late clock, no rate limits."""
    return FakePlanner(events=300, seed=11, clock=sync_clock, rate_limits=[], auth_rate_limits=[])


@pytest.fixture
async def client(sync_fake: FakePlanner, sync_clock: ManualClock) -> AsyncIterator[PlannerClient]:
    """A client on ``sync_fake`` whose clock (hence its sync's ``until``) is the fake's."""
    async with (
        httpx.AsyncClient(transport=sync_fake.transport()) as http,
        PlannerClient(
            "demo",
            "demo-key",
            base_url=sync_fake.base_url,
            http_client=http,
            clock=sync_clock,
            retry=NO_WAIT,
        ) as planner,
    ):
        yield planner


def stamp(text: str) -> datetime:
    """A wire ``updatedAt`` as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def current_versions(fake: FakePlanner) -> set[Version]:
    """Every visible event's current version."""
    return {
        (event_id, stamp(fake.event(event_id)["updatedAt"]))  # type: ignore[index]
        for event_id in fake.visible_ids()
    }


def version(event) -> Version:
    """An event's ``(id, updatedAt)``."""
    return (event.id, event.updated_at.astimezone(UTC))


async def test_a_first_sync_delivers_every_event_once_oldest_change_first(
    client: PlannerClient, sync_fake: FakePlanner
):
    """With no checkpoint, every event comes once, sorted by updatedAt; the checkpoint ends
    at the newest."""
    run = client.events.sync(page_size=40)
    got = [version(event) async for event in run]
    assert current_versions(sync_fake) == set(got)
    assert len(got) == len(set(got))
    assert [s for _, s in got] == sorted(s for _, s in got)
    assert run.checkpoint is not None
    assert got[-1][1] == run.checkpoint.updated_at
    assert got[-1][0] in run.checkpoint.ids


async def test_crash_mutations_and_resume_deliver_every_version_exactly_once(
    client: PlannerClient, sync_fake: FakePlanner, sync_clock: ManualClock
):
    """A job that saves the checkpoint after each event, crashes mid-sync while events
    change, and resumes, gets every current version exactly once and never a repeat."""
    fake, rng = sync_fake, random.Random(3)
    delivered: list[Version] = []
    saved: str | None = None
    pages = 0

    def churn(request, page):  # events change while the listing is under way
        nonlocal pages
        pages += 1
        sync_clock.advance(0.5)
        ids = fake.visible_ids()
        for event_id in rng.sample(ids, 3):  # delivered or not, either way
            fake.update_event(event_id, title=f"changed on page {pages}")
        fake.add_event(title=f"new on page {pages}")
        fake.delete_event(rng.choice(ids))

    fake.on_page(churn)

    async def job(limit: int | None) -> EventSync:
        nonlocal saved
        checkpoint = None if saved is None else SyncCheckpoint.from_json(saved)
        run = client.events.sync(checkpoint, lag=5, page_size=25)
        count = 0
        async for event in run:
            delivered.append(version(event))  # handle...
            assert run.checkpoint is not None
            saved = run.checkpoint.to_json()  # ...then save
            count += 1
            if limit is not None and count == limit:
                break  # the crash
        return run

    first = await job(limit=110)
    assert 110 == len(delivered)
    sync_clock.advance(60)  # while the job is down, more changes
    for event_id in rng.sample(fake.visible_ids(), 20):
        fake.update_event(event_id, title="changed while down")
    second = await job(limit=None)
    assert second.until > first.until
    fake.remove_page_hook(churn)
    sync_clock.advance(60)  # let every change made during the second run fall due
    await job(limit=None)

    assert len(delivered) == len(set(delivered)), "a version was delivered twice"
    assert current_versions(fake) <= set(delivered), "a current version was missed"
    assert pages > 10


async def test_changes_inside_the_lag_wait_for_the_next_run(
    client: PlannerClient, sync_fake: FakePlanner, sync_clock: ManualClock
):
    """A change stamped after ``until`` (now minus lag) is left to the next run."""
    run = client.events.sync(lag=30)
    async for _event in run:
        pass
    late = sync_fake.add_event(title="late", updatedAt="2033-05-18T03:33:10Z")  # inside lag
    assert stamp(late["updatedAt"]) > run.until
    again = client.events.sync(run.checkpoint, lag=30)
    assert [] == [event.id async for event in again]
    sync_clock.advance(60)
    later = client.events.sync(again.checkpoint, lag=30)
    assert [late["id"]] == [event.id async for event in later]


async def test_saving_late_repeats_only_the_event_in_hand(
    client: PlannerClient, sync_fake: FakePlanner
):
    """A crash after handling an event but before saving delivers that event again."""
    first = client.events.sync(page_size=30)
    saved: SyncCheckpoint | None = None
    handled: list[int] = []
    async for event in first:
        handled.append(event.id)
        if len(handled) == 50:
            break  # crashed before saving the 50th
        saved = first.checkpoint
    resumed = [event.id async for event in client.events.sync(saved, page_size=30)]
    assert handled[-1] == resumed[0]
    assert set(handled[:-1]).isdisjoint(resumed)
    assert set(sync_fake.visible_ids()) == set(handled) | set(resumed)


async def test_a_cancelled_sync_resumes_from_its_last_checkpoint(
    client: PlannerClient, sync_fake: FakePlanner
):
    """Cancelling mid-request keeps the checkpoint of the last event handed out."""
    run = client.events.sync(page_size=20)
    got: list[int] = []
    with anyio.move_on_after(5) as scope:
        async for event in run:
            got.append(event.id)
            if len(got) == 40:
                scope.cancel()  # lands on the next page's request
    assert 40 <= len(got) < 60  # the rest of the page in hand, then the cancellation
    assert run.checkpoint is not None
    assert got[-1] in run.checkpoint.ids
    rest = [event.id async for event in client.events.sync(run.checkpoint, page_size=20)]
    assert sorted(sync_fake.visible_ids()) == sorted(got + rest)


async def test_more_ties_than_a_page_come_once_each(
    client: PlannerClient, sync_fake: FakePlanner, sync_clock: ManualClock
):
    """Thirty events stamped the same instant, paged ten at a time, all come once."""
    for n in range(30):
        sync_fake.add_event(title=f"tie {n}", updatedAt="2033-05-18T03:00:00Z")
    run = client.events.sync(page_size=10)
    ids = [event.id async for event in run]
    assert len(ids) == len(set(ids)) == len(sync_fake.visible_ids())


def test_checkpoint_round_trips_and_refuses_garbage():
    """to_json/from_json and to_dict/from_dict round-trip; malformed input is a ValueError."""
    cp = SyncCheckpoint(datetime(2026, 11, 20, 16, 45, 12, 1000, tzinfo=UTC), {7, 3})
    assert cp == SyncCheckpoint.from_json(cp.to_json())
    assert cp == SyncCheckpoint.from_dict(cp.to_dict())
    assert {"format": 1, "updatedAt": "2026-11-20T16:45:12.001000Z", "ids": [3, 7]} == (
        cp.to_dict()
    )
    inside = SyncCheckpoint(cp.updated_at, {7}, pending=20, zone=25)
    assert inside == SyncCheckpoint.from_json(inside.to_json())
    assert (20, 25) == (inside.to_dict()["pending"], inside.to_dict()["zone"])
    assert (None, None) == (cp.pending, cp.zone)
    for bad in (
        "",
        "[]",
        '{"format": 2}',
        '{"format": 1, "updatedAt": 3, "ids": []}',
        '{"format": 1, "updatedAt": "2026-01-01T00:00:00", "ids": []}',
        '{"format": 1, "updatedAt": "2026-01-01T00:00:00Z", "ids": [0]}',
        '{"format": 1, "updatedAt": "2026-01-01T00:00:00Z", "ids": [], "zone": "3"}',
        '{"format": 1, "updatedAt": "2026-01-01T00:00:00Z", "ids": [], "pending": true}',
    ):
        with pytest.raises(ValueError, match="SyncCheckpoint"):
            SyncCheckpoint.from_json(bad)


async def test_bad_sync_arguments_are_refused_before_any_request(
    client: PlannerClient, sync_fake: FakePlanner
):
    """A negative lag, a wrong checkpoint type or a naive ``until`` raise at once."""
    with pytest.raises(ValueError, match="lag"):
        client.events.sync(lag=-1)
    with pytest.raises(TypeError, match="checkpoint"):
        client.events.sync({"format": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        client.events.sync(until=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="page_size"):
        client.events.sync(page_size=0)
    assert [] == sync_fake.requests
    assert client.events.sync(until=datetime(2030, 1, 1, tzinfo=UTC)).until.year == 2030
    assert timedelta(0) < datetime(2034, 1, 1, tzinfo=UTC) - client.events.sync().until


@pytest.mark.parametrize("clock", [None, ManualClock()], ids=["wall-clock", "manual-clock"])
async def test_the_fakes_events_are_never_stamped_in_its_future(clock: ManualClock | None):
    """The demo's 3,000 generated events lie at or before the fake's clock, so a sync
    delivers every event a listing shows (it used to miss the ~90 "from the future")."""
    options = {} if clock is None else {"clock": clock}
    fake = FakePlanner(events=3000, seed=7, rate_limits=[], auth_rate_limits=[], **options)
    now = datetime.fromtimestamp(fake.clock(), UTC)
    assert all(
        stamp(e["updatedAt"]) <= now and e["createdAt"] <= e["updatedAt"] for e in fake.events
    )
    async with (
        httpx.AsyncClient(transport=fake.transport()) as http,
        PlannerClient(
            "demo",
            "demo-key",
            base_url=fake.base_url,
            http_client=http,
            retry=NO_WAIT,
            rate_limits=[],
            auth_rate_limits=[],
            **options,
        ) as planner,
    ):
        listed = [event.id async for event in planner.events.list()]
        synced = [event.id async for event in planner.events.sync()]
    assert 3000 - len(fake.restricted_ids) == len(listed)
    assert sorted(listed) == sorted(synced)
