"""The priority lanes' contract (issue 14 items 2 and 6), over every ``QuotaStore``.

The rule: an interactive acquire, admitted or not, stamps "interactive seen now"; while
that stamp is younger than ``lane_memory``, a batch acquire is admitted only when every
window keeps ``reserve = min(ceil(limit * interactive_reserve), limit - 1)`` slots free.
A refused batch acquire waits for the earlier of "the reserve clears" and "the stamp ages
out". ``forecast(n, lane=...)`` says when ``n`` more requests could go, reserving nothing.

The in-memory store gains lanes in the lead's change: until ``MemoryQuotaStore.acquire``
takes ``lane=``, its parametrisation is an expected failure (``strict=False``).
"""

from __future__ import annotations

import math

import pytest
from beds import QuotaBed

from planner_async import Outcome, QuotaStore

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


@pytest.fixture
def bed(quota_bed: QuotaBed) -> QuotaBed:
    """The quota bed: every store keeps the same lanes rule."""
    return quota_bed


def _close(expected: float, actual: float) -> bool:
    return math.isclose(expected, actual, rel_tol=0, abs_tol=1e-6)


async def _take(store: QuotaStore, lane: str, count: int) -> int:
    """Acquire ``count`` times in ``lane``; how many were admitted."""
    admitted = 0
    for _ in range(count):
        admitted += (await store.acquire(lane=lane)).slot is not None
    return admitted


async def test_a_batch_job_alone_gets_the_whole_window(bed: QuotaBed) -> None:
    """With no interactive traffic seen, batch fills every slot."""
    store = bed.open([(10, 60.0)])
    assert 10 == await _take(store, "batch", 12)


async def test_batch_leaves_the_reserve_while_interactive_is_seen(bed: QuotaBed) -> None:
    """After one interactive call, batch stops at limit - 20%; interactive gets the rest."""
    store = bed.open([(20, 60.0), (100, 3600.0)])
    other = bed.peer(store)
    first = await _take(store, "interactive", 1)
    batch = await _take(other, "batch", 30)  # stops at 16 used: 20 - 4
    interactive = await _take(store, "interactive", 10)
    assert (1, 15, 4) == (first, batch, interactive)


async def test_a_refused_batch_waits_until_the_stamp_ages_out(bed: QuotaBed) -> None:
    """All in flight and only the reserve left: batch waits for the stamp, then goes."""
    store = bed.open([(10, 60.0)], lane_memory=5.0)
    await _take(store, "interactive", 1)
    filled = await _take(store, "batch", 7)
    refused = await store.acquire(lane="batch")
    bed.advance(4.9)
    still = await store.acquire(lane="batch")
    bed.advance(0.1)
    after = await _take(store, "batch", 3)
    assert 7 == filled
    assert refused.slot is None
    assert _close(5.0, refused.wait)
    assert still.slot is None
    assert _close(0.1, still.wait)
    assert 2 == after


async def test_a_refused_batch_waits_for_the_reserve_to_clear_when_sooner(bed: QuotaBed) -> None:
    """When a slot frees before the stamp ages out, batch is told that earlier time."""
    store = bed.open([(10, 5.0)], lane_memory=60.0)
    slot = (await store.acquire()).slot
    await store.release(slot, Outcome.COMPLETE)
    await _take(store, "batch", 7)  # used 8 = 10 - 2
    bed.advance(1.0)
    refused = await store.acquire(lane="batch")
    bed.advance(4.0)
    admitted = await store.acquire(lane="batch")
    assert refused.slot is None
    assert _close(4.0, refused.wait)  # the interactive slot frees at 5 s, the stamp at 60 s
    assert admitted.slot is not None


async def test_a_refused_interactive_acquire_stamps_too(bed: QuotaBed) -> None:
    """Interactive callers refused by a full window still make batch leave them the reserve."""
    store = bed.open([(5, 60.0)])
    slots = [(await store.acquire(lane="batch")).slot for _ in range(5)]
    refused = await store.acquire(lane="interactive")
    await store.release(slots[0], Outcome.DISCARD)
    batch = await store.acquire(lane="batch")
    interactive = await store.acquire(lane="interactive")
    assert refused.slot is None
    assert batch.slot is None
    assert interactive.slot is not None


async def test_no_reserve_when_turned_off(bed: QuotaBed) -> None:
    """``interactive_reserve=0``: batch fills the window even right after interactive."""
    store = bed.open([(10, 60.0)], interactive_reserve=0.0)
    await _take(store, "interactive", 1)
    assert 9 == await _take(store, "batch", 12)


async def test_a_one_slot_window_is_never_reserved(bed: QuotaBed) -> None:
    """The reserve leaves batch at least one slot of every window."""
    store = bed.open([(1, 60.0), (2, 60.0)], interactive_reserve=0.9)
    slot = (await store.acquire()).slot
    await store.release(slot, Outcome.DISCARD)
    assert 1 == await _take(store, "batch", 2)


async def test_forecast_says_when_n_requests_could_go(bed: QuotaBed) -> None:
    """0 when they fit now; a period after completions; inf when in-flight requests decide."""
    store = bed.open([(10, 60.0)])
    fresh = [await store.forecast(n) for n in (1, 10)]
    slots = [(await store.acquire()).slot for _ in range(4)]
    in_flight = await store.forecast(7)
    for slot in slots:
        await store.release(slot, Outcome.COMPLETE)
    bed.advance(10.0)
    later = [await store.forecast(n) for n in (6, 7, 10)]
    assert [0.0, 0.0] == fresh
    assert math.inf == in_flight
    assert 0.0 == later[0]
    assert _close(50.0, later[1])
    assert _close(50.0, later[2])


async def test_forecast_follows_the_lanes_and_reserves_nothing(bed: QuotaBed) -> None:
    """Batch is forecast behind the reserve; a forecast neither takes a slot nor stamps."""
    store = bed.open([(10, 60.0)], lane_memory=5.0)
    quiet = await store.forecast(10, lane="interactive")
    alone = await store.forecast(10, lane="batch")
    await _take(store, "interactive", 1)
    behind = [await store.forecast(n, lane="batch") for n in (7, 8)]
    interactive = await store.forecast(9, lane="interactive")
    status = await store.status()
    assert (0.0, 0.0) == (quiet, alone)
    assert 0.0 == behind[0]
    assert _close(5.0, behind[1])  # the 8th would need the reserve: after the stamp ages
    assert 0.0 == interactive
    assert 1 == status.windows[0].used


async def test_a_wrong_lane_is_refused_before_anything_counts(bed: QuotaBed) -> None:
    """An unknown lane is a ValueError (a non-str a TypeError); nothing is taken."""
    store = bed.open([(3, 60.0)])
    with pytest.raises(ValueError, match="lane"):
        await store.acquire(lane="bulk")
    with pytest.raises(TypeError, match="lane"):
        await store.forecast(1, lane=1)
    assert 0 == (await store.status()).windows[0].used
