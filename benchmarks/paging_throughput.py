"""Paging throughput: events/s structured into models vs raw ``json.loads`` of the same pages.

Issue 8, benchmark 3 (target: structured ≥ 0.5× raw). The page bodies are the bytes a
listing answers with (100 events a page, 10,000 generated events); every round decodes them
afresh, so no method structures dicts that an earlier round already touched. Rounds of the
methods are interleaved per body and each body keeps its fastest timing, so a noisy
neighbour hurts all methods alike and barely shows.

Run: ``.venv/bin/python benchmarks/paging_throughput.py`` (about 10 seconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from planner_async import _json
from planner_async._serialization import structure_page
from planner_async.testing import generate_events

EVENTS = 10_000
PAGE_SIZE = 100
ROUNDS = 25
TARGET = 0.5


def page_bodies() -> list[bytes]:
    """The listing bodies, as bytes on the wire."""
    events = generate_events(EVENTS, seed=1)
    pages = EVENTS // PAGE_SIZE
    return [
        json.dumps(
            {
                "items": events[i * PAGE_SIZE : (i + 1) * PAGE_SIZE],
                "page": i + 1,
                "pageSize": PAGE_SIZE,
                "totalItems": EVENTS,
                "totalPages": pages,
            }
        ).encode()
        for i in range(pages)
    ]


def best_times(
    methods: dict[str, Callable[[bytes], object]], bodies: list[bytes]
) -> dict[str, float]:
    """Per method, the sum over bodies of the fastest of ROUNDS timings of that body.

    Timing each body separately, methods interleaved, and keeping each body's minimum
    filters out the pauses a busy machine inflicts on whole rounds.
    """
    clock = time.perf_counter
    best = {name: [float("inf")] * len(bodies) for name in methods}
    for _ in range(ROUNDS):
        for index, body in enumerate(bodies):
            for name, method in methods.items():
                started = clock()
                method(body)
                elapsed = clock() - started
                if elapsed < best[name][index]:
                    best[name][index] = elapsed
    return {name: sum(times) for name, times in best.items()}


def main() -> None:
    """Measure, interleaved, and print a Markdown table with ratios against raw json.loads."""
    bodies = page_bodies()
    methods: dict[str, Callable[[bytes], object]] = {
        "raw `json.loads` (baseline)": json.loads,
        "`_json.loads` (depth-safe decode)": _json.loads,
        "`json.loads` + `structure_page`": lambda body: structure_page(json.loads(body)),
        "`_json.loads` + `structure_page` (the client's path)": lambda body: structure_page(
            _json.loads(body)
        ),
    }
    best = best_times(methods, bodies)
    size = sum(map(len, bodies)) / EVENTS
    raw = EVENTS / best["raw `json.loads` (baseline)"]
    print(
        f"## Paging throughput ({EVENTS:,} events, {PAGE_SIZE}-event pages, ~{size:.0f} B/event)\n"
    )
    print("| method | events/s | ÷ raw json.loads |")
    print("|---|---:|---:|")
    for name, seconds in best.items():
        rate = EVENTS / seconds
        print(f"| {name} | {rate:,.0f} | {rate / raw:.2f}× |")
    structured = EVENTS / best["`_json.loads` + `structure_page` (the client's path)"]
    verdict = "met" if structured / raw >= TARGET else "MISSED"
    print(f"\nTarget ≥ {TARGET}× raw: {structured / raw:.2f}× — {verdict}.")


if __name__ == "__main__":
    main()
