"""Depth-safe JSON decoding (planner_async._json) and deep nesting in structuring."""

from __future__ import annotations

import json

import pytest

from planner_async._json import JSONDepthError, JSONEncodingError, loads
from planner_async._serialization import StructureError, structure_event, structure_page


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"[" * 3_000 + b"]" * 3_000,
        b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
        b'{"error": "x", "message": ' + b"[" * 50_000 + b"}",
        ("[" * 3_000 + "]" * 3_000),
    ],
    ids=[
        "100k-open",
        "100k-objects",
        "valid-3000-arrays",
        "valid-3000-objects",
        "error-body",
        "str",
    ],
)
def test_deep_nesting_is_a_value_error_not_recursion(body):
    """Too-deep JSON raises JSONDepthError (a ValueError), never RecursionError."""
    with pytest.raises(JSONDepthError):
        loads(body)
    assert {"ok": True} == loads(b'{"ok": true}')  # the decoder is unharmed


def test_depth_error_is_reliable_from_a_deep_stack():
    """Called with most of the recursion budget already used, it still fails cleanly."""

    def nested(levels: int) -> object:
        return loads(b"[" * 100_000) if levels == 0 else nested(levels - 1)

    for levels in (0, 200, 600, 900):
        with pytest.raises(JSONDepthError):
            nested(levels)


@pytest.mark.parametrize("body", [b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}', b'"\xc3"'])
def test_non_utf8_bytes_are_a_value_error(body):
    """Bytes that are not UTF-8 are refused, not guessed as UTF-16 or passed as surrogates."""
    with pytest.raises(JSONEncodingError, match="not valid UTF-8"):
        loads(body)


def test_ordinary_bodies_decode_like_json_loads():
    """Valid JSON decodes exactly as json.loads does; a UTF-8 BOM is tolerated."""
    doc = {"items": [{"id": 1, "title": "é", "x": [1.5, None, True]}], "page": 1}
    body = json.dumps(doc, ensure_ascii=False).encode()
    assert doc == loads(body)
    assert doc == loads(bytearray(body))
    assert doc == loads(memoryview(body))
    assert doc == loads(body.decode())
    assert [1] == loads(b"\xef\xbb\xbf[1]")
    with pytest.raises(json.JSONDecodeError):
        loads(b'{"truncated": ')


def test_deeply_nested_unknown_fields_structure_without_recursion():
    """An unknown field nested ~900 deep is kept as sent; structuring does not recurse into it."""
    deep: object = "bottom"
    for _ in range(900):
        deep = [deep]
    event = structure_event({"id": 1, "title": "t", "odd": deep, "location": {"x": deep}})
    assert event.extra["odd"] is deep
    assert event.location is not None
    assert event.location.extra["x"] is deep


def test_deep_value_in_a_known_field_is_a_structure_error():
    """Deep nesting where a string belongs fails on its type, without walking it."""
    deep: object = []
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(StructureError, match=r"^items\[0\]\.title: expected a string"):
        structure_page({"items": [{"id": 1, "title": deep}]})
