"""events.get_many: every id's result in input order, per-id errors, checks, clean exits."""

from __future__ import annotations

import random

import anyio
import pytest
from tracking import TrackingTransport, running_tasks, settle

from planner_async import (
    AuthenticationError,
    BulkGet,
    GetResult,
    NotFoundError,
    PermissionDeniedError,
)
from planner_async.testing import FakePlanner

from support import ClientFactory

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def restricted_id(fake: FakePlanner) -> int:
    """An event the demo account may not see (403)."""
    return min(fake.restricted_ids)


async def test_mixes_successes_403_and_404_in_input_order(
    fake: FakePlanner, make_client: ClientFactory
):
    """Each id gets its own result, in the order given; a 403 or 404 stops nothing."""
    visible = fake.visible_ids()[:6]
    forbidden = restricted_id(fake)
    missing = 999_999
    ids = [visible[0], forbidden, visible[1], missing, *visible[2:]]
    rng = random.Random(5)
    transport = TrackingTransport(fake.transport(), lambda _r: rng.uniform(0, 0.004))
    client = make_client(transport=transport)
    results = [result async for result in client.events.get_many(ids, concurrency=3)]
    assert ids == [result.id for result in results]
    by_id = {result.id: result for result in results}
    assert isinstance(by_id[forbidden].error, PermissionDeniedError)
    assert isinstance(by_id[missing].error, NotFoundError)
    assert (None, None) == (by_id[forbidden].event, by_id[missing].event)
    for event_id in visible:
        assert by_id[event_id].ok
        assert event_id == by_id[event_id].event.id
        assert by_id[event_id].error is None
    assert 3 == transport.max_in_flight
    assert 0 == transport.open_responses


async def test_repeated_ids_are_fetched_and_reported_once(
    fake: FakePlanner, make_client: ClientFactory
):
    """Duplicates collapse to the first occurrence: one request and one result per id."""
    a, b = fake.visible_ids()[:2]
    client = make_client()
    bulk = client.events.get_many([a, b, a, a, b])
    assert isinstance(bulk, BulkGet)
    assert 2 == len(bulk)
    assert [a, b] == [result.id async for result in bulk]
    assert 2 == fake.stats.count("events.get", 200)


@pytest.mark.parametrize(
    ("ids", "concurrency", "error"),
    [
        ([1, 0], 4, ValueError),
        ([1, "2"], 4, TypeError),
        ([1, True], 4, TypeError),
        ("123", 4, TypeError),
        (7, 4, TypeError),
        ([1], 0, ValueError),
        ([1], 65, ValueError),
        ([1], 2.0, TypeError),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    fake: FakePlanner, make_client: ClientFactory, ids: object, concurrency: object, error: type
):
    """Bad ids or concurrency raise when get_many is called, before any request."""
    client = make_client()
    with pytest.raises(error):
        client.events.get_many(ids, concurrency=concurrency)  # type: ignore[arg-type]
    assert [] == fake.requests


async def test_a_failure_that_hits_every_id_is_raised(
    fake: FakePlanner, make_client: ClientFactory
):
    """A rejected login is not one id's problem: it is raised, not reported per id."""
    client = make_client(api_key="wrong-key")
    with pytest.raises(AuthenticationError):
        async for _result in client.events.get_many(fake.visible_ids()[:5]):
            pass


async def test_cancelling_mid_batch_leaves_no_task_and_no_response(
    fake: FakePlanner, make_client: ClientFactory
):
    """Cancelling while a batch of gets is in flight stops them all and leaks nothing."""
    ids = fake.visible_ids()[:12]
    slow = {f"/api/v2/events/{event_id}" for event_id in ids[4:]}
    transport = TrackingTransport(fake.transport(), lambda r: 3600.0 if r.url.path in slow else 0.0)
    client = make_client(transport=transport)
    before = running_tasks()
    got: list[GetResult] = []

    async def consume() -> None:
        async for result in client.events.get_many(ids, concurrency=4):
            got.append(result)

    with anyio.move_on_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await transport.wait_in_flight(4)  # the second batch, all slow
            group.cancel_scope.cancel()
    await settle()
    assert ids[:4] == [result.id for result in got]
    assert (0, 0) == (transport.in_flight, transport.open_responses)
    assert before == running_tasks()


async def test_breaking_out_leaves_nothing_running(fake: FakePlanner, make_client: ClientFactory):
    """``break`` after the first result sends no further batch and leaves no task."""
    ids = fake.visible_ids()[:20]
    transport = TrackingTransport(fake.transport())
    client = make_client(transport=transport)
    before = running_tasks()
    async for _result in client.events.get_many(ids, concurrency=5):
        break
    await settle()
    assert 5 == fake.stats.count("events.get", 200)
    assert (0, 0) == (transport.in_flight, transport.open_responses)
    assert before == running_tasks()


def test_result_repr_names_the_error_type_only():
    """A GetResult's repr shows the error's type, not its (possibly long) message."""
    error = NotFoundError.__new__(NotFoundError)
    result = GetResult(7, None, error)
    assert "error=NotFoundError" in repr(result)
    assert not result.ok
