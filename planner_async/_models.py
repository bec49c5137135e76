"""The data the API returns, as frozen attrs classes.

Every field but ``Event.id`` and ``Event.title`` may be missing or ``null`` on the wire;
wire fields the models do not know are kept in ``extra`` rather than dropped.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

__all__ = ["Event", "EventPage", "EventStatus", "Location", "Organiser", "Session"]


class EventStatus(enum.StrEnum):
    """The statuses the contract names. ``Event.status`` keeps any other value as a str."""

    CONFIRMED = "confirmed"
    PROVISIONAL = "provisional"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"


def _empty() -> Mapping[str, Any]:
    return {}


@attrs.frozen
class Location:
    """Where an event takes place; ``country`` is ISO 3166-1 alpha-2."""

    venue: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class Organiser:
    """Who runs an event."""

    name: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class Event:
    """One diary event.

    ``start``/``end`` are timezone-aware datetimes, or plain dates for all-day events.
    ``status`` is an :class:`EventStatus` when known, else the raw string.

    >>> event = await client.events.get(98231)   # doctest: +SKIP
    >>> event.title, event.start
    ('Budget statement', datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc))
    """

    id: int
    title: str
    description: str | None = None
    start: datetime | date | None = None
    end: datetime | date | None = None
    all_day: bool = False
    timezone: str | None = None
    status: EventStatus | str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    location: Location | None = None
    organiser: Organiser | None = None
    url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class EventPage:
    """One page of an events listing, as the server sent it."""

    items: tuple[Event, ...]
    page: int = 1
    page_size: int | None = None
    total_items: int | None = None
    total_pages: int | None = None


@attrs.frozen
class Session:
    """Who the client is logged in as. Tokens are deliberately not part of it."""

    user_id: int | None = None
    product_id: int | None = None
    email: str | None = None
    expires_at: datetime | None = None
