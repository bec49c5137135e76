"""A worker process for the multi-process Redis tests (run as ``python redis_worker.py JSON``).

Modes:

- ``work``: one :class:`PlannerClient` with ``redis_url``, ``tasks`` concurrent tasks each
  making ``calls`` ``events.get`` calls; prints one JSON line with what it saw.
- ``hold``: takes a quota slot and the token renewal lease straight from the stores
  (short leases), prints ``held`` and sleeps until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import anyio
from redis.asyncio import Redis

from planner_async import PlannerClient, PlannerError, RedisQuotaStore, RedisTokenStore


async def work(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the tasks; return counts of successes, failures and the client's stats."""
    offset = float(cfg.get("clock_offset", 0.0))
    client = PlannerClient(
        "demo",
        "demo-key",
        base_url=cfg["base_url"],
        redis_url=cfg["redis_url"],
        redis_prefix=cfg["prefix"],
        rate_limits=[tuple(w) for w in cfg["limits"]],
        auth_rate_limits=[tuple(w) for w in cfg["auth_limits"]],
        refresh_margin=cfg.get("refresh_margin", 0.5),
        clock=lambda: time.time() + offset,
        timeout=5.0,
    )
    ok, errors = 0, []
    ids = cfg["ids"]

    async def task(n: int) -> None:
        nonlocal ok
        for k in range(cfg["calls"]):
            try:
                await client.events.get(ids[(n * cfg["calls"] + k) % len(ids)])
                ok += 1
            except PlannerError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    start = time.monotonic()
    async with client, anyio.create_task_group() as group:
        for n in range(cfg["tasks"]):
            group.start_soon(task, n)
    stats = client.stats
    return {
        "ok": ok,
        "errors": errors,
        "elapsed": time.monotonic() - start,
        "rate_limited": stats.rate_limited,
        "logins": stats.logins,
        "renewals": stats.renewals,
        "requests": stats.requests,
    }


async def hold(cfg: dict[str, Any]) -> None:
    """Take a slot and the renewal lease, say so, and wait to be killed."""
    redis = Redis.from_url(cfg["redis_url"])
    limits = [tuple(w) for w in cfg["limits"]]
    store = RedisQuotaStore(redis, cfg["prefix"], limits, lease=cfg["lease"], recovery=0.0)
    tokens = RedisTokenStore(redis, cfg["prefix"])
    admission = await store.acquire()
    assert admission.slot is not None
    async with tokens.lease(cfg["lease"]):
        print("held", flush=True)
        await asyncio.sleep(3600)  # parked until the test kills this process


def main() -> None:
    """Run the mode named in the JSON argument."""
    cfg = json.loads(sys.argv[1])
    if cfg["mode"] == "hold":
        asyncio.run(hold(cfg))
        return
    print(json.dumps(asyncio.run(work(cfg))), flush=True)


if __name__ == "__main__":
    main()
