"""Ingestion with look-ahead paging: ``events.list(prefetch=8)`` against a sequential loop.

Issue 8, benchmark 2 (targets: ≥ 6× a sequential hand-written httpx loop, ≤ 1.3× the
bound ``pages × latency / 8``; in order, every event once). 200 pages of 100 events behind
an ``httpx.MockTransport`` that answers each request after 50 ms (``asyncio.sleep``), so
the figures measure paging strategy, not a network. Both ways to prefetch are timed:
``async for`` over the listing (rounds of 9 pages) and ``async with`` (a sliding window
that keeps 8 pages in flight while the loop works), with their CPU time. Page bodies are encoded once, before
timing. The client runs with its default quota (500/min): 200 pages stay under it.

Run: ``.venv/bin/python benchmarks/ingest.py`` (about 30 seconds).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx

from planner_async import PlannerClient
from planner_async.testing import generate_events

BASE = "https://planner.bench"
PAGES, PAGE_SIZE, LATENCY, PREFETCH = 200, 100, 0.050, 8
SPEEDUP_TARGET, BOUND_TARGET = 6.0, 1.3


def jwt() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': 'bench', 'exp': time.time() + 86400})}.sig"


def page_bodies() -> tuple[dict[int, bytes], list[int]]:
    """Every page's body (page number → bytes) and the event ids in listing order."""
    events = generate_events(PAGES * PAGE_SIZE, seed=4)
    bodies = {}
    for number in range(1, PAGES + 1):
        items = events[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        bodies[number] = json.dumps(
            {
                "items": items,
                "page": number,
                "pageSize": PAGE_SIZE,
                "totalItems": len(events),
                "totalPages": PAGES,
            }
        ).encode()
    return bodies, [event["id"] for event in events]


def transport(bodies: dict[int, bytes]) -> httpx.MockTransport:
    login = json.dumps(
        {"userId": 1, "productId": 2, "email": "b@example.com", "token": jwt(), "refreshToken": "r"}
    ).encode()
    json_type = [("Content-Type", "application/json")]

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, content=login, headers=json_type)
        await asyncio.sleep(LATENCY)
        return httpx.Response(
            200, content=bodies[int(request.url.params["page"])], headers=json_type
        )

    return httpx.MockTransport(handler)


async def sequential_loop(bodies: dict[int, bytes]) -> tuple[float, list[int]]:
    """What a user writes by hand: one page after another, ``response.json()``."""
    async with httpx.AsyncClient(transport=transport(bodies)) as http:
        ids: list[int] = []
        start = time.perf_counter()
        page = 1
        while True:
            response = await http.get(
                f"{BASE}/api/v2/events", params={"page": page, "pageSize": PAGE_SIZE}
            )
            data = response.json()
            ids.extend(item["id"] for item in data["items"])
            if page >= data["totalPages"]:
                break
            page += 1
        return time.perf_counter() - start, ids


async def client_listing(
    bodies: dict[int, bytes], prefetch: int, *, window: bool = False
) -> tuple[float, list[int]]:
    """``client.events.list(page_size=100, prefetch=...)``, structured ``Event`` models;
    iterated directly (rounds) or inside ``async with`` (the sliding window)."""
    async with (
        httpx.AsyncClient(transport=transport(bodies)) as http,
        PlannerClient("bench", "bench-key", base_url=BASE, http_client=http) as client,
    ):
        await client.authenticate()
        listing = client.events.list(page_size=PAGE_SIZE, prefetch=prefetch)
        start = time.perf_counter()
        if window:
            async with listing as events:
                ids = [event.id async for event in events]
        else:
            ids = [event.id async for event in listing]
        return time.perf_counter() - start, ids


async def timed(run: Any) -> tuple[float, float, list[int]]:
    """Wall seconds, CPU seconds and the ids of one run."""
    cpu = time.process_time()
    wall, ids = await run
    return wall, time.process_time() - cpu, ids


async def main() -> None:
    bodies, expected = page_bodies()
    bound = PAGES * LATENCY / PREFETCH
    runs = {
        "hand-written sequential httpx loop": await timed(sequential_loop(bodies)),
        "planner_async, prefetch=0": await timed(client_listing(bodies, 0)),
        f"planner_async, prefetch={PREFETCH}, `async for` (rounds)": await timed(
            client_listing(bodies, PREFETCH)
        ),
        f"planner_async, prefetch={PREFETCH}, `async with` (window)": await timed(
            client_listing(bodies, PREFETCH, window=True)
        ),
    }
    for _wall, _cpu, ids in runs.values():
        assert ids == expected, "not every event once, in order"
    seq = runs["hand-written sequential httpx loop"][0]
    print(f"# Ingestion: {PAGES} pages × {PAGE_SIZE} events, {LATENCY * 1000:.0f} ms a request\n")
    print("| run | seconds | CPU seconds | vs sequential loop | vs bound |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu, _ids) in runs.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {seq / wall:.2f}× | {wall / bound:.2f}× |")
    print(f"| bound: pages × latency / {PREFETCH} | {bound:.2f} | | {seq / bound:.2f}× | 1.00× |")
    print(f"\nevents: {len(expected):,} per run, in order, each once: yes (every run).")
    for name in list(runs)[2:]:
        wall = runs[name][0]
        speedup, vs_bound = seq / wall, wall / bound
        print(
            f"{name}: speed-up {speedup:.2f}× (target ≥ {SPEEDUP_TARGET:g}×: "
            f"{'met' if speedup >= SPEEDUP_TARGET else 'MISSED'}); {vs_bound:.2f}× the bound "
            f"(target ≤ {BOUND_TARGET:g}×: {'met' if vs_bound <= BOUND_TARGET else 'MISSED'})"
        )


if __name__ == "__main__":
    asyncio.run(main())
