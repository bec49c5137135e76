"""Structuring wire JSON into the models, and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest

from planner_async import Event, EventStatus, Location
from planner_async._serialization import (
    StructureError,
    describe_structure_error,
    structure_event,
    structure_page,
    to_wire,
)
from planner_async.testing import generate_events

FULL = {
    "id": 98231,
    "title": "Budget statement",
    "description": "The Chancellor delivers the autumn budget.",
    "startDate": "2026-11-26T12:30:00Z",
    "endDate": "2026-11-26T14:00:00+01:00",
    "allDay": False,
    "timezone": "Europe/London",
    "status": "confirmed",
    "categories": ["Politics", "Economy"],
    "tags": ["budget", "treasury"],
    "location": {
        "venue": "House of Commons",
        "city": "London",
        "region": "Greater London",
        "country": "GB",
    },
    "organiser": {"name": "HM Treasury", "url": "https://www.gov.uk/hm-treasury"},
    "url": "https://example.org/events/98231",
    "createdAt": "2026-10-01T09:00:00Z",
    "updatedAt": "2026-11-20T16:45:12Z",
}


def test_full_event_structures_with_aware_datetimes():
    """Z and offset date-times become aware datetimes; nested objects become models."""
    event = structure_event(FULL)
    assert datetime(2026, 11, 26, 12, 30, tzinfo=UTC) == event.start
    assert timezone(timedelta(hours=1)) == event.end.tzinfo  # type: ignore[union-attr]
    assert EventStatus.CONFIRMED == event.status
    assert ("Politics", "Economy") == event.categories
    assert Location("House of Commons", "London", "Greater London", "GB") == event.location
    assert "HM Treasury" == event.organiser.name  # type: ignore[union-attr]
    assert {} == dict(event.extra)


def test_all_day_event_keeps_plain_dates():
    """An all-day event's plain dates stay dates."""
    event = structure_event(
        {
            "id": 1,
            "title": "Christmas",
            "allDay": True,
            "startDate": "2026-12-25",
            "endDate": "2026-12-25",
        }
    )
    assert date(2026, 12, 25) == event.start
    assert not isinstance(event.start, datetime)
    assert event.all_day


def test_minimal_event_with_nulls_and_missing_fields():
    """Only id and title are needed; nulls mean 'not given'."""
    event = structure_event(
        {
            "id": 2,
            "title": "T",
            "description": None,
            "categories": None,
            "location": None,
            "allDay": None,
        }
    )
    assert Event(id=2, title="T") == event


def test_unknown_status_is_kept_as_a_string():
    """A status outside the contract's four is kept, not fatal."""
    assert "rescheduled" == structure_event({"id": 3, "title": "T", "status": "rescheduled"}).status


def test_unknown_fields_are_kept_in_extra_and_round_trip():
    """New wire fields land in extra, at every level, and to_wire puts them back."""
    wire = {**FULL, "embargoed": True, "location": {**FULL["location"], "lat": 51.5}}
    event = structure_event(wire)
    assert {"embargoed": True} == dict(event.extra)
    assert {"lat": 51.5} == dict(event.location.extra)  # type: ignore[union-attr]
    back = to_wire(event)
    assert True is back["embargoed"]
    assert 51.5 == back["location"]["lat"]
    assert "2026-11-26T12:30:00Z" == back["startDate"]
    assert structure_event(back) == event


def test_events_are_frozen_and_hashable():
    """Models are immutable and can go in sets."""
    event = structure_event(FULL)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.title = "x"  # type: ignore[misc]
    assert 1 == len({event, structure_event(FULL)})


def test_missing_id_or_title_is_an_error():
    """An event without its two required fields does not structure, and the error names them."""
    with pytest.raises(StructureError) as info:
        structure_event({"title": "no id"})
    assert ("id",) == info.value.path
    with pytest.raises(StructureError, match="title: required field is missing"):
        structure_event({"id": 1})


def test_page_structures_items_and_counts():
    """A listing page carries its items and page arithmetic."""
    page = structure_page(
        {"items": [FULL], "page": 2, "pageSize": 1, "totalItems": 5, "totalPages": 5}
    )
    assert (2, 1, 5, 5) == (page.page, page.page_size, page.total_items, page.total_pages)
    assert 98231 == page.items[0].id


def test_every_generated_event_structures():
    """All of the fake's realistic events structure without error."""
    events = [structure_event(e) for e in generate_events(2000, seed=11)]
    assert 2000 == len({e.id for e in events})
    assert any(isinstance(e.start, date) and not isinstance(e.start, datetime) for e in events)
    assert any(e.extra for e in events)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", 1001.9, "id: expected an integer, got a number"),
        ("id", 1001.0, "id: expected an integer, got a number"),
        ("id", True, "id: expected an integer, got a boolean"),
        ("id", "1001", "id: expected an integer, got a string"),
        ("title", ["Budget", "statement"], "title: expected a string, got an array"),
        ("title", 7, "title: expected a string, got an integer"),
        ("allDay", "false", "allDay: expected true, false or null, got a string"),
        ("allDay", 0, "allDay: expected true, false or null, got an integer"),
        (
            "categories",
            "Politics",
            "categories: expected an array of strings or null, got a string",
        ),
        ("categories", ["Politics", 3], "categories[1]: expected a string, got an integer"),
        ("tags", {"a": 1}, "tags: expected an array of strings or null, got an object"),
        ("description", 5, "description: expected a string or null, got an integer"),
        ("status", 1, "status: expected a string or null, got an integer"),
        ("startDate", 20261126, "startDate: expected an ISO 8601 date or date-time"),
        ("startDate", "next tuesday", "startDate: not an ISO 8601 date or date-time"),
        ("createdAt", "2026-13-45T00:00:00Z", "createdAt: not an ISO 8601 date-time"),
        ("location", "London", "location: expected a JSON object for Location, got a string"),
        (
            "location",
            {"city": ["London"]},
            "location.city: expected a string or null, got an array",
        ),
        ("organiser", {"name": 3}, "organiser.name: expected a string or null, got an integer"),
    ],
)
def test_wrong_types_are_refused_with_the_field_path(field, value, expected):
    """What the server sent is never coerced: a wrong JSON type fails, naming the field."""
    with pytest.raises(StructureError) as info:
        structure_event({**FULL, field: value})
    assert str(info.value).startswith(expected)
    assert describe_structure_error(info.value).startswith(expected)


def test_page_errors_name_the_item_index():
    """A bad event inside a page is located by its index."""
    bad = {**FULL, "id": "x"}
    with pytest.raises(StructureError, match=r"^items\[2\]\.id: expected an integer"):
        structure_page({"items": [FULL, FULL, bad], "page": 1})
    with pytest.raises(StructureError, match=r"^page: expected an integer"):
        structure_page({"items": [], "page": 1.5})
    with pytest.raises(StructureError, match=r"^items: required field is missing"):
        structure_page({"page": 1})


def test_error_messages_never_carry_the_value():
    """A huge or secret value is described by its JSON type only."""
    with pytest.raises(StructureError) as info:
        structure_event({**FULL, "title": ["sk_live_SECRET" * 100_000]})
    assert "SECRET" not in describe_structure_error(info.value)
    assert len(describe_structure_error(info.value)) < 100


def test_shared_nested_models_are_equal_and_independent_of_extras():
    """Repeated locations may be shared, but an unknown field still gets its own model."""
    plain = structure_event(FULL)
    again = structure_event(FULL)
    assert plain.location == again.location
    extra = structure_event({**FULL, "location": {**FULL["location"], "lat": 51.5}})
    assert {"lat": 51.5} == dict(extra.location.extra)  # type: ignore[union-attr]
    assert {} == dict(structure_event(FULL).location.extra)  # type: ignore[union-attr]
