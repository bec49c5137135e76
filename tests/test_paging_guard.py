"""The paging guard: a server whose pages do not advance is stopped with a typed error."""

from __future__ import annotations

import pytest

from planner_async import APIResponseValidationError, PagingError
from planner_async.testing import FakePlanner

from support import ClientFactory

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def first_page_always(fake: FakePlanner, *, renumber: bool) -> None:
    """Make the fake ignore ``page``: every listing request gets page 1's events.

    With ``renumber`` the answer claims to be the page asked for (so only its repeated
    events give it away); otherwise it says ``page: 1`` as a server ignoring the
    parameter would.
    """

    def ignore(request):
        asked = int(request.param("page") or 1)
        size = int(request.param("pageSize"))
        items = [fake.event(event_id) for event_id in fake.visible_ids()[:size]]
        return 200, {"items": items, "page": asked if renumber else 1, "pageSize": size}

    fake.script("events.list", ignore, times=None)


@pytest.mark.parametrize("prefetch", [0, 4])
async def test_a_server_ignoring_page_is_stopped_after_one_extra_request(
    fake: FakePlanner, make_client: ClientFactory, prefetch: int
):
    """An answer numbered page 1 to a request for page 2 raises PagingError at once."""
    first_page_always(fake, renumber=False)
    client = make_client()
    seen: list[int] = []

    async def consume() -> None:
        async for event in client.events.list(page_size=10, prefetch=prefetch):
            seen.append(event.id)

    with pytest.raises(PagingError, match="asked for page 2, the server answered page 1"):
        await consume()
    assert fake.visible_ids()[:10] == seen
    assert 2 == len(fake.requests) - 1


async def test_the_same_events_twice_are_refused(fake: FakePlanner, make_client: ClientFactory):
    """A page holding exactly the previous page's events (numbered as asked) raises."""
    first_page_always(fake, renumber=True)
    client = make_client()
    with pytest.raises(PagingError, match="page 2 holds exactly the events of page 1"):
        async for _page in client.events.list(page_size=10, prefetch=0).pages():
            pass
    assert 2 == len(fake.requests) - 1


async def test_the_guard_is_a_typed_validation_error_and_not_retried(
    fake: FakePlanner, make_client: ClientFactory
):
    """PagingError is an APIResponseValidationError, and costs no retry."""
    first_page_always(fake, renumber=False)
    client = make_client()
    with pytest.raises(APIResponseValidationError):
        async for _event in client.events.list(page_size=10):
            pass
    assert 0 == client.stats.retries


async def test_a_server_that_leaves_page_out_is_still_paged(
    fake: FakePlanner, make_client: ClientFactory
):
    """Answers without a ``page`` field are accepted: the contract allows leaving it out."""

    def drop_page(request):
        asked, size = int(request.param("page")), int(request.param("pageSize"))
        ids = fake.visible_ids()[(asked - 1) * size : asked * size]
        return 200, {"items": [fake.event(event_id) for event_id in ids]}

    fake.script("events.list", drop_page, times=None)
    client = make_client()
    ids = [event.id async for event in client.events.list(page_size=50)]
    assert fake.visible_ids() == ids
