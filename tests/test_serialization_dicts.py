"""Models as data: to_dict/from_dict round trips and pydantic (FastAPI) support."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from planner_async import Event, EventPage, EventStatus, Location, Organiser, Session
from planner_async._serialization import StructureError, to_wire
from planner_async.testing import generate_events

WIRE = {
    "id": 98231,
    "title": "Budget statement",
    "description": None,
    "startDate": "2026-11-26T12:30:00Z",
    "endDate": "2026-11-26T14:00:00+01:00",
    "allDay": False,
    "timezone": None,
    "status": "rescheduled",
    "categories": ["Politics", "Economy"],
    "tags": [],
    "location": {"venue": None, "city": "London", "region": None, "country": "GB", "lat": 51.5},
    "organiser": None,
    "url": None,
    "createdAt": "2026-10-01T09:00:00Z",
    "updatedAt": None,
    "embargoed": True,
    "nested": {"deep": [1, {"x": None}]},
}
ALL_DAY = {
    **WIRE,
    "id": 1,
    "allDay": True,
    "startDate": "2026-12-25",
    "endDate": "2026-12-26",
    "status": "confirmed",
    "organiser": {"name": "Crown", "url": "https://example.org"},
}


@pytest.mark.parametrize("wire", [WIRE, ALL_DAY], ids=["nulls-and-extras", "all-day"])
def test_wire_dict_round_trips_exactly(wire):
    """to_dict(from_dict(wire)) gives back the wire dict: extras, nulls and plain dates kept."""
    event = Event.from_dict(wire)
    assert wire == event.to_dict()
    assert json.loads(json.dumps(event.to_dict())) == event.to_dict()


def test_generated_events_round_trip_through_dicts():
    """Event.from_dict(e.to_dict()) == e for the fake's realistic events, extras included."""
    for data in generate_events(300, seed=5):
        event = Event.from_dict(data)
        assert event == Event.from_dict(event.to_dict())
        assert event.extra == Event.from_dict(event.to_dict()).extra


def test_python_built_event_round_trips():
    """An Event built in Python (enum status, offsets, dates) survives to_dict/from_dict."""
    event = Event(
        id=5,
        title="T",
        start=date(2026, 1, 2),
        end=datetime(2026, 1, 2, 9, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=-5))),
        status=EventStatus.CANCELLED,
        categories=("a",),
        location=Location(city="Paris"),
        organiser=Organiser(name="O", extra={"id": 3}),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        extra={"x": [1, 2]},
    )
    data = event.to_dict()
    assert "cancelled" == data["status"]
    assert "2026-01-01T00:00:00Z" == data["createdAt"]
    assert {"name": "O", "url": None, "id": 3} == data["organiser"]
    assert event == Event.from_dict(data)


def test_page_and_session_round_trip():
    """EventPage and Session convert both ways, page extras kept."""
    wire = {
        "items": [WIRE, ALL_DAY],
        "page": 2,
        "pageSize": 2,
        "totalItems": 9,
        "totalPages": 5,
        "next": "/events?page=3",
    }
    page = EventPage.from_dict(wire)
    assert {"next": "/events?page=3"} == dict(page.extra)
    assert wire == page.to_dict()
    session = Session(
        user_id=1, product_id=2, email="a@b.c", expires_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert session == Session.from_dict(session.to_dict())
    assert "2026-01-01T00:00:00Z" == session.to_dict()["expiresAt"]
    with pytest.raises(StructureError, match="userId"):
        Session.from_dict({"userId": "1234"})


def test_from_dict_refuses_non_objects_and_wrong_types():
    """from_dict is as strict as structuring from the wire."""
    with pytest.raises(StructureError, match="expected a JSON object for Event, got an array"):
        Event.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allDay"):
        Event.from_dict({"id": 1, "title": "t", "allDay": "false"})
    with pytest.raises(StructureError, match=r"^city"):
        Location.from_dict({"city": 3})


def test_to_wire_accepts_models_and_lists():
    """to_wire (used by the CLI) is to_dict, also over a list of models."""
    event = Event.from_dict(WIRE)
    assert [WIRE, WIRE] == to_wire([event, event])
    with pytest.raises(TypeError):
        to_wire(object())


def test_import_does_not_import_pydantic():
    """pydantic is imported only when pydantic asks a model for its schema."""
    code = "import sys, planner_async; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "False" == out.stdout.strip()


def test_pydantic_validates_json_into_the_attrs_model():
    """TypeAdapter(Event) builds the real Event from JSON, strictly, and dumps to_dict()."""
    pydantic = pytest.importorskip("pydantic")
    adapter = pydantic.TypeAdapter(Event)
    event = adapter.validate_json(json.dumps(WIRE))
    assert isinstance(event, Event)
    assert Event.from_dict(WIRE) == event
    assert adapter.validate_python(event) is event
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert WIRE == json.loads(adapter.dump_json(event))
        assert WIRE == adapter.dump_python(event)
    with pytest.raises(pydantic.ValidationError, match="id: expected an integer"):
        adapter.validate_python({"id": 1001.9, "title": "t"})


def test_pydantic_handles_pages_and_lists():
    """Lists of events and pages serialise through their to_dict forms."""
    pydantic = pytest.importorskip("pydantic")
    events = [Event.from_dict(WIRE), Event.from_dict(ALL_DAY)]
    assert [WIRE, ALL_DAY] == json.loads(pydantic.TypeAdapter(list[Event]).dump_json(events))
    page = EventPage(items=tuple(events), page=1)
    assert page.to_dict() == pydantic.TypeAdapter(EventPage).dump_python(page)


def test_pydantic_json_schema_shows_the_wire_fields():
    """The JSON schema (as FastAPI's OpenAPI shows it) lists the camelCase wire fields."""
    pydantic = pytest.importorskip("pydantic")
    for mode in ("validation", "serialization"):
        schema = pydantic.TypeAdapter(Event).json_schema(mode=mode)
        assert ["id", "title"] == schema["required"]
        assert {"startDate", "allDay", "createdAt", "location", "organiser"} <= set(
            schema["properties"]
        )
        assert "integer" == schema["properties"]["id"]["type"]
        assert schema["additionalProperties"] is True
    page_schema = pydantic.TypeAdapter(EventPage).json_schema()
    assert {"items", "page", "pageSize", "totalItems", "totalPages"} == set(
        page_schema["properties"]
    )
