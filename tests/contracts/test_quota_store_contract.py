"""The ``QuotaStore`` contract, run over every implementation (see ``conftest.py``).

What every store promises its limiter: a window never admits over its limit, however many
callers ask at once; a slot frees one period after its response (a grace more when
abandoned, at once when discarded); a pause extends, never shortens; the server's word
is adopted when it says less is left; ``status`` has one entry per window, in order.
"""

from __future__ import annotations

import math
import random

import anyio
import pytest
from beds import QuotaBed

from planner_async import (
    Outcome,
    QuotaStore,
    RateHeaders,
    RateLimitStatus,
    WindowStatus,
)

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def _close(expected: float, actual: float) -> bool:
    return math.isclose(expected, actual, rel_tol=0, abs_tol=1e-6)


async def test_is_a_quota_store(quota_bed: QuotaBed) -> None:
    """The store satisfies the protocol and reports its windows as given."""
    store = quota_bed.open([(3, 10.0), (5, 60.0)])
    assert isinstance(store, QuotaStore)
    assert ((3, 10.0), (5, 60.0)) == store.limits


async def test_concurrent_acquires_never_overfill_a_window(quota_bed: QuotaBed) -> None:
    """60 callers asking at once (on 4 handles where shared) get exactly the 10 slots."""
    first = quota_bed.open([(10, 60.0), (25, 3600.0)])
    stores = [first] + [quota_bed.peer(first) for _ in range(3)]
    admitted: list[object] = []
    refused: list[tuple[float, float]] = []

    async def ask(store: QuotaStore) -> None:
        for _ in range(15):
            admission = await store.acquire()
            if admission.slot is None:
                refused.append((admission.wait, admission.earliest))
            else:
                admitted.append(admission.slot)

    async with anyio.create_task_group() as group:
        for store in stores:
            group.start_soon(ask, store)
    status = await first.status()
    assert 10 == len(admitted)
    if quota_bed.shared:
        assert 10 == len(set(map(str, admitted)))  # ten distinct slots, one per caller
    assert [10, 10] == [w.used for w in status.windows]
    for wait, earliest in refused:  # all in flight: at least a period away, bound finite
        assert wait >= 60.0
        assert 0.0 <= earliest <= wait
        assert math.isfinite(earliest)


def _occupied(held: list[list[float]], t: float, period: float) -> int:
    """Slots holding a window at ``t``: [admitted, released or inf, extra hold] each."""
    return sum(1 for admitted, end, extra in held if admitted <= t < end + extra + period)


@pytest.mark.parametrize("seed", range(3))
async def test_a_window_is_never_over_its_limit_on_a_random_schedule(
    quota_bed: QuotaBed, seed: int
) -> None:
    """Admissions, releases of every kind, pauses and time: no window ever holds more."""
    rng = random.Random(seed)
    limits = [(3, 1.0), (5, 4.0)]
    store = quota_bed.open(limits, abandon_grace=0.5)
    other = quota_bed.peer(store, abandon_grace=0.5)
    held: list[tuple[object, list[float]]] = []  # (slot, entry): memory slots are alike
    history: list[list[float]] = []
    refused = 0
    for _ in range(300):
        op = rng.choice(["acquire"] * 4 + ["end"] * 3 + ["advance"] * 2 + ["pause"])
        if op == "advance":
            quota_bed.advance(rng.choice([0.1, 0.3, 0.5, 1.0, 2.0]))
        elif op == "pause":
            await store.pause(rng.choice([0.2, 0.7]))
        elif op == "acquire":
            slot = (await rng.choice([store, other]).acquire()).slot
            refused += slot is None
            if slot is not None:
                entry = [quota_bed.now, math.inf, 0.0]
                held.append((slot, entry))
                history.append(entry)
                for limit, period in limits:
                    assert _occupied(history, quota_bed.now, period) <= limit
        elif held:
            slot, entry = held.pop(rng.randrange(len(held)))
            outcome = rng.choice(list(Outcome))
            await rng.choice([store, other]).release(slot, outcome)
            # Discarded: free from now on (only later times are checked); else held on.
            entry[1] = -math.inf if outcome is Outcome.DISCARD else quota_bed.now
            entry[2] = 0.5 if outcome is Outcome.ABANDON else 0.0
    assert len(history) > 30  # the windows were filled and refused many times over
    assert refused > 10


@pytest.mark.parametrize(
    ("outcome", "frees_in"),
    [(Outcome.COMPLETE, 10.0), (Outcome.ABANDON, 12.0), (Outcome.DISCARD, 0.0)],
)
async def test_release_outcomes_free_the_slot_on_time(
    quota_bed: QuotaBed, outcome: Outcome, frees_in: float
) -> None:
    """A slot frees a period after completion, a grace more after abandon, at once on discard."""
    store = quota_bed.open([(1, 10.0)], abandon_grace=2.0)
    slot = (await store.acquire()).slot
    quota_bed.advance(4.0)  # time in flight does not count: the period runs from the release
    await quota_bed.peer(store, abandon_grace=2.0).release(slot, outcome)
    if frees_in:
        refused = await store.acquire()
        quota_bed.advance(frees_in - 0.1)
        still = await store.acquire()
        quota_bed.advance(0.1)
        assert refused.slot is None
        assert _close(frees_in, refused.wait)
        assert still.slot is None
        assert _close(0.1, still.wait)
    assert (await store.acquire()).slot is not None


async def test_pause_extends_and_never_shortens(quota_bed: QuotaBed) -> None:
    """A shorter pause leaves a longer one in place; a longer one extends it, for every handle."""
    store = quota_bed.open([(5, 10.0)])
    other = quota_bed.peer(store)
    await store.pause(5.0)
    await other.pause(1.0)
    shortened = await other.status()
    refused = await other.acquire()
    await other.pause(8.0)
    extended = await store.status()
    quota_bed.advance(7.9)
    late = await store.acquire()
    quota_bed.advance(0.1)
    assert _close(5.0, shortened.paused_for)
    assert refused.slot is None
    assert _close(5.0, refused.wait)
    assert _close(8.0, extended.paused_for)
    assert late.slot is None
    assert (await store.acquire()).slot is not None
    assert 0.0 == (await store.status()).paused_for


async def test_observe_adopts_only_a_lower_remaining(quota_bed: QuotaBed) -> None:
    """The server's remaining count is adopted by the end of the permit that saw it, if lower."""
    store = quota_bed.open([(10, 60.0)])
    for remaining in (4, 9):  # 4: adopted (used 6); 9: more than we know is left: ignored
        slot = (await store.acquire()).slot
        await store.observe(RateHeaders(limit=10, remaining=remaining, reset=None))
        await store.release(slot, Outcome.COMPLETE)
    counted = (await store.status()).windows[0].used
    slot = (await store.acquire()).slot
    await store.observe(RateHeaders(limit=10, remaining=0, reset=1.0))
    await store.release(slot, Outcome.COMPLETE)
    full = await store.acquire()
    quota_bed.advance(1.0)  # the first adopted usage frees when the server said it would
    again = await store.acquire()
    assert 7 == counted
    assert full.slot is None
    assert _close(1.0, full.wait)
    assert again.slot is not None


async def test_observe_picks_the_window_whose_limit_matches(quota_bed: QuotaBed) -> None:
    """Headers naming the hourly limit change the hourly window only."""
    store = quota_bed.open([(5, 10.0), (100, 3600.0)])
    slot = (await store.acquire()).slot
    await store.observe(RateHeaders(limit=100, remaining=50, reset=None))
    await store.release(slot, Outcome.COMPLETE)
    status = await store.status()
    assert [1, 50] == [w.used for w in status.windows]


async def test_status_has_one_entry_per_window_in_order(quota_bed: QuotaBed) -> None:
    """Fresh, full with requests in flight, and after a completion: every field as documented."""
    store = quota_bed.open([(3, 10.0), (5, 60.0)])
    fresh = await store.status(waiting=4)
    slots = [(await store.acquire()).slot for _ in range(3)]
    full = await store.status()
    await store.release(slots[0], Outcome.COMPLETE)
    quota_bed.advance(4.0)
    later = await store.status()
    assert (
        RateLimitStatus(
            (WindowStatus(3, 10.0, 0, 3, 0.0), WindowStatus(5, 60.0, 0, 5, 0.0)), 0.0, 4
        )
        == fresh
    )
    assert (WindowStatus(3, 10.0, 3, 0, None), WindowStatus(5, 60.0, 3, 2, 0.0)) == full.windows
    assert 0 == full.waiting
    assert (3, 0) == (later.windows[0].used, later.windows[0].remaining)
    next_free = later.windows[0].next_free_in
    assert next_free is not None
    assert _close(6.0, next_free)
