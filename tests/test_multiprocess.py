"""Several processes, one account, one Redis: the quota and the tokens are shared.

The fake server runs in the test process on loopback (enforcing sliding windows, short
token lives); the workers are subprocesses running ``tests/redis_worker.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis_support import own_server, redis_url, unique_prefix

from planner_async.testing import FakePlanner

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio")]

WORKER = str(Path(__file__).with_name("redis_worker.py"))
LIMITS = [(20, 1.0), (50, 3.0)]
AUTH_LIMITS = [(10, 60.0)]


def _fake(access_ttl: float) -> FakePlanner:
    return FakePlanner(
        events=300,
        rate_limits=LIMITS,
        auth_rate_limits=AUTH_LIMITS,
        access_token_ttl=access_ttl,
        restricted_share=0,
    )


def _config(fake: FakePlanner, base_url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "mode": "work",
        "base_url": base_url,
        "redis_url": redis_url(),
        "prefix": prefix,
        "limits": LIMITS,
        "auth_limits": AUTH_LIMITS,
        "ids": fake.visible_ids()[:200],
        "tasks": 10,
        "calls": 3,
        **extra,
    }


async def _start(cfg: dict[str, Any]) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return await asyncio.create_subprocess_exec(
        sys.executable, WORKER, json.dumps(cfg), stdout=asyncio.subprocess.PIPE, env=env
    )


async def _result(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, _ = await asyncio.wait_for(proc.communicate(), 45)
    assert proc.returncode == 0, out
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def _assert_within_limits(fake: FakePlanner) -> None:
    for (limit, period), used in fake.stats.max_window_usage.items():
        assert used <= limit, f"window {limit}/{period}s held {used}"


async def _until_served(fake: FakePlanner, count: int) -> None:
    """Wait until the fake has answered ``count`` event fetches."""
    while True:
        if len([r for r in fake.requests if r.endpoint == "events.get"]) >= count:
            return
        await asyncio.sleep(0.02)  # real time: the workers are other processes


def _ideal_seconds(calls: int) -> float:
    """The least time ``calls`` can take under LIMITS with zero latency (for throughput)."""
    return max(((calls - 1) // limit) * period for limit, period in LIMITS)


async def test_four_processes_share_quota_and_tokens() -> None:
    """4 processes x 10 tasks: no 429, no window over its limit, one login, all calls succeed."""
    redis_url()
    fake = _fake(access_ttl=3.0)
    prefix = unique_prefix("mp")
    async with fake.serve() as base_url:
        procs = [await _start(_config(fake, base_url, prefix)) for _ in range(4)]
        start = time.monotonic()
        results = [await _result(p) for p in procs]
        elapsed = time.monotonic() - start
    calls = 4 * 10 * 3
    ok = sum(r["ok"] for r in results)
    at = [r.at for r in fake.requests if r.endpoint == "events.get"]
    span = max(at) - min(at)
    renewals = sum(r["renewals"] for r in results)
    print(
        f"\n4 processes: {ok}/{calls} ok, 429s={fake.stats.rate_limited}, "
        f"logins={fake.stats.logins}, renewals={fake.stats.renewals}, "
        f"busiest={fake.stats.max_window_usage}, span={span:.2f}s "
        f"(ideal {_ideal_seconds(calls):.1f}s), {calls / span:.1f} calls/s, total {elapsed:.1f}s"
    )
    assert [r["errors"] for r in results] == [[]] * 4
    assert ok == calls
    assert fake.stats.rate_limited == 0
    _assert_within_limits(fake)
    assert fake.stats.logins == 1 == sum(r["logins"] for r in results)
    assert fake.stats.renewals == renewals
    # One renewal per expiry: tokens live 2-3 s (whole-second exp) and renew 0.5 s early.
    assert renewals <= math.ceil(span / 1.5) + 1
    # Not paced or serialised: within a window's period (plus round trips) of the ideal.
    assert span <= _ideal_seconds(calls) + 1.5


async def test_offset_worker_clocks_are_still_safe() -> None:
    """Workers whose clocks differ by 6 s still share one quota: Redis keeps the time."""
    redis_url()
    fake = _fake(access_ttl=60.0)
    prefix = unique_prefix("clock")
    async with fake.serve() as base_url:
        procs = [
            await _start(_config(fake, base_url, prefix, clock_offset=offset, calls=4))
            for offset in (-3.0, 3.0)
        ]
        results = [await _result(p) for p in procs]
    assert sum(r["ok"] for r in results) == 2 * 10 * 4
    assert fake.stats.rate_limited == 0
    _assert_within_limits(fake)
    assert fake.stats.logins == 1


async def test_killed_worker_frees_its_slot_and_lease() -> None:
    """A worker SIGKILLed holding a slot and the renewal lease blocks others only until
    the leases run out; no window overfills and there is still one login."""
    redis_url()
    fake = _fake(access_ttl=60.0)
    prefix = unique_prefix("kill")
    async with fake.serve() as base_url:
        holder = await _start(
            {
                "mode": "hold",
                "redis_url": redis_url(),
                "prefix": prefix,
                "limits": LIMITS,
                "lease": 1.0,
            }
        )
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), 20)
        assert line.strip() == b"held"
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        killed = time.monotonic()
        procs = [await _start(_config(fake, base_url, prefix, calls=2)) for _ in range(2)]
        results = [await _result(p) for p in procs]
    logins = [r.at for r in fake.requests if r.endpoint == "auth"]
    assert len(logins) == 1
    assert sum(r["ok"] for r in results) == 2 * 10 * 2
    assert fake.stats.rate_limited == 0
    _assert_within_limits(fake)
    assert time.monotonic() - killed < 20


async def test_redis_data_lost_mid_run() -> None:
    """FLUSHDB of the suite's own server and killed connections mid-run: admissions pause,
    live workers put their slots back, every call still succeeds and no window overfills."""
    url = own_server().url
    fake = _fake(access_ttl=60.0)
    prefix = unique_prefix("flush")
    admin = Redis.from_url(url)
    try:
        async with fake.serve() as base_url:
            cfg = _config(fake, base_url, prefix, redis_url=url, calls=4)
            procs = [await _start(cfg) for _ in range(2)]
            await _until_served(fake, 45)
            await admin.flushdb()  # the throwaway server: nobody else's data
            for client in await admin.client_list():
                await admin.client_kill_filter(_id=client["id"], skipme=True)
            results = [await _result(p) for p in procs]
    finally:
        await admin.aclose()
    assert sum(r["ok"] for r in results) == 2 * 10 * 4, [r["errors"] for r in results]
    assert fake.stats.rate_limited == 0
    _assert_within_limits(fake)
