"""Resumable incremental sync: ``client.events.sync(checkpoint)`` and :class:`SyncCheckpoint`.

The contract offers ``updatedSince`` (inclusive), ``sort=updatedAt`` and page numbers: no
cursor, and no promise about the order of events stamped at one instant. The walk keeps a
*mark*, the newest ``updatedAt`` delivered, with the ids delivered at exactly that instant,
and goes in two modes:

* **Mark mode** (the usual case): ask for page 1 of ``sort=updatedAt&updatedSince=<mark>``,
  deliver what it holds that is not yet delivered, move the mark, ask page 1 again.
  Whatever is not yet delivered is always at or after the mark, so a listing that changes
  between requests cannot make this skip anything; a request repeats only the events
  stamped at the mark.
* **Tie mode**, when a whole page 1 holds events at or before the mark and the mark did
  not move (a page or more of events share one ``updatedAt``: a bulk import). Those
  events, the *zone*, are a prefix of the listing, and during a run the zone only shrinks:
  an event in it changes (its new stamp is after the mark) or is deleted, and nothing new
  is stamped at or before the mark (at most ``until``). When a prefix shrinks, its events
  only ever move to lower places. So the zone is walked **backwards**, from its last page
  down to page 1: an event that moves down lands on a page still to come, and one that
  moves onto a page already read was read there already (a repeat, which the checkpoint
  filters out). A forward offset walk would skip the event that moves back across a page
  boundary. The zone's last page is found by reading pages 2, 3, 4, then doubling the page
  number, then bisecting (what those pages hold is delivered at once); the events after
  the zone on that page take the walk back to mark mode. Only a stable order within one
  instant is needed, not a particular tie-breaker. The walk back stops early at a page
  whose events are all older than the mark (a server that filters ``updatedSince``
  coarsely or not at all), since the pages before it are older still.

The checkpoint records the mark, the ids delivered at it and, in tie mode, ``pending``
(every event at the mark not yet delivered sits among the first ``pending`` places of the
listing) and ``zone`` (the zone fills at most its first ``zone`` places). Places only move
down, so both stay true, across runs too; a run resumed inside a tie goes straight to the
page after place ``zone`` (one request finds the zone's end when nothing changed) and
walks down from the page holding place ``pending - 1``.

Cost: about one request per page of changes plus the events at the mark repeated at the
top of each page (noticeable only with small pages); a tie of ``n`` pages about
``n + 2 log2(n)`` (1,000 events at one instant with pages of 10: 108 requests, where an
offset walk restarted from page 1 took 5,151); one more when a server gives neither
``totalPages`` nor ``pageSize`` (the end is confirmed by a page that brings nothing new).
The answered ``totalPages``/``pageSize`` decide where a listing ends, so a server that caps
``pageSize`` below the one asked for costs requests, not events.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from ._checkpoint import SyncCheckpoint, stamp_of, to_utc, wire_instant
from ._checks import check_number
from ._models import Event, EventPage
from ._paging import FetchPage, PagingError

__all__ = ["DEFAULT_LAG", "EventSync", "SyncCheckpoint", "check_lag"]

DEFAULT_LAG: Final = 10.0
"""Seconds behind now where a sync run stops (see :class:`EventSync`)."""

_MAX_PAGE: Final = 10**7  # far beyond any listing: a server that never ends its pages


def check_lag(lag: object) -> float:
    """``lag`` must be a finite number of seconds, zero or more."""
    return check_number("lag", lag, low=0)


def _beyond(event: Event, mark: datetime) -> bool:
    """Whether ``event`` lies after the zone of ``mark`` (an event without a stamp never)."""
    stamp = stamp_of(event)
    return stamp is not None and stamp > mark


def _older(page: EventPage, mark: datetime) -> bool:
    """Whether every stamped event on ``page`` is older than ``mark`` (a server that
    filters ``updatedSince`` coarsely, or not at all): the pages before it are older still."""
    stamps = [stamp for stamp in map(stamp_of, page.items) if stamp is not None]
    return bool(stamps) and all(stamp < mark for stamp in stamps)


def _more(page: EventPage, number: int, asked: int) -> bool | None:
    """Whether the listing goes on after ``page`` (page ``number``), by the answered
    ``totalPages``, else ``pageSize``; None when the answer does not say (a page shorter
    than ``asked`` without either)."""
    if not page.items:
        return False
    if page.total_pages is not None:
        return number < page.total_pages
    if page.page_size is not None:
        return len(page.items) >= page.page_size
    return True if len(page.items) >= asked else None


def _all_at(page: EventPage, before: SyncCheckpoint | None, mark: datetime) -> bool:
    """Whether ``page`` (asked from ``before``) is wholly in the zone of ``mark``: the mark
    did not move, or every event on the page is stamped ``mark``."""
    if before is not None and before.updated_at == mark:
        return True
    return all(stamp_of(event) == mark for event in page.items)


_ZONE, _END, _PAST = "zone", "end", "past"


def _classify(page: EventPage, number: int, mark: datetime, asked: int) -> str:
    """Where ``page`` lies against the zone of ``mark``: wholly in it with more to come
    (``zone``), past its end (``past``: empty, or starting after it), or holding its end."""
    items = page.items
    if number > 1 and (not items or _beyond(items[0], mark)):
        return _PAST
    if any(_beyond(event, mark) for event in items) or _more(page, number, asked) is not True:
        return _END
    return _ZONE


class _Resized(Exception):
    """A resumed walk met pages of another size than asked for: its places do not map."""


def _next_probe(low: int, high: int | None, total: int | None) -> int:
    """The next page to look at when searching for the zone's end: one page at a time
    past a small zone, then doubling (within ``total``); bisecting once a page past the
    end is known; ``low`` again when it is next to that page."""
    if high is not None:
        return low if high == low + 1 else (low + high) // 2
    number = low + 1 if low < 4 else low * 2
    return number if total is None else max(low + 1, min(number, total))


class EventSync:
    """What ``client.events.sync(checkpoint)`` returns: iterate it for the changed events.

    Events come oldest change first (``sort=updatedAt``); after each one,
    :attr:`checkpoint` covers it. The run stops at :attr:`until` (frozen when the run is
    made: now minus ``lag``); changes after it are left to the next run. ``lag`` allows
    for a server whose writes become visible in listings a little after the time they
    are stamped with, and for clock skew between it and this client.

    The guarantee, given the contract (each change stamps a new ``updatedAt``, later than
    any ``until`` already past; ``updatedSince`` is inclusive; listings sorted by
    ``updatedAt``, events of one instant in a stable order):

    * Nothing missed: once a run finishes, every event whose current ``updatedAt`` is at
      or before its ``until`` has been delivered in that version, by it or an earlier
      run, however many events share one ``updatedAt``. A version superseded before a
      run reaches it is not delivered (only the newer one, now or in a later run).
      Deletions are not reported (the API has no tombstones), nor events without
      ``updatedAt``.
    * Nothing repeated: each version ``(id, updatedAt)`` is delivered once across runs
      chained by checkpoints, when the job saves :attr:`checkpoint` after handling each
      event. A crash between handling an event and saving the checkpoint delivers that
      event again on resume: at-least-once in that window, so make handling idempotent
      per ``(id, updatedAt)``.

    How the pages are walked (and why ties cost no more than other pages) is in the
    module :mod:`planner_async._sync`.
    """

    __slots__ = ("_checkpoint", "_done", "_fetch", "_params", "_size", "_until")

    def __init__(
        self,
        fetch: FetchPage,
        params: Mapping[str, Any],
        checkpoint: SyncCheckpoint | None,
        *,
        until: datetime | None,
        now: float,
    ) -> None:
        if checkpoint is not None and not isinstance(checkpoint, SyncCheckpoint):
            raise TypeError(f"checkpoint must be a SyncCheckpoint, got {type(checkpoint).__name__}")
        if until is not None and not isinstance(until, datetime):
            raise TypeError(f"until must be a datetime, got {type(until).__name__}")
        if until is not None and until.tzinfo is None:
            raise ValueError("until is a naive datetime: give it a timezone")
        self._fetch = fetch
        self._params = dict(params)
        self._size: int = self._params["pageSize"]
        self._checkpoint = checkpoint
        self._until = to_utc(until) if until is not None else datetime.fromtimestamp(now, UTC)
        self._done = False

    @property
    def checkpoint(self) -> SyncCheckpoint | None:
        """What to store: it covers every event delivered so far (None before any)."""
        return self._checkpoint

    @property
    def until(self) -> datetime:
        """The upper bound of this run: later changes are left to the next run."""
        return self._until

    def __repr__(self) -> str:
        return f"EventSync(checkpoint={self._checkpoint!r}, until={self._until.isoformat()})"

    def _query(self, page: int) -> dict[str, Any]:
        params = {**self._params, "page": page}
        if self._checkpoint is not None:
            params["updatedSince"] = wire_instant(self._checkpoint.updated_at)
        return params

    def _due(self, events: Iterable[Event]) -> Iterator[Event]:
        """The events not yet delivered, each recorded in the checkpoint as it is handed
        out; stops the run at the first one after ``until``."""
        for event in events:
            stamp = stamp_of(event)
            checkpoint = self._checkpoint
            if stamp is None or (checkpoint is not None and checkpoint.delivered(event.id, stamp)):
                continue
            if stamp > self._until:
                self._done = True  # sorted by updatedAt: the rest is later still
                return
            self._checkpoint = (
                checkpoint.after(event.id, stamp)
                if checkpoint
                else SyncCheckpoint(stamp, {event.id})
            )
            yield event

    async def _events(self) -> AsyncIterator[Event]:
        self._done = False
        checkpoint = self._checkpoint
        if checkpoint is not None and checkpoint.zone is not None:
            # Resuming inside a large tie whose end is known: straight back to the walk.
            try:
                async for event in self._tie(checkpoint.updated_at, None):
                    yield event
            except _Resized:
                pass  # the server's pages are not the size asked for: find the tie again
        while not self._done:
            before = self._checkpoint
            page = await self._fetch(self._query(1))
            delivered = 0
            for event in self._due(page.items):
                delivered += 1
                yield event
            more = _more(page, 1, self._size)
            if self._done or more is False:
                return
            after = self._checkpoint
            if more and after and _all_at(page, before, after.updated_at):
                # A full page of ties at the mark: page 1 cannot get past them.
                async for event in self._tie(after.updated_at, page):
                    yield event
                continue
            if not delivered:
                return  # a short page without totals brought nothing new: the end

    def _pend(self, places: int, *, zone: int | None = None) -> None:
        """Record that every event still due at the mark sits among the first ``places``
        (and that the zone fills at most the first ``zone``)."""
        checkpoint = self._checkpoint
        assert checkpoint is not None
        pending, known = checkpoint.pending, checkpoint.zone
        self._checkpoint = attrs.evolve(
            checkpoint,
            pending=places if pending is None else min(pending, places),
            zone=known if zone is None else zone if known is None else min(known, zone),
        )

    def _read(self, number: int, page: EventPage, mark: datetime, size: int) -> Iterator[Event]:
        """Deliver the zone's events on page ``number`` of the backward walk; once they are
        all handed out, the events still due sit before the page (``pending``)."""
        yield from self._due(e for e in page.items if not _beyond(e, mark))
        self._pend((number - 1) * size)

    async def _tie(self, mark: datetime, first: EventPage | None) -> AsyncIterator[Event]:
        """Find the zone's last page, walk the zone of ``mark`` backwards from it, then
        deliver what follows the zone on that page (see the module docstring). ``first``
        is page 1, full (None when resuming: pages then must be the size asked for); a
        resumed walk starts at the page its ``pending`` names."""
        checkpoint = self._checkpoint
        assert checkpoint is not None
        size = self._size if first is None else len(first.items)
        bound = None if checkpoint.pending is None else -(-checkpoint.pending // size)
        if first is not None and bound is not None and bound <= 1:  # page 1, read now
            for event in self._read(1, first, mark, size):
                yield event
            bound = 0
        # Where the zone ended last time, if known: it only shrinks, so its end is on
        # that page (one request when nothing changed) or before.
        low = 1 if checkpoint.zone is None else checkpoint.zone // size
        seen: list[EventPage] = []
        top, end, below = await self._zone_end(mark, low, seen, None if first else size)
        ahead = sum(1 for _ in itertools.takewhile(lambda e: not _beyond(e, mark), end.items))
        zone = (top - 1) * size + ahead  # the zone's size when `end` was read
        self._pend(zone, zone=zone)
        for page in seen:  # read on the way up: what they hold is due now
            for event in self._due(e for e in page.items if not _beyond(e, mark)):
                yield event
        for event in self._read(top, end, mark, size):
            yield event
        if below is not None:  # page top - 1, read after page top: the walk's next step
            top -= 1
            for event in self._read(top, below, mark, size):
                yield event
        for number in range(top - 1 if bound is None else min(top - 1, bound), 0, -1):
            page = await self._fetch(self._query(number))
            for event in self._read(number, page, mark, size):
                yield event
            if _older(page, mark):  # the pages before hold older events still: all delivered
                self._pend(0)
                break
        for event in self._due(end.items):
            yield event
        if not any(_beyond(event, mark) for event in end.items):
            self._done = True  # the listing ended inside the zone

    async def _zone_end(
        self, mark: datetime, low: int, seen: list[EventPage], size: int | None
    ) -> tuple[int, EventPage, EventPage | None]:
        """The page holding the end of the zone of ``mark``, and the page before it when
        that was read after it; the pages read wholly in the zone go to ``seen``. Pages
        up to ``low`` are taken to be wholly in the zone (a guess: only a page read is
        trusted); the search starts after it (see :func:`_next_probe`). Pages may change
        between requests; the zone only shrinks, so a page seen past its end stays past it.
        With ``size``, the first page must say it holds that many (:class:`_Resized`)."""
        low_page = None  # the content of page `low` when it was read after `high`
        high: tuple[int, EventPage] | None = None  # a page seen past the zone
        total: int | None = None
        number = low + 1
        while True:
            if number > _MAX_PAGE:
                raise PagingError(
                    f"page {number} of events stamped {wire_instant(mark)} is still full of "
                    "them: the server does not advance through the listing, so the sync stops"
                )
            page = await self._fetch(self._query(number))
            if size is not None and page.page_size != size:
                raise _Resized
            size = None
            total = page.total_pages if page.total_pages is not None else total
            kind = _classify(page, number, mark, self._size)
            if kind == _END:
                return number, page, None
            if kind == _ZONE:
                seen.append(page)
                low, low_page = number, page if high is not None else None
            else:
                high, low_page, low = (number, page), None, min(low, number - 1)
            if high is not None and high[0] == low + 1 and low_page is not None:
                return high[0], high[1], low_page  # the zone ends where `high` begins
            number = _next_probe(low, None if high is None else high[0], total)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()
