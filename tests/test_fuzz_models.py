"""Fuzzing the wire codec: any JSON-ish input gives a valid model or a typed error, fast."""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime
from typing import Any

import cattrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner_async import Event, EventPage, Location, Organiser
from planner_async._json import loads
from planner_async._serialization import (
    describe_structure_error,
    structure_event,
    structure_page,
)

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAGES = settings(FAST, max_examples=30)
TYPED_ERRORS = (ValueError, TypeError, cattrs.BaseValidationError)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["2026-12-25", "2026-11-26T12:30:00Z", "confirmed", "", "2026-13-01"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_KEYS = [
    "id",
    "title",
    "description",
    "startDate",
    "endDate",
    "allDay",
    "timezone",
    "status",
    "categories",
    "tags",
    "location",
    "organiser",
    "url",
    "createdAt",
    "updatedAt",
]


def deep(levels: int) -> Any:
    """A list nested ``levels`` deep, built without recursion."""
    value: Any = None
    for _ in range(levels):
        value = [value]
    return value


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Event-shaped dicts: good values, wrong types, missing keys, huge strings, deep nesting."""
    good = {
        "id": st.integers(),
        "title": st.text(max_size=30),
        "startDate": st.sampled_from(["2026-12-25", "2026-11-26T12:30:00+01:00"]),
        "allDay": st.booleans(),
        "categories": st.lists(st.text(max_size=5), max_size=3),
        "location": st.fixed_dictionaries({"city": st.text(max_size=5)}),
    }
    data: dict[str, Any] = {}
    for key in EVENT_KEYS:
        choice = draw(st.integers(0, 9))
        if choice <= 4 and key in good:
            data[key] = draw(good[key])
        elif choice <= 6:
            data[key] = draw(json_values)
        elif choice == 7:
            data[key] = draw(st.sampled_from(["x" * 1_000_000, deep(2_000)]))
        # else: the key is missing
    data.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)))
    return data


def attempt(structure: Any, data: Any) -> Any:
    """``structure(data)``, or the typed error it raised (anything else propagates)."""
    try:
        return structure(data)
    except TYPED_ERRORS as exc:
        return exc


def check_event(data: Any, event: Event) -> None:
    """A structured event holds exactly what the wire said, with the model's types."""
    assert isinstance(event.id, int)
    assert not isinstance(event.id, bool)
    assert data["id"] == event.id
    assert data["title"] == event.title
    assert event.all_day is (data.get("allDay") is True)
    assert tuple(data.get("categories") or ()) == event.categories
    assert all(isinstance(tag, str) for tag in event.categories + event.tags)
    for value in (event.start, event.end, event.created_at, event.updated_at):
        assert value is None or isinstance(value, date | datetime)
    assert event.location is None or isinstance(event.location, Location)
    assert event.organiser is None or isinstance(event.organiser, Organiser)


@FAST
@given(events())
def test_any_event_shape_gives_an_event_or_a_typed_error(data):
    """Structuring never coerces, never recurses without bound, never raises an untyped error."""
    event = attempt(structure_event, data)
    if isinstance(event, Exception):
        assert describe_structure_error(event)
        return
    check_event(data, event)
    assert event == Event.from_dict(event.to_dict())


@PAGES
@given(st.lists(events(), max_size=3), json_values)
def test_any_page_shape_gives_a_page_or_a_typed_error(items, page):
    """Pages too: a valid EventPage or a described error, with the bad item's index."""
    result = attempt(structure_page, {"items": items, "page": page})
    if isinstance(result, Exception):
        assert describe_structure_error(result)
        return
    assert isinstance(result, EventPage)
    assert len(items) == len(result.items)


@FAST
@given(json_values)
def test_any_json_value_as_an_event_or_page(value):
    """Arbitrary JSON (not even an object) is refused with a typed error."""
    for structure in (structure_event, structure_page):
        result = attempt(structure, value)
        assert not isinstance(result, Exception) or describe_structure_error(result)


@FAST
@given(st.binary(max_size=200), st.integers(0, 5_000), st.sampled_from([b"[", b'{"a":', b"[{}, "]))
def test_any_bytes_decode_or_fail_with_value_error(noise, depth, opener):
    """Random bytes, non-UTF-8 and deep openers: a value or a ValueError, never RecursionError."""
    for body in (noise, opener * depth + noise, json.dumps(noise.hex()).encode()):
        with contextlib.suppress(ValueError):
            loads(body)
