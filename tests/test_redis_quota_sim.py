"""The Lua quota script against the in-memory :class:`QuotaCore`, on the same schedules.

The script takes an injected time (``store._injected_now``, tests only) instead of
Redis ``TIME``, so a seeded random schedule of acquisitions, completions, abandons,
discards, pauses, adopted headers and status reads can be replayed on both: they must
admit the same requests, name the same times and report the same windows.

Lanes: acquisitions are interactive or batch. While the model's interactive stamp is
fresh, a batch request must be admitted exactly when every window keeps its reserve free,
and a refused one is told a time between the core's and the stamp's ageing out.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from redis_support import redis_client, unique_prefix

from planner_async import Outcome, QuotaCore, RateHeaders, RedisQuotaStore
from planner_async._redis._script_args import observe_args

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]

SHAPES = [
    [(3, 1.0)],
    [(3, 1.0), (5, 4.0)],
    [(2, 0.5), (4, 2.0), (7, 6.0)],
]
LEASE = 1e6  # leases never run out in the simulation: in flight means in flight
SHARE, MEMORY = 0.3, 2.0  # interactive_reserve and lane_memory of the simulated stores


def _close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=0, abs_tol=1e-6)


class _Sim:
    """One schedule replayed on a Redis store and on a QuotaCore."""

    def __init__(self, store: RedisQuotaStore, core: QuotaCore, rng: random.Random) -> None:
        self.store, self.core, self.rng = store, core, rng
        self.t = 1000.0
        self.held: list[object] = []
        self.admitted = 0
        self.timed = 0  # refusals with a known time
        self.stamp = -math.inf  # when the model last saw an interactive acquire
        self.reserved = 0  # batch decisions taken under the reserve

    async def step(self) -> None:
        op = self.rng.choice(["acquire"] * 4 + ["end"] * 3 + ["advance"] * 3 + ["other"])
        if op == "advance":
            self.t += self.rng.choice([0.0, 0.05, 0.3, 0.5, 1.0, 2.5])
        self.store._injected_now = self.t
        if op == "acquire":
            await self.acquire(self.rng.choice([0, 0, 1, 3]))
        elif op == "end" and self.held:
            await self.end(self.held.pop(self.rng.randrange(len(self.held))))
        elif op == "other":
            await self.rng.choice([self.pause, self.observe, self.status])()

    async def acquire(self, ahead: int) -> None:
        lane = self.rng.choice(["interactive", "batch"])
        if lane == "interactive":
            self.stamp = self.t
        elif self.t < self.stamp + MEMORY:
            await self.reserved_batch(ahead)
            return
        admission = await self.store.acquire(ahead, lane=lane)
        took = self.core.try_take(self.t)
        assert (admission.slot is not None) == took, self.t
        if took:
            self.held.append(admission.slot)
            self.admitted += 1
            return
        delay = self.core.delay(self.t, ahead)
        if delay == math.inf:  # in flight decides; the store names the lease's end
            assert admission.wait > LEASE / 2
        else:
            assert _close(admission.wait, delay), (admission.wait, delay)
            self.timed += 1
        assert _close(admission.earliest, self.core.earliest_at(self.t, ahead) - self.t)

    async def reserved_batch(self, ahead: int) -> None:
        """A batch acquire while interactive traffic is fresh: the reserve must stay free."""
        self.reserved += 1
        admission = await self.store.acquire(ahead, lane="batch")
        status = self.core.status(self.t)
        fits = status.paused_for == 0 and all(
            w.used + 1 + min(math.ceil(w.limit * SHARE), w.limit - 1) <= w.limit
            for w in status.windows
        )
        assert (admission.slot is not None) == fits, self.t
        if fits:
            assert self.core.try_take(self.t)
            self.held.append(admission.slot)
            self.admitted += 1
            return
        plain = self.core.delay(self.t, ahead)
        if plain == math.inf:
            assert admission.wait > LEASE / 2
        else:
            assert plain - 1e-6 <= admission.wait <= max(plain, self.stamp + MEMORY - self.t) + 1e-6

    async def end(self, slot: object) -> None:
        outcome = self.rng.choice(
            [Outcome.COMPLETE, Outcome.COMPLETE, Outcome.ABANDON, Outcome.DISCARD]
        )
        await self.store.release(slot, outcome)
        if outcome is Outcome.COMPLETE:
            self.core.complete(self.t)
        elif outcome is Outcome.ABANDON:
            self.core.abandon(self.t)
        else:
            self.core.discard()

    async def pause(self) -> None:
        seconds = self.rng.choice([0.2, 1.0, 3.0])
        await self.store.pause(seconds)
        self.core.pause(self.t, seconds)

    async def observe(self) -> None:
        limit = self.rng.choice([None, 999, *(n for n, _ in self.core.limits)])
        remaining = self.rng.randrange(0, 6)
        reset = self.rng.choice([None, 0.2, 0.7, 10.0])
        headers = RateHeaders(limit=limit, remaining=remaining, reset=reset)
        await self.store._run("observe", observe_args(headers))
        self.core.observe(self.t, limit=limit, remaining=remaining, reset=reset)

    async def status(self) -> None:
        mine, theirs = await self.store.status(), self.core.status(self.t)
        assert _close(mine.paused_for, theirs.paused_for)
        for a, b in zip(mine.windows, theirs.windows, strict=True):
            assert (a.used, a.remaining) == (b.used, b.remaining)
            if b.next_free_in is None:
                assert a.next_free_in is None
            else:
                assert a.next_free_in is not None
                assert _close(a.next_free_in, b.next_free_in)


@pytest.mark.parametrize("seed", range(12))
async def test_script_admits_like_the_core(seed: int) -> None:
    """A seeded schedule gives the same admissions, waits and windows in Redis and in memory."""
    rng = random.Random(seed)
    limits = SHAPES[seed % len(SHAPES)]
    margin, grace = rng.choice([0.0, 0.25]), rng.choice([0.0, 2.0])
    prefix = unique_prefix(f"sim{seed}")
    async with redis_client(prefix=prefix) as redis:
        store = RedisQuotaStore(
            redis,
            prefix,
            limits,
            lease=LEASE,
            abandon_grace=grace,
            margin=margin,
            recovery=0.0,
            interactive_reserve=SHARE,
            lane_memory=MEMORY,
        )
        sim = _Sim(store, QuotaCore(limits, margin=margin, abandon_grace=grace), rng)
        for _ in range(400):
            await sim.step()
        await sim.status()
    assert sim.admitted > 10  # both admissions and refusals with a time were compared
    assert sim.timed > 10
    assert sim.reserved > 10


async def test_observe_without_a_matching_window_adopts_nothing() -> None:
    """Headers naming no known window change nothing when there are several windows."""
    prefix = unique_prefix("simobs")
    async with redis_client(prefix=prefix) as redis:
        store = RedisQuotaStore(redis, prefix, [(3, 1.0), (5, 4.0)], recovery=0.0)
        args: list[Any] = observe_args(RateHeaders(limit=None, remaining=0))
        await store._run("observe", args)
        status = await store.status()
    assert [w.used for w in status.windows] == [0, 0]
