"""The data the API returns, as frozen attrs classes; the converter (``_converter.py``) codes them.

Every field but ``Event.id`` and ``Event.title`` may be missing or ``null`` on the wire;
wire fields the models do not know are kept in ``extra`` rather than dropped. Each model
converts to and from the wire's JSON object with ``to_dict()``/``from_dict()``:

>>> event = Event.from_dict({"id": 1, "title": "Budget", "startDate": "2026-11-26",
...                          "allDay": True, "embargoed": True})
>>> event.start, event.extra
(datetime.date(2026, 11, 26), {'embargoed': True})
>>> event.to_dict()["startDate"], event.to_dict()["embargoed"]
('2026-11-26', True)

Structuring is strict: a field of the wrong JSON type raises
:class:`~planner_async.StructureError` (a ``ValueError``) naming the field's path, and
nothing is coerced. Wire names are the camelCase of the attributes unless a model renames
them in ``__wire_renames__``.

The models also work as pydantic/FastAPI types (``response_model=Event``): pydantic is
imported only when it asks a model for its schema.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

import attrs

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "Event",
    "EventPage",
    "EventStatus",
    "Location",
    "Organiser",
    "Session",
    "WireModel",
    "converter",
]


@functools.cache
def converter() -> cattrs.Converter:
    """The package's one cattrs converter (``_converter.py``), imported on first use."""
    from ._converter import converter

    return converter


class WireModel:
    """Base of the models: ``from_dict``/``to_dict`` through the converter, pydantic support.

    A model declares the wire names that are not the camelCase of its attributes once, in
    ``__wire_renames__``; everything else (both directions, the JSON schema) follows.
    """

    __slots__ = ()
    __wire_renames__: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from the wire's JSON object; :class:`StructureError` names any ill-typed field.

        Strict: nothing is coerced; unknown keys go to ``extra``; ``null`` or a missing
        optional field takes the default.
        """
        structured: Self = converter().structure(data, cls)
        return structured

    def to_dict(self) -> dict[str, Any]:
        """The wire's JSON object: camelCase keys, ISO 8601 dates, unknown fields put back.

        Every known field is present (``null`` when not set), so ``from_dict(to_dict())``
        gives back an equal model and the result is ready for ``json.dumps``.
        """
        out: dict[str, Any] = converter().unstructure(self)
        return out

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        from ._schema import model_schema

        return model_schema(cls, handler)


class EventStatus(enum.StrEnum):
    """The statuses the contract names. ``Event.status`` keeps any other value as a str."""

    CONFIRMED = "confirmed"
    PROVISIONAL = "provisional"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"


def _empty() -> Mapping[str, Any]:
    return {}


@attrs.frozen
class Location(WireModel):
    """Where an event takes place; ``country`` is ISO 3166-1 alpha-2.

    >>> Location.from_dict({"city": "Paris", "lat": 48.9}).extra
    {'lat': 48.9}
    """

    __wire_shared__: ClassVar[bool] = True

    venue: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class Organiser(WireModel):
    """Who runs an event."""

    __wire_shared__: ClassVar[bool] = True

    name: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class Event(WireModel):
    """One diary event.

    ``start``/``end`` are timezone-aware datetimes, or plain dates for all-day events.
    ``status`` is an :class:`EventStatus` when known, else the raw string. On the wire the
    keys are camelCase and ``start``/``end`` are ``startDate``/``endDate``; ``to_dict()``
    writes UTC date-times with ``Z``.

    >>> event = await client.events.get(98231)   # doctest: +SKIP
    >>> event.title, event.start
    ('Budget statement', datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc))
    >>> Event.from_dict({"id": 7, "title": "Budget", "allDay": "false"})
    Traceback (most recent call last):
      ...
    planner_async.StructureError: allDay: expected true, false or null, got a string
    """

    __wire_renames__: ClassVar[Mapping[str, str]] = {"start": "startDate", "end": "endDate"}

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
class EventPage(WireModel):
    """One page of an events listing, as the server sent it (errors name ``items[3].id``)."""

    items: tuple[Event, ...]
    page: int = 1
    page_size: int | None = None
    total_items: int | None = None
    total_pages: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)


@attrs.frozen
class Session(WireModel):
    """Who the client is logged in as. Tokens are deliberately not part of it.

    Its wire form is ``{"userId", "productId", "email", "expiresAt"}``.
    """

    user_id: int | None = None
    product_id: int | None = None
    email: str | None = None
    expires_at: datetime | None = None


# Resolve the string annotations now, while ``__module__`` still names this module (the
# package re-exports the models as ``planner_async.Event``; cattrs and pydantic read these).
for _model in (Location, Organiser, Event, EventPage, Session):
    attrs.resolve_types(_model)
del _model
