"""The events endpoints: ``client.events.get``/``list``/``get_many``/``sync``, and paging.

:class:`Events` checks arguments (through :mod:`._params`) before any request is spent and
hands each request to the client's pipeline; :class:`EventIterator` walks the pages with
the pure rule :func:`next_page_number`, fetching up to ``prefetch`` pages at once.

How pages are fetched ahead, and why nothing leaks, is in :mod:`._paging`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._bulk import BulkGet, check_concurrency, check_ids
from ._cache import AnswerCache, cached_get, remember_page
from ._call import CallOptions, call_options
from ._clock import wall_clock
from ._lanes import Lane
from ._models import Event, EventPage
from ._paging import (
    DEFAULT_PREFETCH,
    EventWindow,
    FetchPage,
    PagingError,
    Rounds,
    check_page_number,
    check_prefetch,
    dedupe,
    next_page_number,
)
from ._params import MAX_PAGE_SIZE, Sort, check_event_id, list_params
from ._serialization import structure_event, structure_page
from ._sync import DEFAULT_LAG, EventSync, SyncCheckpoint, check_lag

if TYPE_CHECKING:
    from ._api import ApiCaller

__all__ = [
    "DEFAULT_PREFETCH",
    "EventIterator",
    "Events",
    "PagingError",
    "check_prefetch",
    "next_page_number",
]


class EventIterator:
    """What ``client.events.list(...)`` returns: iterate events, or ``.pages()``.

    The arguments were checked when it was made; no request is sent until iteration.
    Once the first page gives ``totalPages``, each step that needs a page fetches it and
    up to ``prefetch`` following pages concurrently, then yields them in order; at most
    ``prefetch + 1`` pages are held. Nothing runs between steps, so leaving the loop early
    is always clean. ``async with`` it instead for a sliding :class:`EventWindow` that keeps
    fetching while the block works (faster when each event costs time).

    >>> async for event in client.events.list(query="budget"):   # doctest: +SKIP
    ...     print(event.title)
    >>> async with client.events.list(prefetch=8) as events:     # doctest: +SKIP
    ...     async for event in events:
    ...         await store(event)
    """

    __slots__ = ("_fetch", "_params", "_prefetch", "_window")

    def __init__(
        self, fetch: FetchPage, params: Mapping[str, Any], prefetch: int = DEFAULT_PREFETCH
    ) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._prefetch = check_prefetch(prefetch)
        self._window: EventWindow | None = None

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
        async for page in Rounds(self._fetch, self._params, ahead).pages():
            yield page

    def __aiter__(self) -> AsyncIterator[Event]:
        return dedupe(Rounds(self._fetch, self._params, self._prefetch).pages())

    async def __aenter__(self) -> EventWindow:
        """Open a sliding window: fetching overlaps the work of the ``async with`` body."""
        if self._window is not None:
            raise RuntimeError("this listing is already open; make another for a second window")
        window = EventWindow(self._fetch, self._params, self._prefetch)
        self._window = await window.__aenter__()
        return window

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        window, self._window = self._window, None
        assert window is not None
        await window.__aexit__(exc_type, exc, tb)


class Events:
    """The events endpoints: ``client.events.get(id)``, ``list(...)``, ``get_many(ids)``
    and ``sync(checkpoint)``.

    Each takes per-call ``timeout`` (seconds per HTTP request), ``max_wait`` (seconds to
    wait for quota), ``deadline`` (seconds for the whole call, waits and retries
    included) and ``priority`` (``"interactive"`` or ``"batch"``: the quota lane),
    overriding the client's settings for that call.
    """

    __slots__ = ("_cache", "_clock", "_pipeline", "_ttl")

    def __init__(
        self,
        pipeline: ApiCaller,
        clock: Callable[[], float] = wall_clock,
        *,
        cache: AnswerCache | None = None,
        cache_ttl: float | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._clock = clock
        self._cache = cache if cache_ttl is not None else None
        self._ttl = cache_ttl

    async def get(
        self,
        event_id: int,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - httpx's per-request timeout
        max_wait: float | None = None,
        deadline: float | None = None,
        priority: Lane | None = None,
    ) -> Event:
        """Fetch one event by id.

        Raises :class:`NotFoundError` for an unknown id and :class:`PermissionDeniedError`
        for an event the account may not see.

        >>> event = await client.events.get(1001, timeout=5)   # doctest: +SKIP
        """
        event_id = check_event_id(event_id)
        options = call_options(
            timeout=timeout, max_wait=max_wait, deadline=deadline, priority=priority
        )
        if self._cache is None:  # the common path, without the cache's closures
            pipeline = self._pipeline
            data = await pipeline.api("GET", f"/events/{event_id}", options=options)
            return pipeline.structured(structure_event, data)
        return await self._get(event_id, options)

    async def _get(self, event_id: int, options: CallOptions) -> Event:
        pipeline = self._pipeline

        def fetch() -> Awaitable[Any]:
            return pipeline.api("GET", f"/events/{event_id}", options=options)

        def structure(data: Any) -> Event:
            return pipeline.structured(structure_event, data)

        if self._cache is None:
            return structure(await fetch())
        return await cached_get(self._cache, self._ttl, event_id, fetch, structure)

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
        priority: Lane | None = None,
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
        options = call_options(
            timeout=timeout, max_wait=max_wait, deadline=deadline, priority=priority
        )
        return EventIterator(self._page_fetcher(options), params, prefetch)

    def get_many(
        self,
        ids: Iterable[int],
        *,
        concurrency: int = 8,
        timeout: float | None = None,
        max_wait: float | None = None,
        deadline: float | None = None,
        priority: Lane | None = None,
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
        options = call_options(
            timeout=timeout, max_wait=max_wait, deadline=deadline, priority=priority
        )

        async def get(event_id: int) -> Event:
            return await self._get(event_id, options)

        return BulkGet(get, checked, size, prepare=self._pipeline.prepare)

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
        priority: Lane | None = None,
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
        options = call_options(
            timeout=timeout, max_wait=max_wait, deadline=deadline, priority=priority
        )
        return EventSync(
            self._page_fetcher(options), params, checkpoint, until=until, now=self._clock() - lag
        )

    def _page_fetcher(self, options: CallOptions) -> FetchPage:
        pipeline, cache, ttl = self._pipeline, self._cache, self._ttl

        async def fetch(params: Mapping[str, Any]) -> EventPage:
            data = await pipeline.api("GET", "/events", params=params, options=options)
            check_page_number(data, params["page"])
            page = pipeline.structured(structure_page, data)
            if cache is not None:
                await remember_page(cache, ttl, data["items"])
            return page

        return fetch
