"""How fast wire JSON becomes ``Event`` models, against baselines in the same run.

- ours: ``structure_event`` (strict: the package's cattrs converter, generated functions);
- hand-written, unchecked: a plain function building ``Event`` through its attrs
  ``__init__`` with no type checks at all (what "a direct constructor" costs);
- ``json.loads`` of the same events, for scale.

Every round structures a freshly decoded copy of the events (decoded outside the timed
region), so no round sees dicts an earlier round already walked. Rounds of the methods are
interleaved and each keeps its best.

Run: ``.venv/bin/python benchmarks/serialization.py`` (about 15 seconds)
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from planner_async import Event, Location, Organiser
from planner_async._serialization import (
    parse_date_or_datetime,
    parse_datetime,
    structure_event,
    structure_page,
)
from planner_async.testing import generate_events

EVENTS = generate_events(5000, seed=1)
BODIES = [json.dumps(event) for event in EVENTS]
ROUNDS = 15
KNOWN = frozenset(
    {"id", "title", "description", "allDay", "timezone", "status", "categories", "tags"}
    | {"location", "organiser", "url", "startDate", "endDate", "createdAt", "updatedAt"}
)


def hand_written(d: dict[str, Any]) -> Event:
    """A direct constructor: no type checks, attrs ``__init__`` for every model."""
    loc = d.get("location")
    org = d.get("organiser")
    return Event(
        id=d["id"],
        title=d["title"],
        description=d.get("description"),
        start=parse_date_or_datetime(d["startDate"]) if d.get("startDate") else None,
        end=parse_date_or_datetime(d["endDate"]) if d.get("endDate") else None,
        all_day=bool(d.get("allDay")),
        timezone=d.get("timezone"),
        status=d.get("status"),
        categories=tuple(d.get("categories") or ()),
        tags=tuple(d.get("tags") or ()),
        location=Location(loc.get("venue"), loc.get("city"), loc.get("region"), loc.get("country"))
        if loc
        else None,
        organiser=Organiser(org.get("name"), org.get("url")) if org else None,
        url=d.get("url"),
        created_at=parse_datetime(d["createdAt"]) if d.get("createdAt") else None,
        updated_at=parse_datetime(d["updatedAt"]) if d.get("updatedAt") else None,
        extra={k: v for k, v in d.items() if k not in KNOWN},
    )


def fresh() -> list[dict[str, Any]]:
    """A newly decoded copy of the events."""
    return [json.loads(body) for body in BODIES]


def timed(fn: Callable[[Any], object], items: list[Any]) -> float:
    """Seconds to apply ``fn`` to every item."""
    started = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - started


def main() -> None:
    """Print a Markdown table of events/s with ratios against ours, and one page's memory."""
    methods: dict[str, tuple[Callable[[Any], object], bool]] = {
        "ours: structure_event (strict)": (structure_event, True),
        "hand-written constructor, unchecked": (hand_written, True),
        "json.loads of the same events (scale)": (json.loads, False),
    }
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(ROUNDS):
        for name, (fn, needs_dicts) in methods.items():
            items: list[Any] = fresh() if needs_dicts else BODIES
            best[name] = min(best[name], timed(fn, items))
    ours = len(EVENTS) / best["ours: structure_event (strict)"]
    print(f"## Structuring events ({len(EVENTS):,} generated events, fresh dicts each round)\n")
    print("| method | events/s | µs/event | ours ÷ this |")
    print("|---|---:|---:|---:|")
    for name, seconds in best.items():
        rate = len(EVENTS) / seconds
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.2f} | {ours / rate:.2f}× |")

    page = {"items": fresh()[:200], "page": 1, "pageSize": 200, "totalItems": 5000}
    structure_page(page)  # the converter generates its page functions once, on first use
    page = {"items": fresh()[:200], "page": 1, "pageSize": 200, "totalItems": 5000}
    tracemalloc.start()
    structured = structure_page(page)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nOne 200-event page: peak {peak / 1024:.0f} KiB while structuring, "
        f"{len(structured.items)} events."
    )


if __name__ == "__main__":
    main()
