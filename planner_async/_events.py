"""The events endpoints: ``client.events.get``/``list``/``get_many``/``sync``, and paging.

:class:`Events` checks arguments (through :mod:`._params`) before any request is spent and
hands each request to the client's pipeline; :class:`EventIterator` walks the pages with
the pure rule :func:`next_page_number`, fetching up to ``prefetch`` pages at once.

Concurrency without leaks: the pages of one look-ahead round are fetched by a task group
that opens and closes inside one step of the iteration, never across a ``yield`` (PEP 789
explains why a task group must not span one). Between two steps nothing runs in the
background, so ``break``, cancellation or an exception in the loop body leave no task and
no connection behind, on asyncio and trio, with or without ``aclosing``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._bulk import BulkGet, check_concurrency, check_ids
from ._clock import wall_clock
from ._exceptions import APIResponseValidationError
from ._models import Event, EventPage
from ._params import MAX_PAGE_SIZE, Sort, check_event_id, list_params
from ._pipeline import CallOptions, call_options
from ._serialization import structure_event, structure_page
from ._sync import DEFAULT_LAG, EventSync, SyncCheckpoint, check_lag

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = [
    "DEFAULT_PREFETCH",
    "EventIterator",
    "Events",
    "PagingError",
    "check_prefetch",
    "next_page_number",
]

FetchPage = Callable[[Mapping[str, Any]], Awaitable[EventPage]]
"""Fetches one page for the given wire query parameters (``page`` included)."""

DEFAULT_PREFETCH: Final = 4
"""Pages fetched ahead by default: five requests in flight at most.

Latency, not quota, bounds a listing: every page costs one request whatever the
prefetch, so a listing of ``n`` pages spends ``n`` of the 500 requests a minute either
way, and 4 makes it about 5× faster when requests take tens of milliseconds. What
prefetch can waste is the look-ahead of a loop left early (at most 4 requests, under 1 %
of the minute's quota), and what it can crowd out is other calls sharing the quota in a
burst (5 requests at once is 1 % of the window). Larger values gain little once the
quota, not latency, is the limit: 500 pages a minute is 8 a second.
"""
MAX_PREFETCH: Final = 64
"""The largest ``prefetch`` accepted (the default connection pool holds 100)."""


class PagingError(APIResponseValidationError):
    """The server's listing pages do not advance: paging them would never end.

    Raised when a page comes back numbered other than the one asked for (a server that
    ignores ``page``), or with exactly the same events as the page before. Not retried.
    """


def check_prefetch(prefetch: object) -> int:
    """``prefetch`` must be an int from 0 (sequential) to :data:`MAX_PREFETCH`."""
    if isinstance(prefetch, bool) or not isinstance(prefetch, int):
        raise TypeError(f"prefetch must be an int, got {type(prefetch).__name__}")
    if not 0 <= prefetch <= MAX_PREFETCH:
        raise ValueError(f"prefetch must be between 0 and {MAX_PREFETCH}, got {prefetch}")
    return prefetch


def next_page_number(page: EventPage, requested_page: int, page_size: int) -> int | None:
    """The page to ask for after ``page``, or None when the listing is done.

    Pure: stops on an empty page, on the last page by ``totalPages``, or (when the server
    leaves ``totalPages`` out) on a short page.

    >>> next_page_number(EventPage(items=(), page=1), 1, 50) is None
    True
    """
    if not page.items:
        return None
    if page.total_pages is not None:
        return requested_page + 1 if requested_page < page.total_pages else None
    return requested_page + 1 if len(page.items) >= page_size else None


def check_page_number(data: Any, requested: int) -> None:
    """Refuse an answer that names another page than the one asked for (``page`` absent
    is accepted: the contract lets the server leave it out)."""
    if not isinstance(data, dict):
        return
    answered = data.get("page")
    if type(answered) is int and answered != requested:
        raise PagingError(
            f"asked for page {requested}, the server answered page {answered}: it does not "
            "advance through the listing, so paging stops here"
        )


def _check_advances(page: EventPage, number: int, previous: tuple[int, ...]) -> tuple[int, ...]:
    """The ids of ``page``; PagingError when they repeat the previous page's exactly."""
    ids = tuple(event.id for event in page.items)
    if ids and ids == previous:
        raise PagingError(
            f"page {number} holds exactly the events of page {number - 1}: the server does "
            "not advance through the listing, so paging stops here"
        )
    return ids


class _Round:
    """The pages of one look-ahead round, fetched concurrently; the first failure wins."""

    __slots__ = ("failure", "fetch", "pages", "params")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any]) -> None:
        self.fetch = fetch
        self.params = params
        self.pages: dict[int, EventPage] = {}
        self.failure: tuple[int, Exception] | None = None

    async def run(self, numbers: range) -> None:
        if len(numbers) == 1:  # no task needed for a single page
            self.pages[numbers[0]] = await self.fetch({**self.params, "page": numbers[0]})
            return
        async with anyio.create_task_group() as group:
            for number in numbers:
                group.start_soon(self._one, number, group.cancel_scope)
        if self.failure is not None and not self.pages:
            raise self.failure[1]

    async def _one(self, number: int, scope: anyio.CancelScope) -> None:
        try:
            self.pages[number] = await self.fetch({**self.params, "page": number})
        except Exception as exc:  # one page failed for good: the rest of the round is moot
            if self.failure is None or number < self.failure[0]:
                self.failure = (number, exc)
            scope.cancel()


class EventIterator:
    """What ``client.events.list(...)`` returns: iterate events, or ``.pages()``.

    The arguments were checked when it was made; no request is sent until iteration.
    Once the first page gives ``totalPages``, each step that needs a page fetches it and
    up to ``prefetch`` following pages concurrently, then yields them in order; at most
    ``prefetch + 1`` pages are held. Nothing runs between steps (see the module
    docstring), so leaving the loop early is always clean.

    >>> async for event in client.events.list(query="budget"):   # doctest: +SKIP
    ...     print(event.title)
    """

    __slots__ = ("_fetch", "_params", "_prefetch")

    def __init__(
        self, fetch: FetchPage, params: Mapping[str, Any], prefetch: int = DEFAULT_PREFETCH
    ) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._prefetch = check_prefetch(prefetch)

    @property
    def _page_size(self) -> int:
        size: int = self._params["pageSize"]
        return size

    def __repr__(self) -> str:
        return f"EventIterator(params={self._params!r}, prefetch={self._prefetch})"

    async def pages(self, prefetch: int | None = None) -> AsyncIterator[EventPage]:
        """Yield each :class:`EventPage` in order, following ``page``/``totalPages``.

        ``prefetch`` overrides the listing's look-ahead (0: one page at a time).
        Raises :class:`PagingError` when the server's pages do not advance.
        """
        ahead = self._prefetch if prefetch is None else check_prefetch(prefetch)
        number: int | None = 1
        total: int | None = None
        previous: tuple[int, ...] = ()
        while number is not None:
            last = number if total is None else max(number, min(number + ahead, total))
            batch = _Round(self._fetch, self._params)
            await batch.run(range(number, last + 1))
            for at in range(number, last + 1):
                page = batch.pages.pop(at, None)
                if page is None:  # a page of this round failed: raise the first failure
                    assert batch.failure is not None
                    raise batch.failure[1]
                previous = _check_advances(page, at, previous)
                total = page.total_pages
                yield page
                number = next_page_number(page, at, self._page_size)
                if number is None:
                    return

    async def _events(self) -> AsyncIterator[Event]:
        # An event that moved across a page boundary between two requests would show up
        # twice; the ids of the previous page are enough to drop it.
        previous: frozenset[int] = frozenset()
        async for page in self.pages():
            for event in page.items:
                if event.id not in previous:
                    yield event
            previous = frozenset(event.id for event in page.items)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()


class Events:
    """The events endpoints: ``client.events.get(id)``, ``list(...)``, ``get_many(ids)``
    and ``sync(checkpoint)``.

    Each takes per-call ``timeout`` (seconds per HTTP request), ``max_wait`` (seconds to
    wait for quota) and ``deadline`` (seconds for the whole call, waits and retries
    included), overriding the client's settings for that call.
    """

    __slots__ = ("_clock", "_pipeline")

    def __init__(self, pipeline: Pipeline, clock: Callable[[], float] = wall_clock) -> None:
        self._pipeline = pipeline
        self._clock = clock

    async def get(
        self,
        event_id: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx's per-request timeout
        max_wait: float | None = None,
        deadline: float | None = None,
    ) -> Event:
        """Fetch one event by id.

        Raises :class:`NotFoundError` for an unknown id and :class:`PermissionDeniedError`
        for an event the account may not see.

        >>> event = await client.events.get(1001, timeout=5)   # doctest: +SKIP
        """
        event_id = check_event_id(event_id)
        options = call_options(timeout=timeout, max_wait=max_wait, deadline=deadline)
        return await self._get(event_id, options)

    async def _get(self, event_id: int, options: CallOptions) -> Event:
        data = await self._pipeline.api("GET", f"/events/{event_id}", options=options)
        return self._pipeline.structured(structure_event, data)

    def list(
        self,
        *,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        query: str | None = None,
        categories: Sequence[str] | None = None,
        country: str | None = None,
        updated_since: datetime | None = None,
        sort: Sort = "startDate",
        page_size: int = MAX_PAGE_SIZE,
        prefetch: int = DEFAULT_PREFETCH,
        timeout: float | None = None,
        max_wait: float | None = None,
        deadline: float | None = None,
    ) -> EventIterator:
        """Iterate over matching events, page by page; arguments are checked at once.

        ``start``/``end`` take dates or timezone-aware datetimes (events ending on or
        after ``start`` and starting on or before ``end``). ``page_size`` defaults to the
        contract's maximum, 200, to spend as few requests of the quota as possible.
        ``prefetch`` (default :data:`DEFAULT_PREFETCH`, 4) is how many pages after the
        one needed are fetched at the same time once ``totalPages`` is known; 0 pages
        one request at a time. Pages spend quota like any request.
        ``timeout``, ``max_wait`` and ``deadline`` apply to each page's request.

        >>> async for event in client.events.list(start=date(2026, 12, 1),  # doctest: +SKIP
        ...                                       categories=["Politics"], prefetch=8):
        ...     print(event.title)
        """
        params = list_params(
            start=start,
            end=end,
            query=query,
            categories=categories,
            country=country,
            updated_since=updated_since,
            sort=sort,
            page_size=page_size,
        )
        prefetch = check_prefetch(prefetch)
        options = call_options(timeout=timeout, max_wait=max_wait, deadline=deadline)
        return EventIterator(self._page_fetcher(options), params, prefetch)

    def get_many(
        self,
        ids: Iterable[int],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        max_wait: float | None = None,
        deadline: float | None = None,
    ) -> BulkGet:
        """Fetch many events by id, ``concurrency`` at a time; iterate the :class:`GetResult`s.

        One result per distinct id, in the order of ``ids`` (first occurrence). A 403,
        404, 400 or malformed event for one id is that id's ``error``; the others go on.
        A failure that would hit every id (authentication, quota, connection, server
        errors once retries are spent) is raised. Arguments are checked before any
        request; ``deadline`` applies to each id's request.

        >>> async for result in client.events.get_many([1001, 1002, 9999]):  # doctest: +SKIP
        ...     print(result.id, result.event.title if result.ok else result.error)
        """
        checked = check_ids(ids)
        size = check_concurrency(concurrency)
        options = call_options(timeout=timeout, max_wait=max_wait, deadline=deadline)

        async def get(event_id: int) -> Event:
            return await self._get(event_id, options)

        return BulkGet(get, checked, size)

    def sync(
        self,
        checkpoint: SyncCheckpoint | None = None,
        *,
        lag: float = DEFAULT_LAG,
        until: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
        timeout: float | None = None,
        max_wait: float | None = None,
        deadline: float | None = None,
    ) -> EventSync:
        """Every event created or changed since ``checkpoint`` (all events when None).

        Iterate the returned :class:`EventSync` for events, oldest change first, and
        persist ``run.checkpoint`` after handling each; pass it back to resume. See
        :class:`EventSync` for the guarantee. ``until`` (default: now minus ``lag``
        seconds, frozen when called) bounds the run.

        >>> run = client.events.sync(SyncCheckpoint.from_json(saved))  # doctest: +SKIP
        >>> async for event in run:
        ...     handle(event)
        ...     saved = run.checkpoint.to_json()
        """
        lag = check_lag(lag)
        params = list_params(
            start=None,
            end=None,
            query=None,
            categories=None,
            country=None,
            updated_since=None,
            sort="updatedAt",
            page_size=page_size,
        )
        options = call_options(timeout=timeout, max_wait=max_wait, deadline=deadline)
        return EventSync(
            self._page_fetcher(options), params, checkpoint, until=until, now=self._clock() - lag
        )

    def _page_fetcher(self, options: CallOptions) -> FetchPage:
        pipeline = self._pipeline

        async def fetch(params: Mapping[str, Any]) -> EventPage:
            data = await pipeline.api("GET", "/events", params=params, options=options)
            check_page_number(data, params["page"])
            return pipeline.structured(structure_page, data)

        return fetch
