"""The Redis quota store: admissions per second and round trips per admission for 1, 2 and
4 processes, and the latency of one acquire with 9,999 entries in the day window.

    .venv/bin/python benchmarks/distributed.py [--seconds 2] [--redis redis://127.0.0.1:6379/0]

Each process runs 20 tasks that take and release permits through a ``QuotaLimiter`` on one
shared ``RedisQuotaStore`` for ``--seconds``. Two settings: *free* (windows far from their
limits: the cost of the store itself) and *saturated* (one window of 200 per 0.5 s shared by
all processes: waiting, pub/sub wake-ups). The baseline is the in-memory store in one
process, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid
from typing import Any

import anyio
from redis.asyncio import Redis

from planner_async import MemoryQuotaStore, Outcome, QuotaLimiter, RedisQuotaStore

TASKS = 20
FREE = [(10**9, 60.0), (10**9, 3600.0)]
SATURATED = [(200, 0.5)]


async def _drive(limiter: QuotaLimiter, seconds: float) -> int:
    count = 0
    stop = time.monotonic() + seconds

    async def task() -> None:
        nonlocal count
        while time.monotonic() < stop:
            async with limiter.acquire():
                count += 1

    async with anyio.create_task_group() as group:
        for _ in range(TASKS):
            group.start_soon(task)
    return count


async def _worker(
    url: str, prefix: str, limits: list[tuple[int, float]], seconds: float
) -> tuple[int, int]:
    redis = Redis.from_url(url)
    store = RedisQuotaStore(redis, prefix, limits, recovery=0.0)
    count = await _drive(QuotaLimiter(store=store), seconds)
    await store.aclose()
    await redis.aclose()
    return count, store.round_trips


def _process(args: tuple[str, str, list[tuple[int, float]], float, float]) -> tuple[int, int]:
    url, prefix, limits, seconds, start_at = args
    time.sleep(max(0.0, start_at - time.time()))  # all processes start together
    return asyncio.run(_worker(url, prefix, limits, seconds))


def run_processes(
    url: str, n: int, limits: list[tuple[int, float]], seconds: float
) -> dict[str, float]:
    """Admissions per second and round trips per admission with ``n`` processes."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 2.0  # after every process has imported
    with multiprocessing.get_context("spawn").Pool(n) as pool:
        results = pool.map(_process, [(url, prefix, limits, seconds, start_at)] * n)
    asyncio.run(_cleanup(url, prefix))
    admitted = sum(c for c, _ in results)
    trips = sum(t for _, t in results)
    return {"per_s": admitted / seconds, "trips": trips / max(1, admitted)}


async def _cleanup(url: str, prefix: str) -> None:
    redis = Redis.from_url(url)
    keys = [k async for k in redis.scan_iter(f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def memory_baseline(seconds: float) -> float:
    """Admissions per second of the in-memory store, one process."""
    return await _drive(QuotaLimiter(store=MemoryQuotaStore(FREE)), seconds) / seconds


async def acquire_latency(url: str, filled: int, rounds: int = 2000) -> tuple[float, float]:
    """p50 and p99 (ms) of one acquire with ``filled`` entries already in the day window."""
    redis = Redis.from_url(url)
    prefix = f"bench:{uuid.uuid4().hex[:8]}"
    store = RedisQuotaStore(redis, prefix, [(10_000, 86_400.0)], recovery=0.0)
    await store.release((await store.acquire()).slot, Outcome.DISCARD)  # epoch, script loaded
    now = float((await redis.time())[0])
    if filled:
        entries = {f"x{i}": now + 3600 + i for i in range(filled)}
        await redis.zadd(f"{prefix}:q:10000/86400:done", entries)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        admission = await store.acquire()
        times.append((time.perf_counter() - t0) * 1000)
        assert admission.slot is not None
        await store.release(admission.slot, Outcome.DISCARD)
    await _cleanup(url, prefix)
    await redis.aclose()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


def main() -> None:
    """Run every measurement and print a table with ratios to the baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    base = asyncio.run(memory_baseline(args.seconds))
    print(f"baseline: in-memory store, 1 process, {TASKS} tasks: {base:,.0f} admissions/s")
    rows: list[Any] = []
    for name, limits in (("free", FREE), ("saturated 200/0.5s", SATURATED)):
        for n in (1, 2, 4):
            r = run_processes(args.redis, n, limits, args.seconds)
            rows.append((name, n, r["per_s"], r["per_s"] / base, r["trips"]))
    print(
        f"{'setting':<20} {'procs':>5} {'admissions/s':>13} {'vs memory':>10} {'trips/admission':>16}"
    )
    for name, n, per_s, ratio, trips in rows:
        print(f"{name:<20} {n:>5} {per_s:>13,.0f} {ratio:>9.3f}x {trips:>16.2f}")
    empty = asyncio.run(acquire_latency(args.redis, 0))
    full = asyncio.run(acquire_latency(args.redis, 9_999))
    print(f"acquire, empty day window:       p50 {empty[0]:.3f} ms  p99 {empty[1]:.3f} ms")
    print(
        f"acquire, 9,999 in the day window: p50 {full[0]:.3f} ms  p99 {full[1]:.3f} ms"
        f"  ({full[0] / empty[0]:.2f}x / {full[1] / empty[1]:.2f}x the empty window)"
    )


if __name__ == "__main__":
    main()
