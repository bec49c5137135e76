"""Benchmarks of the quota limiter: numbers to read, not tests to pass.

Run from the repository root:

    .venv/bin/python benchmarks/limiter.py

1. Acquisitions per second when nothing blocks (three windows with huge limits), ours vs
   aiolimiter (three nested ``AsyncLimiter``) vs pyrate-limiter (one ``Limiter`` with three
   ``Rate``), all in one run so that the ratios are fair.
2. CPU seconds per admission with 10,000 callers queued at once.
3. A day of saturated demand through the sans-I/O core: when the 500th, 3,000th and
   10,000th requests are admitted, against the optimal schedule.
"""

from __future__ import annotations

import asyncio
import heapq
import platform
import random
import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import trio
import trio.testing
from aiolimiter import AsyncLimiter
from pyrate_limiter import Duration, Limiter, Rate

from planner_async._limiter import QuotaLimiter
from planner_async._quota import QuotaCore

HUGE = 10**9
# pyrate-limiter wants strictly increasing limits; everyone gets the same windows.
WINDOWS = [(HUGE, 60), (2 * HUGE, 3600), (3 * HUGE, 86_400)]


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


# -- 1. acquisitions per second, nothing blocking --------------------------------------------


async def ours(n: int) -> float:
    limiter = QuotaLimiter(WINDOWS)
    start = time.perf_counter()
    for _ in range(n):
        async with limiter:
            pass
    return _rate(n, time.perf_counter() - start)


async def ours_acquire(n: int) -> float:
    limiter = QuotaLimiter(WINDOWS)
    start = time.perf_counter()
    for _ in range(n):
        async with limiter.acquire(max_wait=5.0):
            pass
    return _rate(n, time.perf_counter() - start)


async def aiolimiter_nested(n: int) -> float:
    a, b, c = (AsyncLimiter(n, p) for n, p in WINDOWS)
    start = time.perf_counter()
    for _ in range(n):
        async with a, b, c:
            pass
    return _rate(n, time.perf_counter() - start)


async def pyrate(n: int) -> float:
    limiter = Limiter(
        [Rate(HUGE, Duration.MINUTE), Rate(2 * HUGE, Duration.HOUR), Rate(3 * HUGE, Duration.DAY)]
    )
    start = time.perf_counter()
    for _ in range(n):
        await limiter.try_acquire_async("planner")
    return _rate(n, time.perf_counter() - start)


def throughput() -> list[tuple[str, float]]:
    n = 100_000
    rows: list[tuple[str, float]] = []
    cases: list[tuple[str, Callable[[int], Awaitable[float]], int]] = [
        ("planner_async QuotaLimiter, `async with limiter`", ours, n),
        ("planner_async QuotaLimiter, `acquire(max_wait=5)`", ours_acquire, n),
        ("aiolimiter 1.3, three nested AsyncLimiter", aiolimiter_nested, n),
        ("pyrate-limiter 4.5, Limiter([3 Rates]).try_acquire_async", pyrate, n // 10),
    ]
    for name, fn, count in cases:
        rows.append((f"{name} (asyncio)", asyncio.run(fn(count))))  # type: ignore[arg-type]
    rows.append(("planner_async QuotaLimiter, `async with limiter` (trio)", trio.run(ours, n)))
    return rows


# -- 2. CPU per admission with 10,000 waiters ------------------------------------------------


async def queued(limits: list[tuple[int, float]], n: int, latency: float) -> tuple[float, int]:
    limiter = QuotaLimiter(limits)

    async def call() -> None:
        async with limiter:
            await anyio.sleep(latency)

    cpu = time.process_time()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(call)
    return time.process_time() - cpu, limiter.wakeups


async def no_limiter(n: int, latency: float) -> float:
    async def call() -> None:
        await anyio.sleep(latency)

    cpu = time.process_time()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(call)
    return time.process_time() - cpu


async def aiolimiter_queued(n: int, rate: int, period: float, latency: float) -> float:
    limiter = AsyncLimiter(rate, period)

    async def call() -> None:
        async with limiter:
            await asyncio.sleep(latency)

    cpu = time.process_time()
    await asyncio.gather(*(call() for _ in range(n)))
    return time.process_time() - cpu


def waiters() -> list[tuple[str, float, str]]:
    n = 10_000
    rows = []
    cpu, wakes = trio.run(
        queued,
        [(500, 60.0), (3000, 3600.0), (10_000, 86_400.0)],
        n,
        0.1,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    rows.append(
        (
            "ours, trio MockClock, real limits, 10,000 queued (~3 virtual hours)",
            cpu / n,
            f"{wakes} wake-ups",
        )
    )
    start = time.perf_counter()
    cpu, wakes = anyio.run(queued, [(1000, 0.02)], n, 0.001, backend="asyncio")
    rows.append(
        (
            "ours, asyncio real clock, 1000 per 20 ms, 10,000 queued",
            cpu / n,
            f"{wakes} wake-ups, {time.perf_counter() - start:.2f} s wall",
        )
    )
    cpu = anyio.run(no_limiter, n, 0.001, backend="asyncio")
    rows.append(
        (
            "baseline: the same 10,000 anyio tasks with no limiter (asyncio)",
            cpu / n,
            "task + sleep cost alone",
        )
    )
    start = time.perf_counter()
    cpu = asyncio.run(aiolimiter_queued(n, 1000, 0.02, 0.001))
    rows.append(
        (
            "aiolimiter, asyncio real clock, 1000 per 20 ms, 10,000 queued",
            cpu / n,
            f"{time.perf_counter() - start:.2f} s wall (leaky bucket: paced)",
        )
    )
    return rows


# -- 3. the day schedule -------------------------------------------------------------------


def day_schedule(seed: int = 1) -> dict[int, float]:
    """Queue 20,000 at t=0 with 50-300 ms latency; return admission times of milestones."""
    rng = random.Random(seed)
    core = QuotaCore([(500, 60.0), (3000, 3600.0), (10_000, 86_400.0)])
    completions: list[float] = []
    admitted = 0
    now = 0.0
    marks = {1: 0.0, 500: 0.0, 501: 0.0, 3000: 0.0, 3001: 0.0, 10_000: 0.0, 10_001: 0.0}
    while admitted < max(marks):
        if core.try_take(now):
            admitted += 1
            if admitted in marks:
                marks[admitted] = now
            heapq.heappush(completions, now + rng.uniform(0.05, 0.3))
            continue
        ready = core.ready_at(now)
        if completions and completions[0] <= ready:
            now = heapq.heappop(completions)
            core.complete(now)
        else:
            now = ready
    return marks


def main() -> None:
    print(f"# planner_async limiter benchmarks — {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"# Python {sys.version.split()[0]}, {platform.platform()}, {platform.processor()}")
    print()
    rows = throughput()
    base = rows[0][1]
    print("## 1. Acquisitions per second, nothing blocking (one task, sequential)")
    print()
    print("| limiter | acquisitions/s | vs ours |")
    print("|---|---:|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}× |")
    print()
    print("## 2. CPU per admission with 10,000 waiters")
    print()
    print("| scenario | CPU µs / admission | notes |")
    print("|---|---:|---|")
    for name, cpu, note in waiters():
        print(f"| {name} | {cpu * 1e6:,.1f} | {note} |")
    print()
    print("## 3. A day of saturated demand (20,000 queued at t=0, latency 50–300 ms)")
    print()
    marks = day_schedule()
    optimal = {
        1: (0.0, "0"),
        500: (0.0, "0"),
        501: (60.0, "60 + RTT"),
        3000: (300.0, "300 + 5 RTT"),
        3001: (3600.0, "3600 + RTT"),
        10_000: (3 * 3600.0 + 60.0, "3×3600 + 60 + RTTs"),
        10_001: (86_400.0, "86400 + RTT"),
    }
    print("| request # | admitted at (s) | optimal (s) | late by (s) |")
    print("|---:|---:|---|---:|")
    for k, t in marks.items():
        floor, label = optimal[k]
        print(f"| {k:,} | {t:,.3f} | {label} | {t - floor:.3f} |")


if __name__ == "__main__":
    main()
