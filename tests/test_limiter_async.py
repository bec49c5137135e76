"""The async limiter on virtual time (trio's MockClock): every wait is exact.

Tests that wait for a window or a cool-down run on ``trio-virtual`` alone, where a period
passes in no real time and the clock reads exactly when each waiter gets in; the ones
that never wait for time run on asyncio too.
"""

# The house style writes the expected value first in asserts, which SIM300 calls Yoda.

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from planner_async import Permit, QuotaLimiter, RateHeaders, RateLimitError

P = 60.0  # a window's period, in virtual seconds (a whole number: sums stay exact)

pytestmark = [pytest.mark.anyio, pytest.mark.backends("trio-virtual")]
#: For the tests that never wait for time to pass: they hold on asyncio too.
BOTH = pytest.mark.backends("asyncio", "trio-virtual")


def used(limiter: QuotaLimiter) -> list[int]:
    """How many slots each window counts as used."""
    return [w.used for w in limiter.status.windows]


async def wait_until_queued(limiter: QuotaLimiter, n: int) -> None:
    """Yield until ``n`` callers wait in the limiter's queue."""
    while limiter.status.waiting < n:
        await anyio.lowlevel.checkpoint()


@BOTH
async def test_free_permits_go_at_once_without_waking_anyone() -> None:
    """Free permits are taken on the fast path: no wait, no wake-up, counted as used."""
    limiter = QuotaLimiter([(3, P)])
    async with limiter.acquire() as a, limiter.acquire() as b, limiter.acquire() as c:
        assert [0.0, 0.0, 0.0] == [a.waited, b.waited, c.waited]
        assert [3] == used(limiter)
    assert 0 == limiter.wakeups
    assert [3] == used(limiter)


async def test_fifo_order_under_1000_waiters() -> None:
    """1,000 concurrent callers are admitted exactly in the order they asked."""
    limiter = QuotaLimiter([(100, P)])
    arrivals: list[int] = []
    admissions: list[int] = []

    async def call(i: int) -> None:
        arrivals.append(i)
        async with limiter.acquire():
            admissions.append(i)
            await anyio.sleep(1)  # each holds its slot a (virtual) second

    start = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for i in range(1000):
            tg.start_soon(call, i)
    assert arrivals == admissions
    assert 1000 == len(admissions)
    # ten batches of 100, each let in one period after the last one completed
    assert 9 * (P + 1) + 1 == anyio.current_time() - start


async def test_wakeups_are_about_one_per_admission() -> None:
    """Waiting callers are resumed about once per admission: no polling, no herd."""
    limiter = QuotaLimiter([(50, P)])

    async def call() -> None:
        async with limiter.acquire():
            await anyio.sleep(1)

    async with anyio.create_task_group() as tg:
        for _ in range(500):
            tg.start_soon(call)
    waited = 500 - 50
    print("wakeups", limiter.wakeups, "for", waited, "admissions that waited")
    assert limiter.wakeups <= waited + 3 * (500 // 50)  # a few per refill at most


async def test_cancelled_waiter_frees_nothing_and_blocks_nobody() -> None:
    """Cancelling a queued caller (head or not) takes no slot and lets the next one in on time."""
    limiter = QuotaLimiter([(1, P)])
    admitted: list[str] = []

    async def call(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            async with limiter.acquire():
                admitted.append(name)

    scopes = {name: anyio.CancelScope() for name in "BCD"}
    with anyio.fail_after(2 * P):
        await _run_bcd(limiter, call, scopes)
    # D is admitted one period after the holder's completion, as if B and C never were.
    assert ["D"] == admitted
    assert [1] == used(limiter)


async def _run_bcd(limiter: QuotaLimiter, call: Any, scopes: dict[str, anyio.CancelScope]) -> None:
    async with anyio.create_task_group() as tg:
        async with limiter.acquire():
            for name in "BCD":
                tg.start_soon(call, name, scopes[name])
            await wait_until_queued(limiter, 3)
        released = anyio.current_time()
        await anyio.sleep(P / 4)  # B, the head, now sleeps until released + P
        scopes["B"].cancel()
        scopes["C"].cancel()
        await anyio.sleep(1)
        assert 1 == limiter.status.waiting
        assert [1] == used(limiter)
    assert released + P == anyio.current_time()


@BOTH
async def test_head_cancelled_as_it_is_woken_passes_the_turn() -> None:
    """A head cancelled right when it is woken takes nothing, and the next waiter gets in."""
    limiter = QuotaLimiter([(1, P)])
    admitted: list[str] = []
    b_scope = anyio.CancelScope()
    someone_in = anyio.Event()

    async def call(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            async with limiter.acquire():
                admitted.append(name)
                someone_in.set()
                await anyio.sleep(1)

    async with anyio.create_task_group() as tg:
        holder = limiter.acquire()
        await holder.__aenter__()
        tg.start_soon(call, "B", b_scope)
        await wait_until_queued(limiter, 1)
        tg.start_soon(call, "C", anyio.CancelScope())
        await wait_until_queued(limiter, 2)
        holder.discard()  # the slot is free at once: B is woken to take it...
        b_scope.cancel()  # ...and cancelled before it runs
        await holder.__aexit__(None, None, None)
        with anyio.fail_after(1):
            await someone_in.wait()
        assert ["C"] == admitted
        assert [1] == used(limiter)
        tg.cancel_scope.cancel()


async def test_request_cancelled_after_acquiring_still_counts() -> None:
    """A request cancelled inside the block keeps its slot, plus the abandon grace."""
    limiter = QuotaLimiter([(1, P)], abandon_grace=P)
    with anyio.move_on_after(1):
        async with limiter.acquire():
            await anyio.sleep(10)
    cancelled_at = anyio.current_time()
    status = limiter.status.windows[0]
    assert 1 == status.used
    assert 2 * P == status.next_free_in
    async with limiter.acquire() as permit:
        assert cancelled_at + 2 * P == anyio.current_time()
        assert 2 * P == permit.waited


async def test_discard_returns_the_slot_and_wakes_the_head() -> None:
    """A discarded permit frees its slot at once, for a waiter already queued too."""
    limiter = QuotaLimiter([(1, 10 * P)])
    async with limiter.acquire() as permit:
        permit.discard()
        permit.discard()  # idempotent
    assert [0] == used(limiter)
    got: list[float] = []
    done = anyio.Event()

    async def waiter() -> None:
        async with limiter.acquire() as p:
            got.append(p.waited)
            done.set()

    async with anyio.create_task_group() as tg:
        async with limiter.acquire() as permit:
            tg.start_soon(waiter)
            await wait_until_queued(limiter, 1)
            permit.discard()
        await done.wait()
    assert [0.0] == got  # woken at once: no time passed
    assert [1] == used(limiter)


async def test_pause_holds_everyone_including_new_callers() -> None:
    """A cool-down holds queued and new callers alike until it ends, and only extends."""
    limiter = QuotaLimiter([(100, P)])
    await limiter.pause(2 * P)
    await limiter.pause(P)  # shorter: ignored
    start = anyio.current_time()
    times: list[float] = []

    async def call() -> None:
        async with limiter.acquire():
            times.append(anyio.current_time() - start)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(call)
        await anyio.sleep(P)
        assert P == limiter.status.paused_for
        tg.start_soon(call)
    assert [2 * P] * 6 == times


async def test_pause_applies_with_no_windows() -> None:
    """With ``[]`` limits nothing blocks, except a cool-down."""
    limiter = QuotaLimiter([])
    for _ in range(10_000):
        async with limiter.acquire():
            pass
    assert 0 == limiter.wakeups
    assert () == limiter.status.windows
    await limiter.pause(P)
    start = anyio.current_time()
    async with limiter.acquire() as permit:
        assert P == anyio.current_time() - start
        assert P == permit.waited


async def test_max_wait_refuses_at_once_when_too_late() -> None:
    """A caller that cannot be served within max_wait is refused at once, spending nothing."""
    limiter = QuotaLimiter([(1, 10 * P)])
    async with limiter.acquire():
        pass  # the slot frees 10 P from now
    start = anyio.current_time()
    with pytest.raises(RateLimitError) as info:
        async with limiter.acquire(max_wait=P):
            pytest.fail("must not be admitted")
    assert start == anyio.current_time()  # refused without waiting
    assert 10 * P == info.value.retry_after
    assert None is info.value.response
    assert 429 == info.value.status_code
    assert [1] == used(limiter)
    assert 0 == limiter.status.waiting


async def test_max_wait_on_in_flight_uses_the_lower_bound() -> None:
    """While slots are in flight, a max_wait below one period is refused with that period."""
    limiter = QuotaLimiter([(1, 10 * P)])
    async with limiter.acquire():
        with pytest.raises(RateLimitError) as info:
            async with limiter.acquire(max_wait=P):
                pytest.fail("must not be admitted")
    assert 10 * P == info.value.retry_after


async def test_max_wait_refuses_on_the_deadline() -> None:
    """A caller that might have been served in time, but was not, is refused at the deadline."""
    limiter = QuotaLimiter([(1, P)])
    async with anyio.create_task_group() as tg:
        async with limiter.acquire():
            start = anyio.current_time()
            with pytest.raises(RateLimitError) as info:
                async with limiter.acquire(max_wait=2 * P):
                    pytest.fail("must not be admitted")
            waited = anyio.current_time() - start
        tg.cancel_scope.cancel()
    assert 2 * P == waited
    assert P == info.value.retry_after  # still in flight: at least one period
    assert 0 == limiter.status.waiting
    assert [1] == used(limiter)  # the held one completed; the refused one took nothing


async def test_max_wait_in_time_is_admitted() -> None:
    """A max_wait long enough is just a wait."""
    limiter = QuotaLimiter([(1, P)])
    async with limiter.acquire():
        pass
    async with limiter.acquire(max_wait=3 * P) as permit:
        assert P == permit.waited


@BOTH
async def test_nested_permits_track_their_own_state() -> None:
    """Nested permits each end on their own, discarded or not."""
    limiter = QuotaLimiter([(5, P)])
    async with limiter.acquire() as outer:
        async with limiter.acquire() as inner:
            inner.discard()
        assert [1] == used(limiter)
        assert outer.held
    assert not outer.held
    assert [1] == used(limiter)


@BOTH
async def test_observe_and_status_through_the_limiter() -> None:
    """The server's lower remaining is adopted and shows in the snapshot."""
    limiter = QuotaLimiter([(500, 60), (3000, 3600)])
    async with limiter.acquire():
        await limiter.observe(RateHeaders(limit=3000, remaining=100))
    assert [1, 2900] == used(limiter)
    assert (500, 3000) == tuple(n for n, _ in limiter.limits)


def test_status_reads_an_injected_clock() -> None:
    """The clock is injectable; the snapshot uses it (no event loop needed)."""
    now = [100.0]
    limiter = QuotaLimiter([(2, 10)], clock=lambda: now[0])
    asyncio.run(limiter.pause(5))
    now[0] = 103.0
    assert 2.0 == limiter.status.paused_for


def test_permit_misuse_is_refused() -> None:
    """A permit cannot be discarded or completed before it was acquired; bad max_wait fails."""
    limiter = QuotaLimiter([(2, 10)])
    permit = limiter.acquire()
    assert isinstance(permit, Permit)
    with pytest.raises(RuntimeError):
        permit.discard()
    with pytest.raises(ValueError, match="max_wait"):
        limiter.acquire(max_wait=-1)
    with pytest.raises(TypeError, match="max_wait"):
        limiter.acquire(max_wait="1")  # type: ignore[arg-type]


def test_status_outside_an_event_loop_reports_the_last_known_state() -> None:
    """Read with no event loop running, the snapshot is as of the limiter's last use."""
    limiter = QuotaLimiter([(2, 10)])
    fresh = limiter.status
    assert (0, 2, 0.0, 0.0) == (
        fresh.windows[0].used,
        fresh.windows[0].remaining,
        fresh.windows[0].next_free_in,
        fresh.paused_for,
    )

    async def use() -> None:
        async with limiter.acquire():
            pass

    anyio.run(use)
    status = limiter.status
    assert 1 == status.windows[0].used
    assert status.windows[0].next_free_in == 0.0


async def test_explicit_complete_and_abandon() -> None:
    """``complete()`` starts the period now; ``abandon()`` adds the grace; both are final."""
    limiter = QuotaLimiter([(2, 10 * P)], abandon_grace=5 * P)
    async with limiter.acquire() as first:
        first.complete()
        assert not first.held
        await anyio.sleep(P)
    async with limiter.acquire() as second:
        second.abandon()
        second.complete()  # no effect: already abandoned
    status = limiter.status.windows[0]
    assert 2 == status.used
    assert 9 * P == status.next_free_in  # the first one's slot
