"""The data the API returns, as frozen attrs classes, and their wire codec.

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
:class:`~planner_async._codec.StructureError` (a ``ValueError``) naming the field's path,
and nothing is coerced (see ``_codec.py`` for the rules). The hot path is one hand-written
pass per model: type checks inline, the slower helpers called only for unusual values.

The models also work as pydantic/FastAPI types (``response_model=Event``): pydantic is
imported only when it asks a model for its schema.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar, cast

import attrs

from ._codec import (
    StructureError,
    as_dict,
    child,
    date_or_datetime_out,
    datetime_out,
    extra_of,
    kind,
    need_bool,
    need_int,
    need_str,
    opt_date_or_datetime,
    opt_datetime,
    opt_int,
    opt_str,
    pydantic_schema,
    str_tuple,
    wire_types,
)

__all__ = ["Event", "EventPage", "EventStatus", "Location", "Organiser", "Session"]

T = TypeVar("T")


class EventStatus(enum.StrEnum):
    """The statuses the contract names. ``Event.status`` keeps any other value as a str."""

    CONFIRMED = "confirmed"
    PROVISIONAL = "provisional"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"


def _empty() -> Mapping[str, Any]:
    return {}


def _with_extra(out: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``out`` with the unknown wire fields added back (known fields win on a clash)."""
    for key, value in extra.items():
        out.setdefault(key, value)
    return out


@attrs.frozen
class Location:
    """Where an event takes place; ``country`` is ISO 3166-1 alpha-2."""

    venue: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        """Build from the wire's JSON object; a ``ValueError`` names any ill-typed field.

        >>> Location.from_dict({"city": "Paris", "lat": 48.9}).extra
        {'lat': 48.9}
        """
        return _location(data)

    def to_dict(self) -> dict[str, Any]:
        """The wire's JSON object (unknown fields put back)."""
        out = {"venue": self.venue, "city": self.city, "region": self.region}
        out["country"] = self.country
        return _with_extra(out, self.extra)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        return pydantic_schema(cls, wire_types(cls, {}), handler)


@attrs.frozen
class Organiser:
    """Who runs an event."""

    name: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Organiser:
        """Build from the wire's JSON object; a ``ValueError`` names any ill-typed field."""
        return _organiser(data)

    def to_dict(self) -> dict[str, Any]:
        """The wire's JSON object (unknown fields put back)."""
        return _with_extra({"name": self.name, "url": self.url}, self.extra)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        return pydantic_schema(cls, wire_types(cls, {}), handler)


_EVENT_RENAMES = {"start": "startDate", "end": "endDate"}


class _Slotted:
    """Event's base: it holds the weakref slot, so an unfrozen twin can share Event's layout."""

    __slots__ = ("__weakref__",)


@attrs.frozen
class Event(_Slotted):
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Build from the wire's JSON object (camelCase keys, ISO 8601 dates).

        Strict: a field of the wrong JSON type raises a ``ValueError``
        (``StructureError``) naming its path; nothing is coerced. Unknown keys go to
        ``extra``; ``null`` or a missing optional field takes the default.

        >>> Event.from_dict({"id": 7, "title": "Budget", "allDay": "false"})
        Traceback (most recent call last):
          ...
        planner_async._codec.StructureError: allDay: expected true, false or null, got a string
        """
        return _event(data)

    def to_dict(self) -> dict[str, Any]:
        """The wire's JSON object: camelCase keys, ISO 8601 dates, unknown fields put back.

        Every known field is present (``null`` when not set), so
        ``Event.from_dict(event.to_dict()) == event`` and the result is ready for
        ``json.dumps``. UTC date-times are written with ``Z``.
        """
        out = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "startDate": date_or_datetime_out(self.start),
            "endDate": date_or_datetime_out(self.end),
            "allDay": self.all_day,
            "timezone": self.timezone,
            "status": None if self.status is None else str(self.status),
            "categories": list(self.categories),
            "tags": list(self.tags),
            "location": None if self.location is None else self.location.to_dict(),
            "organiser": None if self.organiser is None else self.organiser.to_dict(),
            "url": self.url,
            "createdAt": datetime_out(self.created_at),
            "updatedAt": datetime_out(self.updated_at),
        }
        return _with_extra(out, self.extra)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        return pydantic_schema(cls, wire_types(cls, _EVENT_RENAMES), handler)


@attrs.frozen
class EventPage:
    """One page of an events listing, as the server sent it."""

    items: tuple[Event, ...]
    page: int = 1
    page_size: int | None = None
    total_items: int | None = None
    total_pages: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=_empty, hash=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventPage:
        """Build from a listing's JSON object; errors name the path (``items[3].id``)."""
        return _page(data)

    def to_dict(self) -> dict[str, Any]:
        """The listing's JSON object, each item as :meth:`Event.to_dict` writes it."""
        out = {
            "items": [event.to_dict() for event in self.items],
            "page": self.page,
            "pageSize": self.page_size,
            "totalItems": self.total_items,
            "totalPages": self.total_pages,
        }
        return _with_extra(out, self.extra)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        return pydantic_schema(cls, wire_types(cls, {}), handler)


@attrs.frozen
class Session:
    """Who the client is logged in as. Tokens are deliberately not part of it."""

    user_id: int | None = None
    product_id: int | None = None
    email: str | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Build from ``{"userId", "productId", "email", "expiresAt"}`` (strict, like events)."""
        d = as_dict(data, "Session")
        return Session(
            opt_int(d.get("userId"), "userId"),
            opt_int(d.get("productId"), "productId"),
            opt_str(d.get("email"), "email"),
            opt_datetime(d.get("expiresAt"), "expiresAt"),
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"userId", "productId", "email", "expiresAt"}``, JSON-ready."""
        return {
            "userId": self.user_id,
            "productId": self.product_id,
            "email": self.email,
            "expiresAt": datetime_out(self.expires_at),
        }

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and FastAPI) validate and serialise this model via its wire form."""
        return pydantic_schema(cls, wire_types(cls, {}), handler)


# --- the hot path: one pass over each wire object ------------------------------------

_LOCATION_KEYS = frozenset({"venue", "city", "region", "country"})
_ORGANISER_KEYS = frozenset({"name", "url"})
_PAGE_KEYS = frozenset({"items", "page", "pageSize", "totalItems", "totalPages"})
_EVENT_KEYS = frozenset(
    {"id", "title", "description", "startDate", "endDate", "allDay", "timezone", "status"}
    | {"categories", "tags", "location", "organiser", "url", "createdAt", "updatedAt"}
)
_STATUSES: dict[str, EventStatus] = {status.value: status for status in EventStatus}
_STR_OR_NULL = frozenset({str, type(None)})
_date = date.fromisoformat
_datetime = datetime.fromisoformat


# A frozen attrs instance is built with one ``object.__setattr__`` call per field (~1.4 µs for
# Event's 16 fields, more than decoding its JSON). The hot path instead fills an unfrozen
# twin with Event's exact slot layout (plain attribute stores, ~4x cheaper) and then hands
# the finished object its real class, which is what makes it frozen. Checked once at import:
# if the layouts ever differ (a future attrs), Event's own ``__init__`` is used instead.
_EventTwin: Any = attrs.make_class(
    "_EventTwin",
    [field.name for field in attrs.fields(Event)],
    bases=(_Slotted,),
    slots=True,
    eq=False,
    repr=False,
    weakref_slot=False,
)


def _twin_works() -> bool:
    values = [object() for _ in attrs.fields(Event)]
    try:
        probe = _EventTwin(*values)
        probe.__class__ = Event
    except TypeError:
        return False
    return bool(attrs.astuple(probe, recurse=False) == tuple(values))


_TWIN_WORKS = _twin_works()
if not _TWIN_WORKS:  # pragma: no cover - depends on the attrs version
    _EventTwin = Event


# Locations and organisers repeat across events (the same venue, the same ministry) and are
# immutable, so one instance per distinct wire object is shared instead of rebuilt. The
# cache key is the object's items: a hit means the very same keys and values were checked
# before (a cached value is a str or None, and nothing else in JSON equals one). Only
# objects without unknown fields are cached; each cache is bounded (emptied when full).
_SHARED_MAX = 2048
_locations: dict[tuple[tuple[str, Any], ...], Location] = {}
_organisers: dict[tuple[tuple[str, Any], ...], Organiser] = {}


def _shared(cache: Mapping[Any, T], build: Callable[[Any], T], value: Any, key: str) -> T:
    """The cached model for the wire object ``value``, else ``build(value)`` (errors under key)."""
    try:
        return cache[tuple(value.items())]
    except (KeyError, TypeError, AttributeError):
        return child(build, value, key)


def _remember(cache: dict[Any, T], d: dict[str, Any], value: T) -> T:
    """Cache ``value`` for the checked wire object ``d``, and return it."""
    if len(cache) >= _SHARED_MAX:
        cache.clear()
    cache[tuple(d.items())] = value
    return value


def _location(d: Any) -> Location:
    if type(d) is not dict:
        d = as_dict(d, "Location")
    get = d.get
    venue, city, region, country = get("venue"), get("city"), get("region"), get("country")
    if venue is not None and type(venue) is not str:
        venue = opt_str(venue, "venue")
    if city is not None and type(city) is not str:
        city = opt_str(city, "city")
    if region is not None and type(region) is not str:
        region = opt_str(region, "region")
    if country is not None and type(country) is not str:
        country = opt_str(country, "country")
    if not d.keys() <= _LOCATION_KEYS:
        return Location(venue, city, region, country, extra_of(d, _LOCATION_KEYS))
    return _remember(_locations, d, Location(venue, city, region, country, {}))


def _organiser(d: Any) -> Organiser:
    if type(d) is not dict:
        d = as_dict(d, "Organiser")
    name, url = d.get("name"), d.get("url")
    if name is not None and type(name) is not str:
        name = opt_str(name, "name")
    if url is not None and type(url) is not str:
        url = opt_str(url, "url")
    if not d.keys() <= _ORGANISER_KEYS:
        return Organiser(name, url, extra_of(d, _ORGANISER_KEYS))
    return _remember(_organisers, d, Organiser(name, url, {}))


def _status(value: object) -> EventStatus | str | None:
    text = opt_str(value, "status")
    return None if text is None else _STATUSES.get(text, text)


def _optional_strs(d: Mapping[str, Any], *keys: str) -> tuple[str | None, ...]:
    return tuple(opt_str(d.get(key), key) for key in keys)


def _times(start: Any, end: Any, created: Any, updated: Any) -> tuple[Any, Any, Any, Any]:
    """The four date fields in one call: all strings (the usual case) parsed inline."""
    if type(start) is str and type(end) is str and type(created) is str and type(updated) is str:
        try:
            return (
                _date(start) if len(start) == 10 else _datetime(start),
                _date(end) if len(end) == 10 else _datetime(end),
                _datetime(created),
                _datetime(updated),
            )
        except ValueError:
            pass  # the helpers below find the culprit and name it
    return (
        opt_date_or_datetime(start, "startDate"),
        opt_date_or_datetime(end, "endDate"),
        opt_datetime(created, "createdAt"),
        opt_datetime(updated, "updatedAt"),
    )


def _event(d: Any) -> Event:
    """One wire event to an :class:`Event`: inline type checks, helpers for the unusual."""
    if type(d) is not dict:
        d = as_dict(d, "Event")
    get = d.get
    ident, title = get("id"), get("title")
    if type(ident) is not int or type(title) is not str:
        ident, title = need_int(d, "id"), need_str(d, "title")
    description, timezone, url = get("description"), get("timezone"), get("url")
    if (
        type(description) not in _STR_OR_NULL
        or type(timezone) not in _STR_OR_NULL
        or type(url) not in _STR_OR_NULL
    ):
        description, timezone, url = _optional_strs(d, "description", "timezone", "url")
    all_day = get("allDay", False)
    if all_day is not True and all_day is not False:
        all_day = need_bool(all_day, "allDay", False)
    status = get("status")
    status = _STATUSES.get(status, status) if type(status) is str else _status(status)
    location, organiser = get("location"), get("organiser")
    if location is not None:
        location = _shared(_locations, _location, location, "location")
    if organiser is not None:
        organiser = _shared(_organisers, _organiser, organiser, "organiser")
    start, end, created, updated = _times(
        get("startDate"), get("endDate"), get("createdAt"), get("updatedAt")
    )
    event = _EventTwin(
        ident,
        title,
        description,
        start,
        end,
        all_day,
        timezone,
        status,
        str_tuple(get("categories"), "categories"),
        str_tuple(get("tags"), "tags"),
        location,
        organiser,
        url,
        created,
        updated,
        {} if d.keys() <= _EVENT_KEYS else extra_of(d, _EVENT_KEYS),
    )
    if _TWIN_WORKS:
        event.__class__ = Event
    return cast(Event, event)


def _items(raw: Any) -> tuple[Event, ...]:
    """A page's ``items``; on a bad item, find it again to name its index in the error."""
    if type(raw) is not list:
        raise StructureError(("items",), f"expected an array of events, got {kind(raw)}")
    try:
        return tuple(map(_event, raw))
    except StructureError:
        pass
    try:
        return tuple(child(_event, item, index) for index, item in enumerate(raw))
    except StructureError as exc:
        raise exc.under("items") from None


def _page(d: Any) -> EventPage:
    if type(d) is not dict:
        d = as_dict(d, "EventPage")
    get = d.get
    if "items" not in d:
        raise StructureError(("items",), "required field is missing")
    page = get("page")
    if type(page) is not int:
        page = 1 if page is None else need_int(d, "page")
    return EventPage(
        _items(d["items"]),
        page,
        opt_int(get("pageSize"), "pageSize"),
        opt_int(get("totalItems"), "totalItems"),
        opt_int(get("totalPages"), "totalPages"),
        {} if d.keys() <= _PAGE_KEYS else extra_of(d, _PAGE_KEYS),
    )
