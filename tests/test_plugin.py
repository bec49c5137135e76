"""The pytest plugin: user-style test files run through it with pytest-asyncio and anyio."""

from __future__ import annotations

import anyio
import pytest

from planner_async import PlannerClient
from planner_async.testing import FakePlanner, ManualClock

pytest_plugins = ("pytester",)

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
"""

ASYNCIO_USER_TESTS = """
import time

import pytest

from planner_async import NotFoundError, PlannerClient, ServerError
from planner_async.testing import FakePlanner, ManualClock

CLIENTS = []


@pytest.mark.asyncio
async def test_gets_an_event_with_one_login(planner_client, fake_planner):
    event_id = fake_planner.visible_ids()[0]
    event = await planner_client.events.get(event_id)
    assert event.id == event_id
    assert fake_planner.stats.logins == 1
    assert len(fake_planner.events) == 200
    CLIENTS.append(planner_client)


@pytest.mark.asyncio
async def test_the_previous_client_was_closed_and_this_one_is_fresh(planner_client):
    with pytest.raises(RuntimeError, match="closed"):
        await CLIENTS[0].events.get(1)
    assert planner_client is not CLIENTS[0]
    assert planner_client.session is None


@pytest.mark.asyncio
async def test_retry_back_off_moves_the_manual_clock(planner_client, fake_planner, planner_clock):
    event_id = fake_planner.visible_ids()[0]
    fake_planner.fail_next(2, status=503, endpoint="events.get")
    before, started = planner_clock(), time.perf_counter()
    assert (await planner_client.events.get(event_id)).id == event_id
    assert time.perf_counter() - started < 1.0
    assert planner_clock() > before
    statuses = [r.status for r in fake_planner.requests if r.endpoint == "events.get"]
    assert statuses == [503, 503, 200]
    assert planner_client.stats.retries == 2


@pytest.mark.asyncio
async def test_failures_past_the_retries_reach_the_caller(planner_client, fake_planner):
    fake_planner.fail_next(10, status=500, endpoint="events.get")
    with pytest.raises(ServerError):
        await planner_client.events.get(fake_planner.visible_ids()[0])


@pytest.mark.asyncio
async def test_revoked_tokens_are_renewed(planner_client, fake_planner, planner_clock):
    first = fake_planner.visible_ids()[0]
    await planner_client.events.get(first)
    fake_planner.revoke_access_tokens()
    await planner_client.events.get(first)
    planner_clock.advance(16 * 60)
    await planner_client.events.get(first)
    assert fake_planner.stats.logins == 1
    assert fake_planner.stats.renewals == 2


@pytest.mark.planner(events=[{"id": 7, "title": "Budget", "startDate": "2026-12-01"}])
@pytest.mark.asyncio
async def test_marker_seeds_events(planner_client, fake_planner):
    assert (await planner_client.events.get(7)).title == "Budget"
    with pytest.raises(NotFoundError):
        await planner_client.events.get(8)
    fake_planner.add_event(id=8, title="Added")
    assert (await planner_client.events.get(8)).title == "Added"


@pytest.mark.planner(events=5, seed=3, rate_limits=[(2, 60)], users={"ann": "secret"})
@pytest.mark.asyncio
async def test_marker_limits_reach_the_client_and_the_fake(planner_client, fake_planner):
    assert isinstance(fake_planner, FakePlanner)
    assert [w.limit for w in planner_client.rate_limit.windows] == [2]
    await planner_client.events.get(fake_planner.visible_ids("ann")[0])
    assert planner_client.session.email == "ann@example.com"


def test_the_clock_is_the_fakes(fake_planner, planner_clock):
    assert isinstance(planner_clock, ManualClock)
    assert fake_planner.clock is planner_clock
"""

ANYIO_USER_TESTS = """
import pytest

from planner_async import PermissionDeniedError
from planner_async.testing import Faults

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


async def test_lists_events(planner_client, fake_planner, anyio_backend):
    titles = [event.title async for event in planner_client.events.list(page_size=50)]
    assert len(titles) == len(fake_planner.visible_ids())
    pages = -(-len(titles) // 50)
    assert [r.endpoint for r in fake_planner.requests].count("events.list") == pages


@pytest.mark.planner(events=50, restricted_share=0.2)
async def test_restricted_event_is_forbidden(planner_client, fake_planner):
    hidden = sorted(fake_planner.restricted_ids)[0]
    with pytest.raises(PermissionDeniedError):
        await planner_client.events.get(hidden)


@pytest.mark.planner(events=20, faults=Faults(error_rate=0.3, seed=5))
async def test_seeded_faults_are_retried(planner_client, fake_planner):
    ids = fake_planner.visible_ids()
    got = [(await planner_client.events.get(i)).id for i in ids]
    assert got == ids
    assert fake_planner.stats.faults["error"] > 0


async def test_user_async_fixture_shares_the_client(planner_client, user_service):
    assert await user_service() == 200


@pytest.fixture
async def user_service(planner_client, fake_planner):
    async def count():
        return len([e async for e in planner_client.events.list()])
    return count
"""


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    """Run ``source`` as a user's test module in a fresh directory, in-process."""
    pytester.makeini(INI)
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_inprocess("-q")


def test_plugin_runs_user_tests_under_pytest_asyncio(pytester: pytest.Pytester) -> None:
    """A pytest-asyncio user suite gets fresh fakes, closed clients and the marker's options."""
    result = run(pytester, ASYNCIO_USER_TESTS)
    result.assert_outcomes(passed=8)


def test_plugin_runs_user_tests_under_anyio_on_asyncio_and_trio(
    pytester: pytest.Pytester,
) -> None:
    """An anyio user suite passes on asyncio and trio, async user fixtures included."""
    result = run(pytester, ANYIO_USER_TESTS)
    result.assert_outcomes(passed=8)
    result.stdout.no_fnmatch_line("*Unclosed*")


def test_unknown_marker_option_is_a_clear_error(pytester: pytest.Pytester) -> None:
    """A misspelt marker option fails the test's setup and names the known options."""
    result = run(
        pytester,
        """
import pytest

@pytest.mark.planner(evnts=3)
def test_typo(fake_planner):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) evnts; known:*events*"])


def test_marker_is_registered_and_documented(pytester: pytest.Pytester) -> None:
    """``pytest --markers`` lists the ``planner`` marker (so ``--strict-markers`` accepts it)."""
    pytester.makeini(INI)
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.planner(**options): configure the fake_planner*"])


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures`` shows the three fixtures under the plugin."""
    pytester.makeini(INI)
    pytester.makepyfile(test_empty="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--fixtures")
    output = result.stdout.str()
    assert "fixtures defined from planner_async.pytest_plugin" in output
    for line in (
        "A fresh fake Forward Planner for this test",
        "A client logged in (lazily) to ``fake_planner`` in-process",
        "The manual clock of ``fake_planner`` and ``planner_client``",
    ):
        assert line in output


@pytest.mark.anyio
@pytest.mark.planner(events=5, rate_limits=[(1, 30.0)])
async def test_fixtures_work_in_this_suite_too(
    planner_client: PlannerClient, fake_planner: FakePlanner, planner_clock: ManualClock
) -> None:
    """The plugin's fixtures are available here; the first call logs in once."""
    event_id = fake_planner.visible_ids()[0]
    assert (await planner_client.events.get(event_id)).id == event_id
    assert fake_planner.clock is planner_clock
    assert fake_planner.stats.logins == 1


@pytest.mark.anyio
@pytest.mark.planner(events=5, rate_limits=[(1, 30.0)])
async def test_quota_waits_and_pauses_take_no_real_time(
    planner_client: PlannerClient, fake_planner: FakePlanner, planner_clock: ManualClock
) -> None:
    """A full quota window and a 429's Retry-After are waited out on the manual clock: the
    waits happen (the clock moves by each of them) and take no real time."""
    first, second = fake_planner.visible_ids()[:2]
    with anyio.fail_after(1.0):  # real seconds: the test runs on asyncio's clock
        await planner_client.events.get(first)
        start = planner_clock()
        await planner_client.events.get(second)  # waits 30 s of quota
        after_quota = planner_clock()
        fake_planner.fail_next(1, status=429, retry_after=45, endpoint="events.get")
        await planner_client.events.get(first)  # waits 30 s of quota, then pauses 45 s
    assert 30.0 == after_quota - start
    # the pause outlasts the window (the retry's slot is free 30 s after the 429)
    assert 30.0 + 45.0 == planner_clock() - after_quota
    assert (1, 1) == (planner_client.stats.rate_limited, planner_client.stats.retries)


@pytest.mark.anyio
async def test_fake_client_is_wired_in_process_with_options_passed_through():
    """``FakePlanner.client()`` logs in as the fake's first user over the in-process
    transport; keyword options reach the client."""
    clock = ManualClock()
    fake = FakePlanner(events=5, users={"ann": "ann-key"}, clock=clock)
    seen: list[object] = []
    async with fake.client(clock=clock, on_token=seen.append, max_retries=0) as client:
        assert isinstance(client, PlannerClient)
        event = await client.events.get(fake.visible_ids("ann")[0])
    assert 1 == fake.stats.logins
    assert event.id == fake.visible_ids("ann")[0]
    assert 1 == len(seen)
    assert ["auth", "events.get"] == [request.endpoint for request in fake.requests]
