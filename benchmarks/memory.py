"""Peak memory of a long listing: 1,000,000 events against 10,000, with prefetch.

Issue 8, benchmark 4 (target: peak RSS for 1,000,000 events within 30 MB of the peak for
10,000). Each size runs in its own subprocess that pages through ``client.events.list
(page_size=200, prefetch=8)`` over an ``httpx.MockTransport`` (no latency; bodies built
per request from one template page with fresh ids) and reports ``resource.getrusage``'s
``ru_maxrss``. Events are counted and dropped, as a streaming ingestion would.

Run: ``.venv/bin/python benchmarks/memory.py`` (about 40 seconds).
"""

from __future__ import annotations

import asyncio
import base64
import json
import resource
import subprocess
import sys
import time
from typing import Any

import httpx

BASE = "https://planner.bench"
PAGE_SIZE, PREFETCH = 200, 8
SIZES = (10_000, 1_000_000)
TARGET_MB = 30.0
HIGH = [(1_000_000_000, 60.0), (1_000_000_000, 3600.0), (1_000_000_000, 86400.0)]


def jwt() -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': 'bench', 'exp': time.time() + 86400})}.sig"


def page_maker(total: int) -> Any:
    """A function page number → listing body, each event with its own id."""
    from planner_async.testing import generate_events

    templates = []
    for event in generate_events(PAGE_SIZE, seed=6):
        rest = json.dumps({k: v for k, v in event.items() if k != "id"})
        templates.append('{"id": %d, ' + rest[1:].replace("%", "%%"))
    pages = -(-total // PAGE_SIZE)

    def body(number: int) -> bytes:
        first = (number - 1) * PAGE_SIZE
        count = min(PAGE_SIZE, total - first)
        items = ",".join(templates[i] % (first + i + 1) for i in range(count))
        tail = f'"page": {number}, "pageSize": {PAGE_SIZE}, "totalItems": {total}, "totalPages": {pages}'
        return f'{{"items": [{items}], {tail}}}'.encode()

    return body


async def child(total: int) -> None:
    from planner_async import PlannerClient

    body = page_maker(total)
    login = json.dumps(
        {"userId": 1, "productId": 2, "email": "b@example.com", "token": jwt(), "refreshToken": "r"}
    ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth"):
            return httpx.Response(200, content=login)
        return httpx.Response(200, content=body(int(request.url.params["page"])))

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        PlannerClient("b", "k", base_url=BASE, http_client=http, rate_limits=HIGH) as client,
    ):
        count, last = 0, 0
        start = time.perf_counter()
        async for event in client.events.list(page_size=PAGE_SIZE, prefetch=PREFETCH):
            count += 1
            assert event.id == last + 1
            last = event.id
        elapsed = time.perf_counter() - start
    assert count == total
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": count, "maxrss_mb": maxrss_kb / 1024, "seconds": elapsed}))


def run(total: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(total)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    results = {total: run(total) for total in SIZES}
    small, large = (results[size] for size in SIZES)
    growth = large["maxrss_mb"] - small["maxrss_mb"]
    print(f"# Peak memory, page_size={PAGE_SIZE}, prefetch={PREFETCH} (one subprocess per size)\n")
    print("| events | peak RSS (MB) | seconds | events/s |")
    print("|---:|---:|---:|---:|")
    for size in SIZES:
        r = results[size]
        print(
            f"| {size:,} | {r['maxrss_mb']:.1f} | {r['seconds']:.1f} | {size / r['seconds']:,.0f} |"
        )
    verdict = "met" if growth <= TARGET_MB else "MISSED"
    print(f"\n1,000,000 vs 10,000: +{growth:.1f} MB (target ≤ {TARGET_MB:g} MB: {verdict})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        asyncio.run(child(int(sys.argv[2])))
    else:
        main()
