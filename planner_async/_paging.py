"""Paging: the pure page rule, the paging guard, and the two ways pages are fetched ahead.

* :class:`Rounds` (plain ``async for``): each step of the iteration that needs a page
  fetches it and up to ``prefetch`` following pages in a task group that opens and closes
  inside the step, never across a ``yield`` (PEP 789 explains why a task group must not
  span one). Nothing runs between steps, so ``break``, cancellation or an exception in
  the loop body leave nothing behind, on asyncio and trio, without ``aclosing``.
* :class:`EventWindow` (``async with client.events.list(...) as events``): a sliding window
  whose task group lives as long as the ``async with`` block; ``prefetch`` pages stay in
  flight while the caller works on the current one, so fetching overlaps processing.
  Leaving the block cancels whatever is still in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final

import anyio

from ._checks import check_int
from ._exceptions import APIResponseValidationError
from ._models import Event, EventPage

__all__ = [
    "DEFAULT_PREFETCH",
    "MAX_PREFETCH",
    "EventWindow",
    "FetchPage",
    "PagingError",
    "Rounds",
    "check_advances",
    "check_page_number",
    "check_prefetch",
    "dedupe",
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
    return check_int("prefetch", prefetch, low=0, high=MAX_PREFETCH)


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


def check_advances(page: EventPage, number: int, previous: tuple[int, ...]) -> tuple[int, ...]:
    """The ids of ``page``; PagingError when they repeat the previous page's exactly."""
    ids = tuple(event.id for event in page.items)
    if ids and ids == previous:
        raise PagingError(
            f"page {number} holds exactly the events of page {number - 1}: the server does "
            "not advance through the listing, so paging stops here"
        )
    return ids


class _Round:
    """The pages of one look-ahead round, fetched concurrently.

    A page that fails cancels only the pages after it: the pages before it are still
    wanted (the listing may end before the failed page, which is then never reached).
    The failure of the lowest failed page is kept.
    """

    __slots__ = ("failure", "fetch", "pages", "params", "scopes")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any]) -> None:
        self.fetch = fetch
        self.params = params
        self.pages: dict[int, EventPage] = {}
        self.failure: tuple[int, Exception] | None = None
        self.scopes: dict[int, anyio.CancelScope] = {}

    async def run(self, numbers: range) -> None:
        if len(numbers) == 1:  # no task needed for a single page
            self.pages[numbers[0]] = await self.fetch({**self.params, "page": numbers[0]})
            return
        async with anyio.create_task_group() as group:
            for number in numbers:
                self.scopes[number] = anyio.CancelScope()
                group.start_soon(self._one, number)

    async def _one(self, number: int) -> None:
        with self.scopes[number]:
            try:
                self.pages[number] = await self.fetch({**self.params, "page": number})
            except Exception as exc:  # this page failed for good: the later ones are moot
                self._failed(number, exc)

    def _failed(self, number: int, exc: Exception) -> None:
        if self.failure is None or number < self.failure[0]:
            self.failure = (number, exc)
        for later, scope in self.scopes.items():
            if later > number:
                scope.cancel()


async def dedupe(pages: AsyncIterator[EventPage]) -> AsyncIterator[Event]:
    """The events of ``pages`` in order, dropping one that moved across a page boundary
    between two requests (it shows up again at the top of the next page)."""
    previous: frozenset[int] = frozenset()
    async for page in pages:
        for event in page.items:
            if event.id not in previous:
                yield event
        previous = frozenset(event.id for event in page.items)


class Rounds:
    """Pages in order, fetched in rounds of the needed page and up to ``prefetch`` more."""

    __slots__ = ("_fetch", "_params", "_prefetch")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any], prefetch: int) -> None:
        self._fetch = fetch
        self._params = params
        self._prefetch = prefetch

    async def pages(self) -> AsyncIterator[EventPage]:
        """Yield each page in order; raises the first failure, :class:`PagingError`."""
        size: int = self._params["pageSize"]
        number: int | None = 1
        total: int | None = None
        previous: tuple[int, ...] = ()
        while number is not None:
            last = number if total is None else max(number, min(number + self._prefetch, total))
            batch = _Round(self._fetch, self._params)
            await batch.run(range(number, last + 1))
            for at in range(number, last + 1):
                page = batch.pages.pop(at, None)
                if page is None:  # the lowest page that failed (none before it did)
                    assert batch.failure is not None
                    raise batch.failure[1]
                previous = check_advances(page, at, previous)
                total = page.total_pages
                yield page
                number = next_page_number(page, at, size)
                if number is None:
                    return


class _Slot:
    """One page of the window: fetched (``page``), failed (``error``), or on its way."""

    __slots__ = ("error", "page", "ready")

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.page: EventPage | None = None
        self.error: Exception | None = None


class EventWindow:
    """What ``async with client.events.list(...) as events`` gives: a sliding window.

    While the caller holds page ``n``, pages up to ``n + prefetch`` are requested (once
    ``totalPages`` is known), so at most ``prefetch + 1`` pages are held. Iterate it for
    events, or :meth:`pages` for pages; once only. Leaving the block cancels the fetches
    still in flight (at most ``prefetch`` requests spent for nothing).

    >>> async with client.events.list(prefetch=8) as events:   # doctest: +SKIP
    ...     async for event in events:
    ...         await store(event)
    """

    __slots__ = ("_fetch", "_group", "_launched", "_params", "_prefetch", "_slots", "_used")

    def __init__(self, fetch: FetchPage, params: Mapping[str, Any], prefetch: int) -> None:
        self._fetch = fetch
        self._params = params
        self._prefetch = prefetch
        self._group: anyio.abc.TaskGroup | None = None
        self._slots: dict[int, _Slot] = {}
        self._launched = 0
        self._used = False

    async def __aenter__(self) -> EventWindow:
        if self._group is not None:
            raise RuntimeError("this listing is already open")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._group = self._group, None
        assert group is not None
        group.cancel_scope.cancel()  # whatever is still in flight is not wanted any more
        self._slots.clear()
        # Fetch tasks keep their errors in their slots, so the group has nothing to raise;
        # exiting it as if the block ended normally lets the caller's own exception through
        # unwrapped.
        await group.__aexit__(None, None, None)

    def _launch_until(self, last: int) -> None:
        group = self._group
        if group is None:
            raise RuntimeError("use the listing inside its `async with` block")
        while self._launched < last:
            self._launched += 1
            slot = self._slots[self._launched] = _Slot()
            group.start_soon(self._one, self._launched, slot)

    async def _one(self, number: int, slot: _Slot) -> None:
        try:
            slot.page = await self._fetch({**self._params, "page": number})
        except Exception as exc:  # the caller meets it when it reaches this page
            slot.error = exc
        finally:
            slot.ready.set()

    async def pages(self) -> AsyncIterator[EventPage]:
        """Yield each page in order; raises a page's failure when it is reached."""
        if self._used:
            raise RuntimeError("a listing opened with `async with` can be iterated once")
        self._used = True
        size: int = self._params["pageSize"]
        number: int | None = 1
        total: int | None = None
        previous: tuple[int, ...] = ()
        while number is not None:
            self._launch_until(
                number if total is None else max(number, min(number + self._prefetch, total))
            )
            slot = self._slots.pop(number)
            await slot.ready.wait()
            if slot.error is not None:
                raise slot.error
            assert slot.page is not None
            page = slot.page
            previous = check_advances(page, number, previous)
            total = page.total_pages
            yield page
            number = next_page_number(page, number, size)

    def __aiter__(self) -> AsyncIterator[Event]:
        return dedupe(self.pages())
