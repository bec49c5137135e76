"""Issue 16, items 1-4, 14 and 15: sync over large ties, capped pages and hostile
checkpoints; get_many facing a broken login; look-ahead pages past a shrinking end.

Each test is named after the item it guards (``test_N_...``) and failed before the fix.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import anyio.lowlevel
import httpx
import pytest

from planner_async import (
    APIResponseValidationError,
    AuthenticationError,
    PermissionDeniedError,
    PlannerClient,
    PlannerError,
    SyncCheckpoint,
)
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

T = "2030-01-01T00:00:00Z"
FAR = datetime(2031, 1, 1, tzinfo=UTC)  # every run reaches past every stamp used here
Version = tuple[int, datetime]


def make_fake(events: list[dict[str, object]]) -> FakePlanner:
    """A fake holding exactly ``events`` (none restricted), its clock in 2033, no limits."""
    return FakePlanner(
        events=events,
        clock=ManualClock(2_000_000_000.0),
        rate_limits=[],
        auth_rate_limits=[],
        restricted_share=0,
    )


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., PlannerClient]]:
    """Build clients over a given transport; all are closed at the end."""
    made: list[tuple[PlannerClient, httpx.AsyncClient]] = []

    def factory(transport: httpx.AsyncBaseTransport, **kwargs: object) -> PlannerClient:
        http = httpx.AsyncClient(transport=transport)
        kwargs.setdefault("retry", NO_WAIT)
        kwargs.setdefault("rate_limits", [])
        kwargs.setdefault("auth_rate_limits", [])
        client = PlannerClient(
            "demo", "demo-key", base_url=FakePlanner.base_url, http_client=http, **kwargs
        )
        made.append((client, http))
        return client

    yield factory
    for client, http in made:
        await client.aclose()
        await http.aclose()


def version(event) -> Version:
    """An event's ``(id, updatedAt)``."""
    return (event.id, event.updated_at.astimezone(UTC))


def current(fake: FakePlanner) -> set[Version]:
    """Every visible event's current version."""
    out = set()
    for event_id in fake.visible_ids():
        stamp = fake.event(event_id)["updatedAt"]  # type: ignore[index]
        out.add((event_id, datetime.fromisoformat(stamp.replace("Z", "+00:00"))))
    return out


def list_requests(fake: FakePlanner) -> int:
    """How many listing pages the fake answered."""
    return fake.stats.count("events.list", 200)


# -- 1. a change among page_size ties loses no event ------------------------------------------


class BeforePage(httpx.AsyncBaseTransport):
    """The fake's transport, calling ``action(page)`` as each listing request arrives
    (before the page is computed: a change made while the request is on its way)."""

    def __init__(self, fake: FakePlanner, action: Callable[[int], None]) -> None:
        self.inner = fake.transport()
        self.action = action

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.action(int(request.url.params["page"]))
        return await self.inner.handle_async_request(request)


async def test_1_a_change_among_page_size_ties_loses_no_event(connect):
    """Ids 1-3 at T, 4 at T+1 s, 5 at T+2 s, pages of 3, id 2 changed when page 2 is
    asked for: two runs deliver every version once, (4, T+1 s) included."""
    fake = make_fake(
        [{"id": i, "title": f"tie {i}", "updatedAt": T} for i in (1, 2, 3)]
        + [
            {"id": 4, "title": "four", "updatedAt": "2030-01-01T00:00:01Z"},
            {"id": 5, "title": "five", "updatedAt": "2030-01-01T00:00:02Z"},
        ]
    )

    def change_two(page: int) -> None:  # the change lands as page 2 is asked for
        if page == 2 and fake.event(2)["title"] == "tie 2":  # type: ignore[index]
            fake.update_event(2, title="changed", updatedAt="2030-01-01T00:00:03Z")

    client = connect(BeforePage(fake, change_two))
    first = client.events.sync(page_size=3, until=FAR)
    got = [version(event) async for event in first]
    second = client.events.sync(first.checkpoint, page_size=3, until=FAR)
    got += [version(event) async for event in second]
    assert len(got) == len(set(got)), "a version was delivered twice"
    assert current(fake) <= set(got), "an event was lost"
    assert (4, datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)) in got


async def test_1_changes_inside_a_large_tie_lose_nothing_across_a_crash(connect):
    """Thirty ties over pages of 10 with a tie changed on every page and a crash in the
    middle of the tie: every current version comes once."""
    fake = make_fake(
        [{"id": i, "title": f"tie {i}", "updatedAt": T} for i in range(1, 31)]
        + [
            {"id": 100 + i, "title": "later", "updatedAt": f"2030-01-02T00:00:{i:02d}Z"}
            for i in range(5)
        ]
    )
    changed = iter(range(3, 31, 4))

    def churn(page: int) -> None:
        event_id = next(changed, None)
        if event_id is not None:
            fake.update_event(
                event_id, title="changed", updatedAt=f"2030-01-03T00:00:{event_id:02d}Z"
            )

    client = connect(BeforePage(fake, churn))
    got: list[Version] = []
    run = client.events.sync(page_size=10, until=FAR)
    async for event in run:
        got.append(version(event))
        if len(got) == 17:
            break  # the crash, checkpoint saved with the event
    saved = SyncCheckpoint.from_json(run.checkpoint.to_json())
    got += [version(event) async for event in client.events.sync(saved, page_size=10, until=FAR)]
    assert len(got) == len(set(got)), "a version was delivered twice"
    assert current(fake) <= set(got), "an event was lost"


# -- 2. ties cost about one request per page ----------------------------------------------------


async def test_2_a_thousand_ties_cost_about_one_request_per_page(connect):
    """1,000 events at one instant, pages of 10: every event once for about 100 requests
    (the offset walk from page 1 took 5,151)."""
    fake = make_fake([{"id": i, "title": f"tie {i}", "updatedAt": T} for i in range(1, 1001)])
    client = connect(fake.transport())
    ids = [event.id async for event in client.events.sync(page_size=10, until=FAR)]
    assert list(range(1, 1001)) == sorted(ids)
    assert list_requests(fake) <= 115


# -- 3. a server that answers fewer items than asked --------------------------------------------


class CappedPages(httpx.AsyncBaseTransport):
    """The fake behind a server that caps ``pageSize`` at 50 (and says so in the answer)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, say_size: bool) -> None:
        self.inner = inner
        self.say_size = say_size

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):
            return await self.inner.handle_async_request(request)
        asked = dict(request.url.params)
        capped = request.url.copy_merge_params({"pageSize": min(50, int(asked["pageSize"]))})
        response = await self.inner.handle_async_request(
            httpx.Request(request.method, capped, headers=request.headers)
        )
        body = json.loads(await response.aread())
        if not self.say_size:
            body.pop("pageSize")
        return httpx.Response(200, json=body)


@pytest.mark.parametrize("say_size", [True, False], ids=["pageSize", "totalPages-only"])
async def test_3_a_server_capping_page_size_still_syncs_everything(connect, say_size: bool):
    """Asked for 200 a page, a server answering 50: sync gets all 120 events, like list()."""
    fake = make_fake(
        [
            {"id": i, "title": f"e{i}", "updatedAt": f"2030-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
            for i in range(1, 121)
        ]
    )
    client = connect(CappedPages(fake.transport(), say_size=say_size))
    run = client.events.sync(until=FAR)
    assert list(range(1, 121)) == [event.id async for event in run]
    assert 120 == len([event async for event in client.events.list()])


# -- 4. a hostile checkpoint is a ValueError -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"format": 1, "ids": [], "updatedAt": ' + "[" * 100_000,
        '{"format": 1, "updatedAt": "9999-12-31T23:59:59-23:59", "ids": []}',
        '{"format": 1, "updatedAt": "0001-01-01T00:00:00+23:59", "ids": []}',
        '{"format": 1, "updatedAt": "2030-13-01T00:00:00Z", "ids": []}',
        '{"format": 1, "updatedAt": "2030-01-01T00:00:00Z", "ids": [], "pending": -1}',
        b"\xff\xfe",
    ],
    ids=["nested", "nested-value", "overflow", "underflow", "bad-month", "pending", "bytes"],
)
def test_4_hostile_checkpoints_raise_only_value_error(text: str | bytes):
    """Deep nesting, a date UTC cannot hold or garbage in a stored checkpoint: ValueError."""
    with pytest.raises(ValueError, match="SyncCheckpoint"):
        SyncCheckpoint.from_json(text)


# -- 14. get_many and a broken login ----------------------------------------------------------


def login_server(answer: Callable[[], httpx.Response]) -> Callable[[httpx.Request], httpx.Response]:
    """A server whose login answers ``answer()``; every event exists; counts logins."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            handle.logins += 1  # type: ignore[attr-defined]
            return answer()
        event_id = int(request.url.path.rpartition("/")[2])
        return httpx.Response(200, json={"id": event_id, "title": "ok"})

    handle.logins = 0  # type: ignore[attr-defined]
    return handle


LOGIN_FAILURES = {
    "unsendable-token": (
        lambda: httpx.Response(200, json={"token": "tök\r\nen", "refreshToken": "r"}),
        APIResponseValidationError,
    ),
    "html-page": (
        lambda: httpx.Response(
            200, text="<html>Sign in</html>", headers={"content-type": "text/html"}
        ),
        APIResponseValidationError,
    ),
    "403": (
        lambda: httpx.Response(403, json={"error": "Forbidden", "message": "account suspended"}),
        PermissionDeniedError,
    ),
    "401": (
        lambda: httpx.Response(401, json={"error": "Unauthorised", "message": "bad key"}),
        AuthenticationError,
    ),
}


@pytest.mark.parametrize("kind", sorted(LOGIN_FAILURES))
async def test_14_a_failed_login_is_raised_once_not_blamed_on_each_id(connect, kind: str):
    """A login answering an unsendable token, an HTML page, 403 or 401: get_many over 40
    ids raises that error once, yields no result, and never logs in per batch."""
    answer, error = LOGIN_FAILURES[kind]
    server = login_server(answer)
    client = connect(httpx.MockTransport(server), max_retries=0)
    results: list[object] = []

    async def collect() -> None:
        async for result in client.events.get_many(range(1, 41), concurrency=4):
            results.append(result)

    with pytest.raises(error):
        await collect()
    assert [] == results
    assert 1 == server.logins  # type: ignore[attr-defined]


async def test_14_an_ids_own_errors_stay_per_id(connect):
    """A 403, a 404 and a malformed event for one id each are still that id's result."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, json={"token": "good-token", "refreshToken": "r"})
        event_id = int(request.url.path.rpartition("/")[2])
        if event_id == 2:
            return httpx.Response(403, json={"error": "Forbidden", "message": "no"})
        if event_id == 3:
            return httpx.Response(404, json={"error": "Not Found", "message": "gone"})
        if event_id == 4:
            return httpx.Response(200, json={"id": "four", "title": 4})
        return httpx.Response(200, json={"id": event_id, "title": "ok"})

    client = connect(httpx.MockTransport(handle), max_retries=0)
    results = [r async for r in client.events.get_many([1, 2, 3, 4, 5], concurrency=5)]
    assert [True, False, False, False, True] == [r.ok for r in results]
    assert all(isinstance(r.error, PlannerError) for r in results if not r.ok)


# -- 15. look-ahead pages past a shrinking end ---------------------------------------------------


class ShrinkingListing(httpx.AsyncBaseTransport):
    """The fake, with 404 past the listing's end and pages inside it answered late (so
    the look-ahead's 404s come first)."""

    def __init__(self, fake: FakePlanner) -> None:
        self.inner = fake.transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/events"):
            return response
        body = json.loads(await response.aread())
        if not body["items"] and body["page"] > 1:
            return httpx.Response(404, json={"error": "Not Found", "message": "no such page"})
        if body["page"] > 1:
            for _ in range(50):  # answered after every 404 of the same round
                await anyio.lowlevel.checkpoint()
        return httpx.Response(200, json=body)


def shrinking_fake() -> FakePlanner:
    """200 events (10 pages of 20) that shrink to 80 (4 pages) once page 1 is answered."""
    fake = make_fake(
        [{"id": i, "title": f"e{i}", "startDate": "2030-01-01"} for i in range(1, 201)]
    )

    def shrink(request, page):
        if page["page"] == 1 and len(fake.visible_ids()) == 200:
            for event_id in range(81, 201):
                fake.delete_event(event_id)

    fake.on_page(shrink)
    return fake


@pytest.mark.parametrize("prefetch", [4, 0])
async def test_15_a_look_ahead_failure_past_the_end_fails_nothing_before_it(connect, prefetch: int):
    """10 pages become 4 after page 1 and pages past the end answer 404: with prefetch=4
    as with prefetch=0 the listing ends cleanly with every remaining event."""
    fake = shrinking_fake()
    client = connect(ShrinkingListing(fake))
    ids = [event.id async for event in client.events.list(page_size=20, prefetch=prefetch)]
    assert list(range(1, 81)) == ids


# -- tolerance: a server that ignores updatedSince ---------------------------------------------


class IgnoresUpdatedSince(httpx.AsyncBaseTransport):
    """The fake behind a server that drops the ``updatedSince`` filter ([assumed] in the
    contract): every listing starts from the oldest change."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/events"):
            return await self.inner.handle_async_request(request)
        params = [(k, v) for k, v in request.url.params.multi_items() if k != "updatedSince"]
        url = request.url.copy_with(params=params)
        return await self.inner.handle_async_request(
            httpx.Request(request.method, url, headers=request.headers)
        )


async def test_a_server_ignoring_updated_since_still_syncs_each_event_once(connect):
    """Without the filter every event still comes once, for about ten requests per page of
    20 (the end of the past is searched by doubling, and the walk back stops at the first
    page older than the mark), not a re-read of the whole past per page."""
    fake = make_fake(
        [
            {
                "id": i,
                "title": f"e{i}",
                "updatedAt": f"2030-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            }
            for i in range(1, 401)
        ]
    )
    client = connect(IgnoresUpdatedSince(fake.transport()))
    ids = [event.id async for event in client.events.sync(page_size=20, until=FAR)]
    assert list(range(1, 401)) == ids
    assert list_requests(fake) <= 10 * 20
