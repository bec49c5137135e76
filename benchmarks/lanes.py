"""Quota stewardship: priority lanes under a batch flood, and the requests coalescing and the
answer cache save (issue 14).

    .venv/bin/python benchmarks/lanes.py [--part one|two|web|all]

* ``one``: one process, the fake in process with a sliding window of 20 per 1 s. A web
  app's client (interactive) and an ingestion job's client (``priority="batch"``) of the
  same account: 60 batch tasks × 4 ``events.get`` in flight, and an interactive
  ``events.get(..., max_wait=1)`` every 250 ms while they run. Then the same job alone.
* ``two``: the same mix across two processes sharing the account through a throwaway
  ``redis-server`` (``redis_url=``), the fake served on loopback.
* ``web``: 2,000 page views by 50 concurrent visitors over 200 event ids drawn from a Zipf
  law (s = 1.1), 20 ms of server latency: requests sent with coalescing off, on, and on
  with ``cache_ttl=5``.

Targets (issue 14): 0 interactive failures, interactive p90 wait <= 0.35 s, 0 × 429; the
lone batch job moves 60 calls in <= 2.5 s (the window allows about 2.0 s); across two
processes, 0 interactive failures, 1 login, 0 × 429.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import attrs
import httpx

from planner_async import PlannerClient, QuotaWaitError
from planner_async.testing import FakePlanner

WINDOW = [(20, 1.0)]
BATCH_TASKS, BATCH_CALLS = 60, 4
EVERY = 0.25


def _client(fake: FakePlanner | None, base_url: str, **options: Any) -> PlannerClient:
    options.setdefault("rate_limits", WINDOW)
    options.setdefault("auth_rate_limits", [])
    options.setdefault("coalesce", False)  # distinct calls: measure the lanes alone
    if fake is not None:
        options["http_client"] = httpx.AsyncClient(transport=fake.transport())
    return PlannerClient("demo", "demo-key", base_url=base_url, **options)


async def batch_job(client: PlannerClient, ids: list[int]) -> float:
    """60 tasks × 4 gets in the batch lane; the seconds it took."""
    started = time.monotonic()

    async def task(n: int) -> None:
        for k in range(BATCH_CALLS):
            await client.events.get(ids[(n * BATCH_CALLS + k) % len(ids)], priority="batch")

    async with anyio.create_task_group() as tg:
        for n in range(BATCH_TASKS):
            tg.start_soon(task, n)
    return time.monotonic() - started


async def web_app(
    client: PlannerClient, ids: list[int], done: Callable[[], bool]
) -> dict[str, Any]:
    """An interactive get every 250 ms until ``done()``; waits and failures."""
    waits: list[float] = []
    failures = 0
    n = 0
    while not done():
        started = time.monotonic()
        try:
            await client.events.get(ids[n % len(ids)], max_wait=1)
        except QuotaWaitError:
            failures += 1
        waits.append(time.monotonic() - started)
        n += 1
        await anyio.sleep(max(0.0, EVERY - (time.monotonic() - started)))
    return {"waits": waits, "failures": failures}


def _summary(waits: list[float]) -> str:
    if not waits:
        return "no interactive calls"
    ordered = sorted(waits)
    p90 = ordered[max(0, int(0.9 * len(ordered)) - 1)]
    return (
        f"{len(ordered)} calls, p50 {statistics.median(ordered):.3f} s, "
        f"p90 {p90:.3f} s, max {ordered[-1]:.3f} s"
    )


async def mixed(web: PlannerClient, job: PlannerClient, ids: list[int]) -> dict[str, Any]:
    """The batch flood and the web app together; what each saw."""
    finished = False
    result: dict[str, Any] = {}

    async def run_job() -> None:
        nonlocal finished
        result["batch_seconds"] = await batch_job(job, ids)
        finished = True

    async def run_web() -> None:
        result.update(await web_app(web, ids, lambda: finished))

    await web.authenticate()
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_job)
        tg.start_soon(run_web)
    return result


async def part_one() -> None:
    """One process: the mix, then the job alone."""
    fake = FakePlanner(events=400, seed=4, rate_limits=WINDOW, auth_rate_limits=[])
    ids = fake.visible_ids()[:300]
    web, job = _client(fake, fake.base_url), _client(fake, fake.base_url, priority="batch")
    async with web, job:
        result = await mixed(web, job, ids)
    calls = BATCH_TASKS * BATCH_CALLS
    share = calls / result["batch_seconds"] / (WINDOW[0][0] / WINDOW[0][1])
    print("one process, window 20/1 s, 60 batch tasks × 4 calls + interactive every 250 ms")
    print(f"  interactive: {_summary(result['waits'])}, failures {result['failures']}")
    print(f"  batch: {calls} calls in {result['batch_seconds']:.2f} s = {share:.0%} of the window")
    print(f"  429s: {fake.stats.rate_limited}, logins: {fake.stats.logins}")
    alone = FakePlanner(events=100, seed=4, rate_limits=WINDOW, auth_rate_limits=[])
    async with _client(alone, alone.base_url, priority="batch") as lone:
        await lone.authenticate()
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for event_id in alone.visible_ids()[:60]:
                tg.start_soon(lone.events.get, event_id)
        took = time.monotonic() - started
    print(
        f"  lone batch job: 60 calls in {took:.2f} s (the window allows ~2.0 s), "
        f"429s: {alone.stats.rate_limited}"
    )


# -- two processes through Redis ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("part two needs redis-server on PATH")
    port, folder = _free_port(), tempfile.mkdtemp(prefix="lanes-redis-")
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            folder,
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0", folder


def _worker(role: str, base_url: str, redis_url: str, ids: list[int], queue: Any, go: Any) -> None:
    async def run() -> dict[str, Any]:
        options = {"priority": "batch"} if role == "batch" else {}
        async with _client(None, base_url, redis_url=redis_url, **options) as client:
            await client.authenticate()
            queue.put(("ready", role))
            await anyio.to_thread.run_sync(go.wait)  # both start together
            if role == "batch":
                return {"batch_seconds": await batch_job(client, ids)}
            stop = time.monotonic() + 12.0
            return await web_app(client, ids, lambda: time.monotonic() > stop)

    queue.put((role, asyncio.run(run())))


async def part_two() -> None:
    """Two processes, one account, through Redis."""
    proc, redis_url, folder = _start_redis()
    fake = FakePlanner(events=400, seed=4, rate_limits=WINDOW, auth_rate_limits=[])
    ids = fake.visible_ids()[:300]
    ctx = multiprocessing.get_context("spawn")
    queue, go = ctx.Queue(), ctx.Event()
    try:
        async with fake.serve() as base_url:
            workers = [
                ctx.Process(target=_worker, args=(role, base_url, redis_url, ids, queue, go))
                for role in ("batch", "interactive")
            ]
            for w in workers:
                w.start()
            results: dict[str, Any] = {}
            ready = 0
            while len(results) < 2:
                kind, value = await anyio.to_thread.run_sync(queue.get)
                if kind == "ready":
                    ready += 1
                    if ready == 2:
                        go.set()
                else:
                    results[kind] = value
            for w in workers:
                w.join()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
    web = results["interactive"]
    calls = BATCH_TASKS * BATCH_CALLS
    seconds = results["batch"]["batch_seconds"]
    print("two processes through Redis (a web app's and an ingestion job's), window 20/1 s")
    print(f"  interactive: {_summary(web['waits'])}, failures {web['failures']}")
    print(
        f"  batch: {calls} calls in {seconds:.2f} s = "
        f"{calls / seconds / WINDOW[0][0]:.0%} of the window"
    )
    print(f"  429s: {fake.stats.rate_limited}, logins: {fake.stats.logins}")


# -- web traffic: coalescing and the cache ------------------------------------------------------


def _zipf_ids(ids: list[int], n: int, s: float = 1.1, seed: int = 7) -> list[int]:
    weights = [1 / (rank**s) for rank in range(1, len(ids) + 1)]
    return random.Random(seed).choices(ids, weights=weights, k=n)


async def web_traffic(**options: Any) -> tuple[int, float]:
    """Requests sent for 2,000 Zipf page views by 50 visitors; and the seconds taken."""
    fake = FakePlanner(events=300, seed=4, rate_limits=[], auth_rate_limits=[])
    fake.faults = attrs.evolve(fake.faults, latency=0.02)
    views = _zipf_ids(fake.visible_ids()[:200], 2000)
    async with _client(fake, fake.base_url, rate_limits=[], **options) as client:
        await client.authenticate()
        started = time.monotonic()
        queue = iter(views)

        async def visitor() -> None:
            for event_id in queue:
                await client.events.get(event_id)

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(visitor)
        took = time.monotonic() - started
    return fake.stats.count("events.get", 200), took


async def part_web() -> None:
    """Requests saved by coalescing and the cache on Zipf web traffic."""
    print("web traffic: 2,000 views, 50 visitors, 200 ids (Zipf s=1.1), 20 ms latency")
    runs: list[tuple[str, Callable[[], Awaitable[tuple[int, float]]]]] = [
        ("coalesce off, no cache", lambda: web_traffic(coalesce=False)),
        ("coalesce on (default)", lambda: web_traffic(coalesce=True)),
        ("coalesce on, cache_ttl=5", lambda: web_traffic(coalesce=True, cache_ttl=5)),
    ]
    base = None
    for name, run in runs:
        sent, took = await run()
        base = base or sent
        print(f"  {name:<26} {sent:>5} requests ({sent / base:.0%}), {took:.2f} s")


def main() -> None:
    """Run the parts asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("one", "two", "web", "all"), default="all")
    part = parser.parse_args().part
    print(f"Python {sys.version.split()[0]}, asyncio")
    if part in ("one", "all"):
        asyncio.run(part_one())
    if part in ("two", "all"):
        asyncio.run(part_two())
    if part in ("web", "all"):
        asyncio.run(part_web())


if __name__ == "__main__":
    main()
