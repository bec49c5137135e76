"""The hook dispatcher: logs each event, calls the user's hook, survives a hook that raises."""

from __future__ import annotations

import doctest
import logging

import attrs
import pytest

import planner_async
from planner_async import PauseDetails, QuotaWaitDetails, RetryDetails, TokenDetails, _hooks
from planner_async._hooks import Hooks

RETRY = RetryDetails("GET", "/v2/events", 1, 0.5, "server error 503")
QUOTA = QuotaWaitDetails(waited=1.25, endpoint="api")
PAUSE = PauseDetails(seconds=30.0, retry_after=30.0, status_code=429)
TOKEN = TokenDetails(kind="renewal", duration=0.04, expires_in=3600.0)

EVENTS = [
    ("retry", "on_retry", RETRY),
    ("quota_wait", "on_quota_wait", QUOTA),
    ("pause", "on_pause", PAUSE),
    ("token", "on_token", TOKEN),
]


@pytest.mark.parametrize(("method", "keyword", "details"), EVENTS)
def test_each_event_reaches_its_own_hook_only(method: str, keyword: str, details: object) -> None:
    """A hook receives exactly the details object of its own event, once, and no other."""
    seen: dict[str, list[object]] = {name: [] for _, name, _ in EVENTS}
    hooks = Hooks(**{name: seen[name].append for name in seen})  # type: ignore[arg-type]
    getattr(hooks, method)(details)
    assert {name: ([details] if name == keyword else []) for name in seen} == seen


@pytest.mark.parametrize(("method", "keyword", "details"), EVENTS)
def test_no_hook_is_a_quiet_no_op(
    method: str, keyword: str, details: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Without hooks and with the logger at WARNING, an event logs nothing and raises nothing."""
    caplog.set_level(logging.WARNING, logger="planner_async")
    getattr(Hooks(), method)(details)
    assert [] == caplog.records


@pytest.mark.parametrize(("method", "keyword", "details"), EVENTS)
def test_a_raising_hook_is_logged_and_ignored(
    method: str, keyword: str, details: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises does not propagate; one WARNING with the traceback names the hook."""

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.WARNING, logger="planner_async")
    getattr(Hooks(**{keyword: broken}), method)(details)
    [record] = caplog.records
    assert logging.WARNING == record.levelno
    assert keyword in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_levels_and_messages(caplog: pytest.LogCaptureFixture) -> None:
    """Retries log at INFO; quota waits, pauses and tokens at DEBUG, each with its numbers."""
    caplog.set_level(logging.DEBUG, logger="planner_async")
    hooks = Hooks()
    hooks.retry(RETRY)
    hooks.quota_wait(QUOTA)
    hooks.pause(PAUSE)
    hooks.pause(PauseDetails(seconds=2.0, retry_after=None, status_code=503))
    hooks.token(TOKEN)
    hooks.token(TokenDetails(kind="login", duration=0.1, expires_in=None))
    got = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [
        (logging.INFO, "retry 1 of GET /v2/events in 0.50 s: server error 503"),
        (logging.DEBUG, "waited 1.250 s for api quota"),
        (logging.DEBUG, "paused all requests for 30.00 s after a 429 (Retry-After: 30 s)"),
        (logging.DEBUG, "paused all requests for 2.00 s after a 503 (Retry-After: none)"),
        (logging.DEBUG, "renewal took 0.040 s; token expires in 3600.0 s"),
        (logging.DEBUG, "login took 0.100 s; token expires in an unknown time"),
    ] == got


def test_quota_wait_skips_formatting_when_debug_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The frequent quota-wait event does not call the logger at all when DEBUG is off."""
    calls: list[object] = []
    monkeypatch.setattr(_hooks.log, "debug", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(_hooks.log, "isEnabledFor", lambda level: level > logging.DEBUG)
    Hooks().quota_wait(QUOTA)
    assert [] == calls


def test_non_callable_hook_is_a_type_error() -> None:
    """A hook that is not callable is refused when the dispatcher is built."""
    with pytest.raises(TypeError, match="on_pause must be callable"):
        Hooks(on_pause=42)  # type: ignore[arg-type]


def test_details_are_frozen_and_exported() -> None:
    """The details classes are immutable and importable from the package root."""
    for name in ("QuotaWaitDetails", "PauseDetails", "TokenDetails"):
        assert name in planner_async.__all__
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        QUOTA.waited = 0.0  # type: ignore[misc]


def test_repr_names_the_hooks_given_and_no_values() -> None:
    """The dispatcher's repr lists which hooks are set."""
    assert "Hooks(on_retry, on_token)" == repr(Hooks(on_retry=print, on_token=print))


def test_module_doctests() -> None:
    """The examples in the module's docstrings run as written."""
    result = doctest.testmod(_hooks)
    assert 0 == result.failed
    assert result.attempted >= 2
