"""Fuzzing every answer shape through the real client: a typed error or a valid model, no hang.

Hypothesis draws the status (2xx, 3xx, 4xx, 5xx, 429), the body (wrong types, missing
fields, huge strings, deep nesting, non-UTF-8, broken compression, random JSON) and odd
headers (``Retry-After``, ``X-Rate-Limit-*``, content types and encodings); the client
under test sends ``events.get`` and one page of ``events.list`` through
``httpx.MockTransport``. The only acceptable outcomes are an :class:`Event` /
:class:`EventPage` or a :class:`PlannerError`, each within a few seconds.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import anyio
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner_async import Event, PlannerClient, PlannerError, RetryPolicy

from support import jwt

STATUSES = [200, 201, 204, 301, 302, 304, 307, 400, 401, 403, 404, 409, 418, 422, 429]
STATUSES += [500, 502, 503, 504, 599]
NUMBERS = ["0", "1", "-1", "1e9", "1e400", "nan", "inf", "-inf", "abc", "", " 7 ", "0x10"]
NUMBERS += ["Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "9" * 400]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = ["id", "title", "start", "end", "allDay", "categories", "status", "updatedAt"]
FIELDS += ["location", "organiser", "sessions", "description"]
GOOD_EVENT = {"id": 7, "title": "Budget", "start": "2026-12-01T09:00:00Z"}


def deep(depth: int) -> bytes:
    """Valid JSON nested ``depth`` levels deep (an object in lists)."""
    return b"[" * depth + b'{"id": 1}' + b"]" * depth


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An event-shaped object with some fields missing or of the wrong type."""
    event = dict(GOOD_EVENT)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            event.pop(name, None)
        else:
            event[name] = draw(json_values)
    return event


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    """A page-shaped object whose items and paging numbers may be wrong."""
    page: dict[str, Any] = {"items": draw(st.lists(events(), max_size=3)), "page": 1}
    for name in draw(st.lists(st.sampled_from(["items", "page", "totalPages"]), max_size=2)):
        page[name] = draw(json_values)
    return page


def bodies() -> st.SearchStrategy[bytes]:
    """Every kind of body a broken server or proxy may send."""
    as_json = st.one_of(events(), pages(), json_values).map(lambda v: json.dumps(v).encode())
    return st.one_of(
        as_json,
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"",
                b"\xff\xfe\xfa not utf-8",
                b'{"id": 1, "title": "\xff"}',
                b'{"error": "\\ud800", "message": "\\udfff"}',
                b"<html><h1>502 Bad Gateway</h1></html>",
                deep(50),
                b'{"id": 1, "title": "' + b"x" * 2_000_000 + b'"}',
                b'{"items": [' + b",".join([json.dumps(GOOD_EVENT).encode()] * 3000) + b"]}",
                json.dumps({"error": "E" * 100_000, "message": "M" * 1_000_000}).encode(),
                b"[" * 100_000 + b"]" * 100_000,
                b'{"a":' * 3000 + b"1" + b"}" * 3000,
            ]
        ),
    )


def headers() -> st.SearchStrategy[list[tuple[str, bytes]]]:
    """Odd rate-limit, retry and content headers (values may be non-ASCII bytes)."""
    names = st.sampled_from(
        [
            "Retry-After",
            "X-Rate-Limit-Limit",
            "X-Rate-Limit-Remaining",
            "X-Rate-Limit-Reset",
            "Content-Type",
            "Content-Encoding",
        ]
    )
    values = st.one_of(
        st.sampled_from(NUMBERS).map(str.encode),
        st.sampled_from([b"gzip", b"br", b"deflate", b"application/json", b"text/html"]),
        st.binary(min_size=1, max_size=12).filter(lambda b: b"\r" not in b and b"\n" not in b),
    )
    return st.lists(st.tuples(names, values), max_size=4)


async def call(status: int, body: bytes, extra: list[tuple[str, bytes]], listing: bool) -> object:
    """Send one call through a fresh client whose events endpoints give this answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/auth"):
            token = {"token": jwt(time.time() + 900), "refreshToken": "refresh-1"}
            return httpx.Response(200, json=token)
        return httpx.Response(status, headers=extra, content=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = PlannerClient(
        "demo",
        "demo-key",
        base_url="https://planner.test",
        http_client=http,
        retry=RetryPolicy(max_retries=1, wait_initial=0.0, wait_max=0.0, max_retry_after=0.0),
        max_wait=0.5,
    )
    async with client, http:
        if listing:
            async for page in client.events.list(page_size=10).pages():
                return page
            return None
        return await client.events.get(1)


def outcome(status: int, body: bytes, extra: list[tuple[str, bytes]], listing: bool) -> object:
    """The call's result or its PlannerError; anything else (or a hang) fails the test."""

    async def bounded() -> object:
        with anyio.fail_after(5):
            try:
                return await call(status, body, extra, listing)
            except PlannerError as exc:
                return exc

    return anyio.run(bounded)


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.sampled_from(STATUSES), bodies(), headers(), st.booleans())
def test_any_answer_gives_a_model_or_a_typed_error(
    status: int, body: bytes, extra: list[tuple[str, bytes]], listing: bool
):
    """Whatever the server answers, the caller gets a model or a PlannerError, in time."""
    result = outcome(status, body, extra, listing)
    assert isinstance(result, PlannerError | Event) or type(result).__name__ == "EventPage"
    if isinstance(result, PlannerError):
        assert len(str(result).encode("utf-8")) < 3000  # printable and bounded


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([200, 201]), st.integers(min_value=3000, max_value=100_000), st.booleans())
def test_deeply_nested_success_bodies_give_a_typed_error(status: int, depth: int, valid: bool):
    """A success body nested thousands deep is a PlannerError, not a RecursionError."""
    body = deep(depth) if valid else b"[" * depth
    assert isinstance(outcome(status, body, [], False), PlannerError)


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_gzip_claimed_but_broken_bodies_are_typed_errors(payload: bytes):
    """A body that claims gzip but is not (or is cut) is a PlannerError, not DecodingError."""
    cut = gzip.compress(json.dumps(GOOD_EVENT).encode())[: len(payload) % 30]
    for body in (payload, cut):
        result = outcome(200, body, [("Content-Encoding", b"gzip")], False)
        assert isinstance(result, PlannerError | Event)
