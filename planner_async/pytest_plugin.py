"""pytest fixtures for testing code that uses planner-async, against the in-process fake.

Installed with the package and loaded by pytest on its own (the ``pytest11`` entry point
``planner_async``). Three fixtures, one per test:

- ``fake_planner``: a fresh :class:`~planner_async.testing.FakePlanner` (200 events by
  default); its methods seed events, script failures, expire tokens and tell what it saw;
- ``planner_clock``: the fake's :class:`~planner_async.testing.ManualClock`;
- ``planner_client``: a :class:`~planner_async.PlannerClient` logged in as the fake's user,
  wired to it in-process (no sockets), closed after the test.

The fixtures are plain (not async), so they work with pytest-asyncio and with anyio's
plugin, on asyncio and trio: the client binds to the event loop of the test that first
uses it. Configure the fake with a marker taking :class:`FakePlanner`'s keywords::

    @pytest.mark.planner(events=50, seed=7, rate_limits=[(5, 60)])
    async def test_quota(planner_client): ...

``rate_limits`` and ``auth_rate_limits`` given there apply to the client as well, as in
production, where the client's defaults are the server's. The client's retry back-off,
quota waits and 429 pauses all sleep on ``planner_clock``: no real time.

The package itself is imported only when a test asks for one of the fixtures, so the
plugin costs nothing to test suites that do not use it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from ._client import PlannerClient
    from .testing import FakePlanner, ManualClock

__all__ = ["DEFAULT_EVENTS", "fake_planner", "planner_client", "planner_clock"]

DEFAULT_EVENTS: Final = 200
"""How many generated events ``fake_planner`` holds unless the marker says otherwise."""

_MARKER: Final = "planner"
_MARKER_HELP: Final = (
    "planner(**options): configure the fake_planner fixture with FakePlanner keywords "
    "(events, seed, faults, rate_limits, auth_rate_limits, users, ...); rate_limits and "
    "auth_rate_limits also apply to planner_client"
)
_CLIENT_LIMITS: Final = ("rate_limits", "auth_rate_limits")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``planner`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line("markers", _MARKER_HELP)


def _fake_keywords() -> frozenset[str]:
    from .testing import FakePlanner

    parameters = inspect.signature(FakePlanner).parameters
    return frozenset(name for name in parameters if name != "clock")


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """The ``@pytest.mark.planner(...)`` keywords closest to ``node``, checked."""
    marker = node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise TypeError("@pytest.mark.planner takes keyword arguments only")
    unknown = sorted(set(marker.kwargs) - _fake_keywords())
    if unknown:
        known = ", ".join(sorted(_fake_keywords()))
        raise TypeError(
            f"@pytest.mark.planner got unknown option(s) {', '.join(unknown)}; known: {known}"
        )
    return dict(marker.kwargs)


@pytest.fixture
def planner_clock() -> ManualClock:
    """The manual clock of ``fake_planner`` and ``planner_client``: time moves when told."""
    from .testing import ManualClock

    return ManualClock()


@pytest.fixture
def fake_planner(request: pytest.FixtureRequest, planner_clock: ManualClock) -> FakePlanner:
    """A fresh fake Forward Planner for this test, on ``planner_clock``.

    Configure it with ``@pytest.mark.planner(events=..., seed=..., faults=...,
    rate_limits=...)``; without a marker it holds 200 generated events.
    """
    from .testing import FakePlanner

    options: dict[str, Any] = {"events": DEFAULT_EVENTS, **marker_options(request.node)}
    return FakePlanner(clock=planner_clock, **options)


@pytest.fixture
def planner_client(
    request: pytest.FixtureRequest, fake_planner: FakePlanner, planner_clock: ManualClock
) -> Iterator[PlannerClient]:
    """A client logged in (lazily) to ``fake_planner`` in-process, closed after the test.

    It runs on ``planner_clock`` and binds to the event loop of the test that first uses
    it, whichever plugin (pytest-asyncio, anyio) and backend (asyncio, trio) runs it.
    """
    import anyio

    options = marker_options(request.node)
    username, api_key = _first_user(options.get("users"))
    limits = {name: options[name] for name in _CLIENT_LIMITS if name in options}
    client = fake_planner.client(
        username, api_key, clock=planner_clock, sleep=planner_clock.sleep, **limits
    )
    try:
        yield client
    finally:
        anyio.run(client.aclose)


def _first_user(users: Mapping[str, str] | None) -> tuple[str, str]:
    if users is None:
        return "demo", "demo-key"
    if not users:
        raise ValueError("@pytest.mark.planner(users=...) needs at least one user")
    return next(iter(users.items()))
