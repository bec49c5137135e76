"""Look-ahead paging: order, exactly-once delivery, bounded concurrency, failures, clean exits."""

from __future__ import annotations

import contextlib
import random

import anyio
import pytest
from tracking import TrackingTransport, running_tasks, settle

from planner_async import DEFAULT_PREFETCH, PlannerError, ServerError
from planner_async.testing import FakePlanner

from support import ClientFactory

pytestmark = [pytest.mark.anyio, pytest.mark.backends("asyncio", "trio")]


def tracked(fake: FakePlanner, delay: float | None = None, seed: int = 0) -> TrackingTransport:
    """The fake's transport with counters and, when ``delay`` is set, random latencies."""
    rng = random.Random(seed)
    if delay is None:
        return TrackingTransport(fake.transport())
    return TrackingTransport(fake.transport(), lambda _request: rng.uniform(0, delay))


async def test_random_latencies_keep_order_and_deliver_each_event_once(
    fake: FakePlanner, make_client: ClientFactory
):
    """Pages answered out of order still yield every event once, in the listing's order."""
    transport = tracked(fake, delay=0.004, seed=1)
    client = make_client(transport=transport)
    ids = [event.id async for event in client.events.list(page_size=20, prefetch=6)]
    assert fake.visible_ids() == ids
    assert len(set(ids)) == len(ids)
    assert 7 == transport.max_in_flight  # the page needed and 6 ahead, never more
    assert sorted(transport.pages) == list(range(1, -(-len(ids) // 20) + 1))  # each page once


async def test_prefetch_zero_is_sequential(fake: FakePlanner, make_client: ClientFactory):
    """``prefetch=0`` never has two page requests in flight."""
    transport = tracked(fake, delay=0.001)
    client = make_client(transport=transport)
    ids = [event.id async for event in client.events.list(page_size=50, prefetch=0)]
    assert fake.visible_ids() == ids
    assert 1 == transport.max_in_flight


async def test_pages_without_arguments_uses_the_listing_prefetch(
    fake: FakePlanner, make_client: ClientFactory
):
    """``.pages()`` works with no argument and ``.pages(prefetch=2)`` caps the look-ahead."""
    transport = tracked(fake, delay=0.001)
    client = make_client(transport=transport)
    listing = client.events.list(page_size=25)
    default = [page.page async for page in listing.pages()]
    assert DEFAULT_PREFETCH + 1 == transport.max_in_flight
    transport.max_in_flight = 0
    capped = [page.page async for page in listing.pages(prefetch=2)]
    assert 3 == transport.max_in_flight
    assert default == capped == list(range(1, len(default) + 1))


async def test_failed_pages_are_retried_and_delivered_once(
    fake: FakePlanner, make_client: ClientFactory
):
    """Pages that fail once (503) are retried inside the round; nothing is lost or doubled."""
    failed: set[str] = set()

    def flaky(request):
        page = request.param("page")
        if page in {"2", "5", "6"} and page not in failed:
            failed.add(page)
            return 503
        return None

    fake.script("events.list", flaky, times=None)
    client = make_client(transport=tracked(fake, delay=0.002, seed=2))
    ids = [event.id async for event in client.events.list(page_size=40, prefetch=4)]
    assert fake.visible_ids() == ids
    assert {"2", "5", "6"} == failed
    assert 3 == client.stats.retries


async def test_a_page_failing_for_good_delivers_the_pages_before_it(
    fake: FakePlanner, make_client: ClientFactory
):
    """A page that keeps failing raises its error after the pages before it, leaving nothing."""
    fake.script("events.list", lambda r: 500 if r.param("page") == "4" else None, times=None)
    transport = tracked(fake, delay=0.002, seed=3)
    client = make_client(transport=transport, max_retries=1)
    seen: list[int] = []

    async def consume() -> None:
        async for event in client.events.list(page_size=30, prefetch=5):
            seen.append(event.id)

    with pytest.raises(ServerError):
        await consume()
    assert fake.visible_ids()[:90] == seen
    await settle()
    assert (0, 0) == (transport.in_flight, transport.open_responses)


async def test_cancelling_mid_round_leaves_no_task_and_no_response(
    fake: FakePlanner, make_client: ClientFactory
):
    """Cancelling the consumer while a round of pages is in flight stops every fetch."""
    transport = TrackingTransport(
        fake.transport(), lambda r: 3600.0 if r.url.params.get("page", "1") != "1" else 0.0
    )
    client = make_client(transport=transport)
    before = running_tasks()
    got: list[int] = []

    async def consume() -> None:
        async for event in client.events.list(page_size=50, prefetch=3):
            got.append(event.id)

    with anyio.move_on_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await transport.wait_in_flight(4)
            group.cancel_scope.cancel()
    await settle()
    assert 50 == len(got)  # page 1 was delivered; pages 2-5 were in flight
    assert (0, 0) == (transport.in_flight, transport.open_responses)
    assert before == running_tasks()


@pytest.mark.parametrize("how", ["break", "raise"])
async def test_leaving_the_loop_early_leaves_nothing_running(
    fake: FakePlanner, make_client: ClientFactory, how: str
):
    """``break`` or an exception in the loop body, mid-listing, leaves no task or response."""
    transport = tracked(fake, delay=0.002, seed=4)
    client = make_client(transport=transport)
    before = running_tasks()
    count = 0
    with pytest.raises(KeyError) if how == "raise" else contextlib.nullcontext():
        async for _event in client.events.list(page_size=20, prefetch=8):
            count += 1
            if count == 45:
                if how == "raise":
                    raise KeyError("consumer failed")
                break
    await settle()
    assert (0, 0) == (transport.in_flight, transport.open_responses)
    assert before == running_tasks()
    assert 9 >= max(transport.pages) - 1  # one round of 8 ahead after page 1, no more


async def test_pages_spend_quota_like_any_request(fake: FakePlanner, make_client: ClientFactory):
    """Each prefetched page takes a permit: the client's request count is the page count."""
    client = make_client(transport=tracked(fake))
    pages = [page async for page in client.events.list(page_size=100, prefetch=3).pages()]
    logins = 1
    assert len(pages) + logins == client.stats.requests
    minute = next(w for w in client.rate_limit.windows if w.period == 60)
    assert len(pages) == minute.used


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), (65, ValueError), (True, TypeError), ("3", TypeError)]
)
async def test_bad_prefetch_is_refused_before_any_request(
    fake: FakePlanner, make_client: ClientFactory, value: object, error: type[Exception]
):
    """An out-of-range or non-int ``prefetch`` raises at once, on list() and on pages()."""
    client = make_client()
    with pytest.raises(error, match="prefetch"):
        client.events.list(prefetch=value)  # type: ignore[arg-type]
    with pytest.raises(error, match="prefetch"):
        async for _page in client.events.list().pages(prefetch=value):  # type: ignore[arg-type]
            pass
    assert 0 == client.stats.requests
    assert not issubclass(error, PlannerError)


async def test_totals_that_shrink_mid_listing_stop_cleanly(
    fake: FakePlanner, make_client: ClientFactory
):
    """Events deleted while paging shrink totalPages: paging stops at the first empty page."""
    ids = fake.visible_ids()

    def shrink(request, page):
        if page["page"] == 1:
            for event_id in ids[100:]:
                fake.delete_event(event_id)

    fake.on_page(shrink)
    client = make_client(transport=tracked(fake))
    got = [event.id async for event in client.events.list(page_size=25, prefetch=8)]
    assert ids[:100] == got


# -- the sliding window: ``async with client.events.list(...) as events`` -------------------


async def test_window_keeps_order_and_overlaps_fetching_with_the_body(
    fake: FakePlanner, make_client: ClientFactory
):
    """In a window, pages arrive in order, each event once, while the body is still busy."""
    transport = tracked(fake, delay=0.004, seed=6)
    client = make_client(transport=transport)
    ids: list[int] = []
    busy_in_flight: list[int] = []
    async with client.events.list(page_size=20, prefetch=5) as events:
        async for page in events.pages():
            ids.extend(event.id for event in page.items)
            await anyio.sleep(0.002)  # the body works; the window keeps fetching meanwhile
            busy_in_flight.append(transport.in_flight)
    assert fake.visible_ids() == ids
    assert 6 == transport.max_in_flight
    assert max(busy_in_flight) > 0
    assert (0, 0) == (transport.in_flight, transport.open_responses)


@pytest.mark.parametrize("how", ["break", "raise", "cancel"])
async def test_leaving_a_window_cancels_its_fetches(
    fake: FakePlanner, make_client: ClientFactory, how: str
):
    """``break``, an exception (raised as itself) or cancellation leave nothing running."""
    transport = TrackingTransport(
        fake.transport(), lambda r: 3600.0 if int(r.url.params.get("page", "1")) > 2 else 0.0
    )
    client = make_client(transport=transport)
    before = running_tasks()
    seen: list[int] = []

    async def consume() -> None:
        async with client.events.list(page_size=50, prefetch=4) as events:
            async for event in events:
                seen.append(event.id)
                if len(seen) < 60:
                    continue
                await transport.wait_in_flight(4)  # pages 3-6 are hanging
                if how == "raise":
                    raise KeyError("consumer failed")
                if how == "cancel":
                    await anyio.sleep(3600)
                break

    with anyio.move_on_after(0.5 if how == "cancel" else 5):
        if how == "raise":
            with pytest.raises(KeyError):
                await consume()
        else:
            await consume()
    await settle()
    assert 60 == len(seen)
    assert (0, 0) == (transport.in_flight, transport.open_responses)
    assert before == running_tasks()


async def test_a_failing_page_in_a_window_raises_itself_after_the_pages_before_it(
    fake: FakePlanner, make_client: ClientFactory
):
    """A page that keeps failing raises its own error (not a group) once it is reached."""
    fake.script("events.list", lambda r: 500 if r.param("page") == "3" else None, times=None)
    client = make_client(transport=tracked(fake), max_retries=1)
    seen: list[int] = []

    async def consume() -> None:
        async with client.events.list(page_size=30, prefetch=4) as events:
            async for event in events:
                seen.append(event.id)

    with pytest.raises(ServerError):
        await consume()
    assert fake.visible_ids()[:60] == seen


async def test_a_window_is_iterated_once_and_only_inside_its_block(
    fake: FakePlanner, make_client: ClientFactory
):
    """A second iteration, or one after the block, is a clear RuntimeError."""
    client = make_client()
    async with client.events.list(page_size=200) as events:
        assert 0 < len([event async for event in events])
        with pytest.raises(RuntimeError, match="once"):
            async for _event in events:
                pass
    async with client.events.list() as late:
        pass
    with pytest.raises(RuntimeError, match="async with"):
        await late.pages().__anext__()


async def test_a_listing_opens_one_window_at_a_time(fake: FakePlanner, make_client: ClientFactory):
    """Entering the same listing twice at once is refused; after leaving, it can reopen."""
    client = make_client()
    listing = client.events.list(page_size=200)
    async with listing:
        with pytest.raises(RuntimeError, match="already open"):
            await listing.__aenter__()
    async with listing as again:
        assert [] != [event.id async for event in again]
