"""Async iteration over an events listing, one page in memory at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from ._models import Event, EventPage

__all__ = ["EventIterator", "next_page_number"]

FetchPage = Callable[[Mapping[str, Any]], Awaitable[EventPage]]


def next_page_number(page: EventPage, requested_page: int, page_size: int) -> int | None:
    """The page to ask for after ``page``, or None when the listing is done.

    Pure: stops on an empty page, on the last page by ``totalPages``, or (when the server
    leaves ``totalPages`` out) on a short page.
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

    __slots__ = ("_fetch", "_page_size", "_params")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any], page_size: int) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._page_size = page_size

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
