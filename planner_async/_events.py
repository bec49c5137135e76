"""The events endpoints: ``client.events.get`` and ``client.events.list``, and their paging.

:class:`Events` checks arguments (through :mod:`._params`) before any request is spent and
hands each request to the client's pipeline; :class:`EventIterator` walks the pages with
the pure rule :func:`next_page_number`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ._models import Event, EventPage
from ._params import MAX_PAGE_SIZE, Sort, check_event_id, list_params
from ._pipeline import CallOptions, call_options
from ._serialization import structure_event, structure_page

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = ["EventIterator", "Events", "next_page_number"]

FetchPage = Callable[[Mapping[str, Any]], Awaitable[EventPage]]
"""Fetches one page for the given wire query parameters (``page`` included)."""


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


class EventIterator:
    """What ``client.events.list(...)`` returns: iterate events, or ``.pages()``.

    The arguments were checked when it was made; no request is sent until iteration.

    >>> async for event in client.events.list(query="budget"):   # doctest: +SKIP
    ...     print(event.title)
    """

    __slots__ = ("_fetch", "_params")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any]) -> None:
        self._fetch = fetch
        self._params = dict(params)

    @property
    def _page_size(self) -> int:
        size: int = self._params["pageSize"]
        return size

    def __repr__(self) -> str:
        return f"EventIterator(params={self._params!r})"

    async def pages(self) -> AsyncIterator[EventPage]:
        """Yield each :class:`EventPage` in turn, following ``page``/``totalPages``."""
        number: int | None = 1
        while number is not None:
            page = await self._fetch({**self._params, "page": number})
            yield page
            number = next_page_number(page, number, self._page_size)

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
    """The events endpoints: ``client.events.get(id)`` and ``client.events.list(...)``.

    Both take per-call ``timeout`` (seconds per HTTP request), ``max_wait`` (seconds to
    wait for quota) and ``deadline`` (seconds for the whole call, waits and retries
    included), overriding the client's settings for that call.
    """

    __slots__ = ("_pipeline",)

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

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
        timeout: float | None = None,
        max_wait: float | None = None,
        deadline: float | None = None,
    ) -> EventIterator:
        """Iterate over matching events, page by page; arguments are checked at once.

        ``start``/``end`` take dates or timezone-aware datetimes (events ending on or
        after ``start`` and starting on or before ``end``). ``page_size`` defaults to the
        contract's maximum, 200, to spend as few requests of the quota as possible.
        ``timeout``, ``max_wait`` and ``deadline`` apply to each page's request.

        >>> async for event in client.events.list(start=date(2026, 12, 1),  # doctest: +SKIP
        ...                                       categories=["Politics"]):
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
        options = call_options(timeout=timeout, max_wait=max_wait, deadline=deadline)
        return EventIterator(self._page_fetcher(options), params)

    def _page_fetcher(self, options: CallOptions) -> FetchPage:
        pipeline = self._pipeline

        async def fetch(params: Mapping[str, Any]) -> EventPage:
            data = await pipeline.api("GET", "/events", params=params, options=options)
            return pipeline.structured(structure_page, data)

        return fetch
