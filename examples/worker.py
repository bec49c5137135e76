"""One of several workers reading Forward Planner with one account, sharing it through Redis.

Start as many as you like (each in its own terminal, or machine)::

    PLANNER_REDIS_URL=redis://localhost:6379/0 python examples/worker.py --worker 1 --of 2
    PLANNER_REDIS_URL=redis://localhost:6379/0 python examples/worker.py --worker 2 --of 2

Credentials come from ``PLANNER_USERNAME`` / ``PLANNER_API_KEY`` (and ``PLANNER_BASE_URL``).
Without an account, start a local fake server first and point the workers at it::

    python examples/worker.py --serve 8765       # terminal 0: the fake API (demo/demo-key)
    PLANNER_BASE_URL=http://127.0.0.1:8765 PLANNER_USERNAME=demo PLANNER_API_KEY=demo-key \\
    PLANNER_REDIS_URL=redis://localhost:6379/0 python examples/worker.py --worker 1 --of 2

Each worker fetches every ``of``-th event of the first listing pages, 10 at a time, and
prints what it did: between them the workers log in once and never exceed the quota.
"""

from __future__ import annotations

import argparse
import asyncio

import anyio

from planner_async import PlannerClient

SERVE_LIMITS = [(20, 1.0), (50, 3.0)]


async def work(worker: int, of: int, count: int) -> None:
    """Fetch this worker's share of ``count`` events, 10 at a time; print a summary."""
    async with PlannerClient.from_env(rate_limits=SERVE_LIMITS) as client:
        ids: list[int] = []
        async for event in client.events.list(page_size=100):
            ids.append(event.id)
            if len(ids) == count:
                break
        mine = ids[worker - 1 :: of]
        limiter = anyio.Semaphore(10)

        async def fetch(event_id: int) -> None:
            async with limiter:
                await client.events.get(event_id)

        async with anyio.create_task_group() as group:
            for event_id in mine:
                group.start_soon(fetch, event_id)
        stats = client.stats
        print(
            f"worker {worker}: {len(mine)} events fetched, {stats.requests} requests, "
            f"{stats.rate_limited} x 429, {stats.logins} login(s), {stats.renewals} renewal(s)"
        )


async def serve(port: int) -> None:
    """Run the fake API on 127.0.0.1:``port`` with small enforcing windows until Ctrl-C."""
    from planner_async.testing import FakePlanner

    fake = FakePlanner(events=500, rate_limits=SERVE_LIMITS, access_token_ttl=120)
    async with fake.serve(port=port) as url:
        print(f"fake Forward Planner at {url} (user demo, key demo-key); Ctrl-C to stop")
        try:
            await asyncio.Event().wait()
        finally:
            print(f"served {fake.stats}")


def main() -> None:
    """Parse the arguments and run a worker or the fake server."""
    parser = argparse.ArgumentParser(description="a worker sharing one account through Redis")
    parser.add_argument("--worker", type=int, default=1, help="this worker's number (1-based)")
    parser.add_argument("--of", type=int, default=1, help="how many workers share the job")
    parser.add_argument("--count", type=int, default=200, help="events in the whole job")
    parser.add_argument("--serve", type=int, metavar="PORT", help="run the fake API instead")
    args = parser.parse_args()
    try:
        if args.serve:
            asyncio.run(serve(args.serve))
        else:
            asyncio.run(work(args.worker, args.of, args.count))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
