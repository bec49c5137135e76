"""The cattrs converter itself: strict hooks, extras, shared nested models, the login codec."""

from __future__ import annotations

import time
from types import MappingProxyType
from typing import Any

import httpx
import pytest

from planner_async import (
    APIResponseValidationError,
    Event,
    Location,
    PlannerClient,
    Session,
    StructureError,
)
from planner_async._converter import converter

from support import BASE, jwt


class Text(str):
    """A str subclass, as a Python caller (not the wire) might pass."""


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        (1001.9, int, "expected an integer, got a number"),
        ("1001", int, "expected an integer, got a string"),
        (True, int, "expected an integer, got a boolean"),
        ("false", bool, "expected true or false, got a string"),
        (["a"], str, "expected a string, got an array"),
        ("Politics", tuple[str, ...], "expected an array of strings, got a string"),
    ],
)
def test_the_converter_refuses_instead_of_converting(value: Any, type_: Any, expected: str):
    """``converter.structure`` never coerces: each wrong JSON type is a StructureError."""
    with pytest.raises(StructureError) as info:
        converter.structure(value, type_)
    assert expected == info.value.reason


def test_a_bad_item_after_a_str_subclass_is_still_refused():
    """A list holding a str subclass and then a number fails on the number, by index."""
    with pytest.raises(StructureError) as info:
        Event.from_dict({"id": 1, "title": "t", "tags": [Text("a"), 3]})
    assert ("tags", 1) == info.value.path
    assert ("a", "b") == Event.from_dict({"id": 1, "title": "t", "tags": [Text("a"), "b"]}).tags


def test_any_mapping_structures_and_known_fields_win_over_extras():
    """A read-only mapping is a JSON object too; ``to_dict`` keeps known fields over extras."""
    event = Event.from_dict(MappingProxyType({"id": 1, "title": "t", "x": 2}))
    assert {"x": 2} == dict(event.extra)
    clash = Event(id=1, title="t", extra={"title": "shadow", "y": None})
    assert "t" == clash.to_dict()["title"]
    assert clash.to_dict()["y"] is None


def test_null_takes_each_fields_default():
    """``null`` for a field with a default gives that default, not None."""
    event = Event.from_dict({"id": 1, "title": "t", "allDay": None, "categories": None})
    assert (False, ()) == (event.all_day, event.categories)


def test_repeated_locations_are_shared_but_extras_are_not():
    """Equal location objects give one shared instance; one with unknown keys gets its own."""
    wire = {"city": "London", "country": "GB"}
    first = Event.from_dict({"id": 1, "title": "a", "location": dict(wire)})
    second = Event.from_dict({"id": 2, "title": "b", "location": dict(wire)})
    assert first.location is second.location
    odd = Location.from_dict({**wire, "lat": 51.5})
    assert {"lat": 51.5} == dict(odd.extra)
    assert {} == dict(Location.from_dict(wire).extra)


def test_session_has_one_codec_both_ways():
    """Session.from_dict reads what to_dict writes and ignores the login answer's tokens."""
    session = Session.from_dict({"userId": 1, "email": "a@b.c", "token": "eyJsecret"})
    assert Session(user_id=1, email="a@b.c") == session
    assert session == Session.from_dict(session.to_dict())


@pytest.mark.anyio
@pytest.mark.backends("asyncio")
async def test_a_login_answer_that_does_not_fit_is_a_typed_error():
    """A login answer with a string ``userId`` is refused as APIResponseValidationError."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"userId": "1234", "token": jwt(time.time() + 900), "refreshToken": "r"}
        return httpx.Response(200, json=body)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http,
        PlannerClient("demo", "demo-key", base_url=BASE, http_client=http) as client,
    ):
        with pytest.raises(APIResponseValidationError, match="userId: expected an integer"):
            await client.authenticate()
