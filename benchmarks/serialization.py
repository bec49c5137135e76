"""How fast wire JSON becomes ``Event`` models, against two baselines in the same run.

- ours: ``structure_event`` (cattrs functions generated once, at import);
- per-call generation: the same converter, but ``make_dict_structure_fn`` run for every
  event (the mistake the issue warns about);
- hand-written: a plain function building ``Event`` directly (the floor for attrs models).

Run: ``.venv/bin/python benchmarks/serialization.py``
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from cattrs.gen import make_dict_structure_fn, override

from planner_async import Event, Location, Organiser
from planner_async._serialization import (
    converter,
    parse_date_or_datetime,
    parse_datetime,
    structure_event,
    structure_page,
)
from planner_async.testing import generate_events

EVENTS = generate_events(5000, seed=1)
WIRE = {
    "start": "startDate",
    "end": "endDate",
    "all_day": "allDay",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
}
KNOWN = frozenset(
    {"id", "title", "description", "allDay", "timezone", "status", "categories", "tags"}
    | {"location", "organiser", "url", "startDate", "endDate", "createdAt", "updatedAt"}
)


def per_call_generation(data: dict[str, Any]) -> Event:
    fn = make_dict_structure_fn(
        Event, converter, **{k: override(rename=v) for k, v in WIRE.items()}
    )  # type: ignore[arg-type]
    return fn({k: v for k, v in data.items() if k in KNOWN and v is not None}, Event)  # type: ignore[no-any-return]


def hand_written(d: dict[str, Any]) -> Event:
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


def rate(fn: Callable[[dict[str, Any]], Event], events: list[dict[str, Any]], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for data in events:
            fn(data)
        best = max(best, len(events) / (time.perf_counter() - started))
    return best


def main() -> None:
    ours = rate(structure_event, EVENTS, 5)
    rows = [
        ("ours: structure_event (functions built once)", ours),
        ("per-call make_dict_structure_fn", rate(per_call_generation, EVENTS[:500], 3)),
        ("hand-written constructor (floor)", rate(hand_written, EVENTS, 5)),
    ]
    print("## Structuring events (5,000 generated events, best of several rounds)\n")
    print("| method | events/s | ours ÷ this |")
    print("|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:,.0f} | {ours / value:.2f}× |")

    page = {"items": EVENTS[:200], "page": 1, "pageSize": 200, "totalItems": 5000, "totalPages": 25}
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
