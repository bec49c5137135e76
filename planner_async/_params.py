"""Checking and encoding the arguments of ``events.list`` and ``events.get``.

Everything here raises ``TypeError`` or ``ValueError`` before any request is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal, get_args

from ._checks import check_int

__all__ = ["MAX_PAGE_SIZE", "SORTS", "Sort", "check_event_id", "list_params"]

Sort = Literal["startDate", "-startDate", "updatedAt", "-updatedAt"]
SORTS: Final[tuple[str, ...]] = get_args(Sort)
"""The sort orders the API accepts, in the order of :data:`Sort`."""
MAX_PAGE_SIZE: Final = 200
"""The largest ``pageSize`` the API accepts; ``events.list`` asks for it by default."""


def _type_name(value: object) -> str:
    return type(value).__name__


def check_event_id(event_id: object) -> int:
    """An event id must be a positive int (``bool`` is not accepted)."""
    return check_int("event_id", event_id, low=1)


def _moment(name: str, value: object, *, allow_date: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name} is a naive datetime, which is ambiguous: give it a timezone, "
                f"e.g. {name}=datetime(..., tzinfo=timezone.utc)"
            )
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                f"{name} ({value.isoformat()}) is outside the datetimes that can be "
                "expressed in UTC (years 1 to 9999)"
            ) from None
        return utc.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        if not allow_date:
            raise TypeError(f"{name} must be a timezone-aware datetime, got a date")
        return value.isoformat()
    kinds = "a date or a timezone-aware datetime" if allow_date else "a timezone-aware datetime"
    raise TypeError(f"{name} must be {kinds}, got {_type_name(value)}")


def _bound(value: date | datetime, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_type_name(value)}")
    if not value.strip():
        raise ValueError(f"{name} must not be blank")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} cannot be sent: character {exc.start} (U+{ord(value[exc.start]):04X}) "
            "is a lone surrogate, which has no UTF-8 encoding"
        ) from None
    return value


def _categories(categories: object) -> list[str]:
    if isinstance(categories, str | bytes) or not isinstance(categories, Sequence | set):
        raise TypeError(
            f"categories must be a list of str (e.g. ['Politics']), got {_type_name(categories)}"
        )
    return [c for c in (_text("each category", c) for c in categories) if c is not None]


def _country(country: object) -> str:
    code = _text("country", country)
    assert code is not None
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError(f"country must be an ISO 3166-1 alpha-2 code like 'GB', got {code!r}")
    return code.upper()


def _sort_and_size(sort: object, page_size: object) -> tuple[str, int]:
    if not isinstance(sort, str):
        raise TypeError(f"sort must be a str, got {_type_name(sort)}")
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {list(SORTS)}, got {sort!r}")
    return sort, check_int("page_size", page_size, low=1, high=MAX_PAGE_SIZE)


def list_params(
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    query: str | None,
    categories: Sequence[str] | None,
    country: str | None,
    updated_since: datetime | None,
    sort: str,
    page_size: int,
) -> dict[str, Any]:
    """Check the arguments of ``events.list`` and return the wire query parameters."""
    params: dict[str, Any] = {}
    start_s = _moment("start", start, allow_date=True)
    end_s = _moment("end", end, allow_date=True)
    if (
        isinstance(start, date)
        and isinstance(end, date)
        and _bound(start, end=False) > _bound(end, end=True)
    ):
        raise ValueError(f"start ({start_s}) is after end ({end_s})")
    if start_s is not None:
        params["from"] = start_s
    if end_s is not None:
        params["to"] = end_s
    if (q := _text("query", query)) is not None:
        params["q"] = q
    if categories is not None and (cats := _categories(categories)):
        params["category"] = cats
    if country is not None:
        params["country"] = _country(country)
    if (since := _moment("updated_since", updated_since, allow_date=False)) is not None:
        params["updatedSince"] = since
    params["sort"], params["pageSize"] = _sort_and_size(sort, page_size)
    return params
