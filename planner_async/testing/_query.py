"""The events listing: query-parameter validation, filtering, sorting and paging (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._data import parse_instant

__all__ = ["EventIndex", "EventQuery", "QueryError", "parse_query"]

SORTS = ("startDate", "-startDate", "updatedAt", "-updatedAt")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class QueryError(ValueError):
    """A query parameter the contract calls a 400; the message says which and why."""


@attrs.frozen
class EventQuery:
    """A validated ``GET /api/v2/events`` query."""

    start: float | None = None
    end: float | None = None
    q: str | None = None
    categories: tuple[str, ...] = ()
    country: str | None = None
    updated_since: float | None = None
    sort: str = "startDate"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _instant(params: Mapping[str, Sequence[str]], name: str, *, end_of_day: bool) -> float | None:
    text = _one(params, name)
    if text is None or text == "":
        return None
    try:
        return parse_instant(text, end_of_day=end_of_day)
    except ValueError:
        raise QueryError(
            f"Invalid '{name}': {text!r} is not an ISO 8601 date or date-time."
        ) from None


def _integer(
    params: Mapping[str, Sequence[str]], name: str, default: int, low: int, high: int
) -> int:
    text = _one(params, name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise QueryError(f"Invalid '{name}': {text!r} is not an integer.") from None
    if not low <= value <= high:
        bounds = f"between {low} and {high}" if high < 10**9 else f"at least {low}"
        raise QueryError(f"Invalid '{name}': {value} must be {bounds}.")
    return value


def parse_query(params: Mapping[str, Sequence[str]]) -> EventQuery:
    """Validate the listing's query parameters; raise :class:`QueryError` for a 400."""
    start = _instant(params, "from", end_of_day=False)
    end = _instant(params, "to", end_of_day=True)
    if start is not None and end is not None and start > end:
        raise QueryError("Invalid range: 'from' is after 'to'.")
    sort = _one(params, "sort") or "startDate"
    if sort not in SORTS:
        raise QueryError(f"Invalid 'sort': {sort!r}; use one of {', '.join(SORTS)}.")
    country = _one(params, "country")
    q = _one(params, "q")
    return EventQuery(
        start=start,
        end=end,
        q=q.casefold() if q else None,
        categories=tuple(c.casefold() for c in params.get("category", ()) if c),
        country=country.upper() if country else None,
        updated_since=_instant(params, "updatedSince", end_of_day=False),
        sort=sort,
        page=_integer(params, "page", 1, 1, 10**12),
        page_size=_integer(params, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def _when(event: Mapping[str, Any], name: str, *, end_of_day: bool) -> float | None:
    value = event.get(name)
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value, end_of_day=end_of_day)
    except ValueError:
        return None


@attrs.frozen
class _Row:
    event: Mapping[str, Any]
    id: int
    start: float | None
    end: float | None
    updated: float | None
    text: str
    categories: frozenset[str]
    country: str | None


def _row(event: Mapping[str, Any]) -> _Row:
    start = _when(event, "startDate", end_of_day=False)
    end = _when(event, "endDate", end_of_day=True)
    if end is None and isinstance(event.get("startDate"), str):
        end = _when(event, "startDate", end_of_day=True)
    updated = _when(event, "updatedAt", end_of_day=False)
    if updated is None:
        updated = _when(event, "createdAt", end_of_day=False)
    location = event.get("location")
    country = location.get("country") if isinstance(location, Mapping) else None
    categories = event.get("categories")
    return _Row(
        event=event,
        id=int(event["id"]),
        start=start,
        end=end,
        updated=updated,
        text=f"{event.get('title') or ''}\n{event.get('description') or ''}".casefold(),
        categories=frozenset(c.casefold() for c in categories or () if isinstance(c, str)),
        country=country.upper() if isinstance(country, str) else None,
    )


class EventIndex:
    """The events a listing can show, pre-parsed for filtering and sorting.

    Rows are kept by id, so an event can be replaced (:meth:`put`) or removed
    (:meth:`remove`) while listings go on; the next page sees the change.
    """

    __slots__ = ("_order", "_rows")

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        self._rows: dict[int, _Row] = {}
        self._order: dict[str, list[_Row]] = {}  # sorted rows per sort, until a change
        for event in events:
            self.put(event)

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, event: Mapping[str, Any]) -> None:
        """Add ``event`` or replace the event with its id."""
        row = _row(event)
        self._rows[row.id] = row
        self._order.clear()

    def remove(self, event_id: int) -> None:
        """Forget the event ``event_id`` (nothing happens when it is not there)."""
        self._rows.pop(event_id, None)
        self._order.clear()

    def ids(self, sort: str = "startDate") -> list[int]:
        """Every id, in the listing's order for ``sort``."""
        return [row.id for row in self._ordered(sort)]

    def _ordered(self, sort: str) -> list[_Row]:
        rows = self._order.get(sort)
        if rows is None:
            rows = self._order[sort] = self._sorted(list(self._rows.values()), sort)
        return rows

    def _matches(self, row: _Row, query: EventQuery) -> bool:
        if query.start is not None and (row.end is None or row.end < query.start):
            return False
        if query.end is not None and (row.start is None or row.start > query.end):
            return False
        if query.q is not None and query.q not in row.text:
            return False
        if query.categories and row.categories.isdisjoint(query.categories):
            return False
        if query.country is not None and row.country != query.country:
            return False
        return not (
            query.updated_since is not None
            and (row.updated is None or row.updated < query.updated_since)
        )

    @staticmethod
    def _sorted(rows: list[_Row], sort: str) -> list[_Row]:
        field = "start" if sort.lstrip("-") == "startDate" else "updated"
        sign = -1.0 if sort.startswith("-") else 1.0

        def key(row: _Row) -> tuple[bool, float, int]:
            value = getattr(row, field)
            # Events without the sort field come last either way; ties go by id.
            return (value is None, sign * value if value is not None else 0.0, row.id)

        rows.sort(key=key)
        return rows

    def page(self, query: EventQuery) -> dict[str, Any]:
        """Return the listing body for ``query``: ``items``, ``page``, ``pageSize``, totals."""
        rows = [r for r in self._ordered(query.sort) if self._matches(r, query)]
        first = (query.page - 1) * query.page_size
        return {
            "items": [dict(r.event) for r in rows[first : first + query.page_size]],
            "page": query.page,
            "pageSize": query.page_size,
            "totalItems": len(rows),
            "totalPages": math.ceil(len(rows) / query.page_size),
        }
