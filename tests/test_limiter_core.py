"""The sans-I/O quota arithmetic, driven directly with explicit ``now`` values."""

# The house style writes the expected value first in asserts, which SIM300 calls Yoda.

from __future__ import annotations

import math

import attrs
import pytest

from planner_async import QuotaCore, RateLimitStatus, WindowStatus

INF = math.inf


def test_free_path_takes_up_to_the_limit() -> None:
    """A window admits exactly ``limit`` permits at once and refuses the next."""
    core = QuotaCore([(3, 10)])
    assert [True, True, True, False] == [core.try_take(0.0) for _ in range(4)]


def test_in_flight_requests_block_with_infinite_delay() -> None:
    """While every slot is held by a request in flight, the delay is unknown (inf)."""
    core = QuotaCore([(2, 10)])
    core.try_take(0.0)
    core.try_take(0.0)
    assert INF == core.delay(5.0)
    assert INF == core.ready_at(5.0)


def test_completion_frees_the_slot_one_period_after_the_response() -> None:
    """A slot frees ``period`` seconds after completion, not after acquisition."""
    core = QuotaCore([(1, 10)])
    assert core.try_take(0.0)
    core.complete(3.0)
    assert 13.0 == core.ready_at(4.0)
    assert 9.0 == core.delay(4.0)
    assert not core.try_take(12.999)
    assert core.try_take(13.0)


def test_delay_counts_expiries_in_order_with_others_ahead() -> None:
    """With ``ahead`` callers first, the k-th expiry decides; beyond the deque it is unknown."""
    core = QuotaCore([(3, 10)])
    for _ in range(3):
        core.try_take(0.0)
    core.complete(1.0)
    core.complete(2.0)
    assert 11.0 == core.ready_at(2.0, ahead=0)
    assert 12.0 == core.ready_at(2.0, ahead=1)
    assert INF == core.ready_at(2.0, ahead=2)
    assert 12.0 == core.earliest_at(2.0, ahead=2)  # the in-flight one frees a period later


def test_delay_is_the_maximum_over_windows() -> None:
    """The overall ready time is the latest of the windows' ready times."""
    core = QuotaCore([(2, 5), (3, 100)])
    for t in (0.0, 1.0):
        assert core.try_take(t)
        core.complete(t)
    assert 5.0 == core.ready_at(2.0)  # minute-like window full until 5.0
    assert core.try_take(5.0)
    core.complete(5.0)
    assert 100.0 == core.ready_at(6.0)  # the long window (3 used) now decides


def test_discard_returns_the_slot_without_expiry() -> None:
    """A discarded permit frees its slot at once in every window."""
    core = QuotaCore([(1, 10), (5, 100)])
    assert core.try_take(0.0)
    core.discard()
    assert 0.0 == core.delay(0.0)
    assert (0, 0) == (core.status(0.0).windows[0].used, core.status(0.0).windows[1].used)


def test_abandoned_request_holds_its_slot_for_the_grace() -> None:
    """A request given up in flight frees ``abandon_grace`` later than a completion would."""
    core = QuotaCore([(2, 10)], abandon_grace=5.0)
    core.try_take(0.0)
    core.try_take(0.0)
    core.abandon(1.0)  # expiry 16.0
    core.complete(2.0)  # expiry 12.0, slotted before the abandoned one
    assert 12.0 == core.ready_at(3.0)
    assert core.try_take(12.0)
    core.complete(12.0)
    assert 16.0 == core.ready_at(12.0)


def test_margin_is_added_to_every_expiry() -> None:
    """``margin`` seconds extend every slot's hold after completion."""
    core = QuotaCore([(1, 10)], margin=0.5)
    core.try_take(0.0)
    core.complete(1.0)
    assert 11.5 == core.ready_at(1.0)


def test_observe_adds_phantoms_down_to_the_server_remaining() -> None:
    """A lower server ``remaining`` is adopted as phantom uses expiring a period from now."""
    core = QuotaCore([(10, 60), (100, 3600)])
    core.try_take(0.0)
    assert core.observe(1.0, limit=10, remaining=4)
    assert [6, 1] == [w.used for w in core.status(1.0).windows]  # 1 in flight + 5 phantoms
    assert 4 == core.status(1.0).windows[0].remaining
    core.complete(2.0)
    assert [1, 1] == [w.used for w in core.status(61.5).windows]  # phantoms expired at 61


def test_observe_never_raises_the_local_remaining() -> None:
    """A server ``remaining`` higher than the local one changes nothing."""
    core = QuotaCore([(10, 60)])
    for _ in range(5):
        core.try_take(0.0)
    assert not core.observe(0.0, limit=10, remaining=9)
    assert 5 == core.status(0.0).windows[0].used


def test_observe_window_matching_rules() -> None:
    """Unknown or unmatched limits apply only when there is exactly one window."""
    single = QuotaCore([(10, 60)])
    assert single.observe(0.0, limit=None, remaining=7)
    assert 3 == single.status(0.0).windows[0].used
    single2 = QuotaCore([(10, 60)])
    assert single2.observe(0.0, limit=999, remaining=8)
    several = QuotaCore([(10, 60), (100, 3600)])
    assert not several.observe(0.0, limit=None, remaining=0)
    assert not several.observe(0.0, limit=50, remaining=0)
    assert not several.observe(0.0, limit=10, remaining=None)
    assert several.observe(0.0, limit=100, remaining=-5)  # negative is read as 0
    assert [0, 100] == [w.used for w in several.status(0.0).windows]


def test_pause_blocks_until_it_ends_and_only_extends() -> None:
    """A cool-down blocks every take until it ends; a shorter pause does not shorten it."""
    core = QuotaCore([(100, 60)])
    core.pause(0.0, 30.0)
    core.pause(10.0, 5.0)
    assert not core.try_take(29.9)
    assert 30.0 == core.ready_at(10.0)
    assert core.try_take(30.0)


def test_pause_applies_without_windows() -> None:
    """With ``[]`` limits nothing blocks except a cool-down."""
    core = QuotaCore([])
    assert all(core.try_take(0.0) for _ in range(10_000))
    core.pause(1.0, 2.0)
    assert 3.0 == core.ready_at(1.0)
    assert RateLimitStatus(windows=(), paused_for=2.0) == core.status(1.0)


def test_status_snapshot() -> None:
    """The snapshot reports use, remaining and the next free slot per window."""
    core = QuotaCore([(2, 10), (5, 100)])
    core.try_take(0.0)
    core.try_take(0.0)
    core.complete(1.0)
    core.pause(1.0, 4.0)
    status = core.status(2.0)
    assert (
        RateLimitStatus(
            windows=(
                WindowStatus(limit=2, period=10.0, used=2, remaining=0, next_free_in=9.0),
                WindowStatus(limit=5, period=100.0, used=2, remaining=3, next_free_in=0.0),
            ),
            paused_for=3.0,
        )
        == status
    )
    core.try_take(20.0)
    core.try_take(20.0)
    assert None is core.status(20.0).windows[0].next_free_in
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        status.paused_for = 0.0  # type: ignore[misc]


def test_time_never_runs_backwards() -> None:
    """A ``now`` older than one already seen is read as the newest seen."""
    core = QuotaCore([(1, 10)])
    core.try_take(100.0)
    core.complete(100.0)
    assert not core.try_take(50.0)
    assert 110.0 == core.ready_at(5.0)


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ([(0, 60)], ValueError),
        ([(-1, 60)], ValueError),
        ([(10, 0)], ValueError),
        ([(10, -5)], ValueError),
        ([(10, math.inf)], ValueError),
        ([(10, math.nan)], ValueError),
        ([(10.0, 60)], TypeError),
        ([(True, 60)], TypeError),
        ([(10, "60")], TypeError),
        ([(10, 60, 1)], TypeError),
        ([10], TypeError),
        ("500/60", TypeError),
        (None, TypeError),
    ],
)
def test_limits_are_validated(limits: object, error: type[Exception]) -> None:
    """Bad types raise TypeError and bad values ValueError, with the value in the message."""
    with pytest.raises(error):
        QuotaCore(limits)  # type: ignore[arg-type]


def test_limits_accept_any_sequence_and_normalise_periods() -> None:
    """Any sequence of pairs is accepted; periods become floats."""
    assert ((500, 60.0), (3000, 3600.0)) == QuotaCore(([500, 60], (3000, 3600))).limits  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_pause_and_margin_validate_seconds(bad: float) -> None:
    """Negative, NaN or infinite seconds are refused for pause and margin."""
    with pytest.raises(ValueError, match="seconds"):
        QuotaCore([(1, 1)]).pause(0.0, bad)
    with pytest.raises(ValueError, match="margin"):
        QuotaCore([(1, 1)], margin=bad)


def test_memory_is_bounded_by_the_limit() -> None:
    """A million simulated acquisitions never grow the day window's deque past 10,000."""
    core = QuotaCore([(500, 60), (3000, 3600), (10_000, 86_400)])
    day = core._windows[2]
    now = 0.0
    longest = 0
    taken = 0
    while taken < 1_000_000:
        if core.try_take(now):
            core.complete(now + 0.1)
            taken += 1
            longest = max(longest, len(day.expiries))
        else:
            now = core.ready_at(now)
    assert 10_000 == longest
    assert all(len(w.expiries) <= w.limit for w in core._windows)
