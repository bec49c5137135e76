"""Shared fixtures: the anyio backends, an in-process fake server and clients wired to it.

Async tests choose their backends with one marker, on a module or on a test (the
closest one wins); without it they run on asyncio::

    pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]

    @pytest.mark.backends("trio-virtual")  # trio on MockClock(autojump_threshold=0)
    async def test_waits_out_a_long_retry_after() -> None: ...

``"trio-virtual"`` runs the test on trio with a fresh ``trio.testing.MockClock`` whose
time jumps ahead whenever every task is waiting, so sleeps of minutes take no real time.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio.testing

from planner_async import PlannerClient
from planner_async._redact import live_redactors
from planner_async._shared import live_shares
from planner_async.testing import FakePlanner, ManualClock

from support import NO_WAIT, ClientFactory

BACKENDS = ("asyncio", "trio", "trio-virtual")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``backends`` marker."""
    config.addinivalue_line(
        "markers",
        "backends(*names): run the anyio test on these backends: "
        f"{', '.join(BACKENDS)} (trio on a MockClock); asyncio when absent",
    )


def _parametrized_directly(metafunc: pytest.Metafunc) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if "anyio_backend" in (
            names.replace(" ", "").split(",") if isinstance(names, str) else names
        ):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses ``anyio_backend`` on the backends its marker names."""
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None or "anyio_backend" not in metafunc.fixturenames:
        return
    if _parametrized_directly(metafunc):
        return
    unknown = [name for name in marker.args if name not in BACKENDS]
    if unknown or not marker.args:
        raise pytest.UsageError(f"backends() takes some of {BACKENDS}, not {marker.args!r}")
    metafunc.parametrize("anyio_backend", marker.args, indirect=True)


@pytest.fixture
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """The anyio backend of one test run (see the module docstring); asyncio by default."""
    name = getattr(request, "param", "asyncio")
    if name == "trio-virtual":
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
    return name


@pytest.fixture(autouse=True)
def _account_shares_end_with_their_clients() -> Iterator[None]:
    """Clients a test left unclosed must not lend their account's quota to the next test."""
    yield
    if live_shares():
        gc.collect()


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
    made: list[PlannerClient] = []

    def factory(**kwargs: Any) -> PlannerClient:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("retry", NO_WAIT)
        client = fake.client(
            kwargs.pop("username", "demo"), kwargs.pop("api_key", "demo-key"), **kwargs
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


# -- redaction: a test leaves no live client redactor behind ---------------------------------


@pytest.fixture(autouse=True)
def _no_redactor_left_behind() -> Iterator[None]:
    """Fail a test whose clients are neither closed nor collectable once it ends.

    A client's redactor leaves the registry on ``aclose`` (and, weakly held, when the client
    is collected): one still live afterwards is a client kept alive and open somewhere.
    """
    before = {id(r) for r in live_redactors()}

    def left() -> int:
        return sum(1 for r in live_redactors() if id(r) not in before)

    yield
    if left():
        gc.collect()  # dropped, unclosed clients: their redactors go with them
    if left():
        pytest.fail(f"{left()} client redactor(s) still live: close every client the test made")


@pytest.fixture(autouse=True)
def _no_tracer_provider_left_behind() -> Iterator[None]:
    """Undo a process-wide OpenTelemetry provider that a test (or a README block) set, the
    way OpenTelemetry's own test utilities reset them, so later clients do not trace."""
    yield
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None and trace._TRACER_PROVIDER is not None:
        from opentelemetry.util._once import Once

        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = None, Once()
