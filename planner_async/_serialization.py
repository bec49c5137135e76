"""One cattrs converter between the wire's camelCase JSON and the models.

The structuring functions are generated once, at import, by cattrs; unknown wire keys
are gathered into each model's ``extra`` mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._models import Event, EventPage, EventStatus, Location, Organiser, Session

__all__ = [
    "converter",
    "describe_structure_error",
    "structure_event",
    "structure_page",
    "structure_session",
    "to_wire",
]

T = TypeVar("T")

_EXTRA_KEY = "\x00extra"
_STATUSES = {s.value: s for s in EventStatus}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Attribute names whose wire name is not plain camelCase of the attribute.
_WIRE_NAMES: dict[type[Any], dict[str, str]] = {
    Event: {"start": "startDate", "end": "endDate"},
}


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 date-time (``Z`` or an offset); a ``datetime`` passes through."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    return datetime.fromisoformat(value)


def parse_date_or_datetime(value: Any) -> date | datetime:
    """Parse a plain ISO date (``2026-12-25``) to ``date``, anything longer to ``datetime``."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    return parse_datetime(value)


converter = cattrs.Converter(forbid_extra_keys=False)
converter.register_structure_hook(datetime, lambda v, _: parse_datetime(v))


def _exact(tp: Any, hook: Callable[[Any, Any], Any]) -> None:
    """Register ``hook`` for exactly the type ``tp`` (unions and generics included)."""
    converter.register_structure_hook_func(lambda t: t == tp, hook)


_exact(datetime | date | None, lambda v, _: None if v is None else parse_date_or_datetime(v))
_exact(EventStatus | str | None, lambda v, _: None if v is None else _STATUSES.get(v, v))
_exact(tuple[str, ...], lambda v, _: () if v is None else tuple(str(item) for item in v))
_exact(str | None, lambda v, _: v if v is None or type(v) is str else str(v))
_exact(int | None, lambda v, _: v if v is None or type(v) is int else int(v))
_exact(datetime | None, lambda v, _: None if v is None else parse_datetime(v))
converter.register_structure_hook(bool, lambda v, _: bool(v))
converter.register_unstructure_hook(datetime, lambda v: v.isoformat().replace("+00:00", "Z"))
converter.register_unstructure_hook(date, lambda v: v.isoformat())


def _register(cls: type[Any]) -> None:
    """Generate and register the structure/unstructure pair for one model, once."""
    names = {
        a.name: _WIRE_NAMES.get(cls, {}).get(a.name, _camel(a.name)) for a in attrs.fields(cls)
    }
    has_extra = "extra" in names
    if has_extra:
        names["extra"] = _EXTRA_KEY
    overrides = {attr: override(rename=wire) for attr, wire in names.items()}
    base = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
    known = frozenset(names.values())
    nullable_defaults = {
        wire: attr
        for attr, wire in names.items()
        if attrs.fields_dict(cls)[attr].default is not attrs.NOTHING
    }

    def structure(data: Mapping[str, Any], _: Any) -> Any:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
        # A null optional field means "not given": drop it so the default applies.
        clean = {k: v for k, v in data.items() if v is not None or k not in nullable_defaults}
        if has_extra:
            extra = {k: v for k, v in data.items() if k not in known}
            if extra:
                clean[_EXTRA_KEY] = extra
        return base(clean, cls)

    converter.register_structure_hook(cls, structure)

    unstructure_overrides = {
        attr: override(rename=wire) for attr, wire in names.items() if attr != "extra"
    }
    if has_extra:
        unstructure_overrides["extra"] = override(omit=True)
    base_out = make_dict_unstructure_fn(cls, converter, **unstructure_overrides)  # type: ignore[arg-type]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = base_out(obj)
        if has_extra and obj.extra:
            out.update(obj.extra)
        return out

    converter.register_unstructure_hook(cls, unstructure)


def _register_optional(cls: type[Any]) -> None:
    """A direct hook for ``cls | None``, so fields of that type skip cattrs' generic union path."""
    hook = converter.get_structure_hook(cls)
    _exact(cls | None, lambda v, _: None if v is None else hook(v, cls))


# Nested models first: the functions generated for a model bind the hooks of its fields.
for _model in (Location, Organiser):
    _register(_model)
    _register_optional(_model)
_register(Event)
_event_hook = converter.get_structure_hook(Event)
_exact(tuple[Event, ...], lambda v, _: tuple(_event_hook(item, Event) for item in v))
_register(EventPage)
_register(Session)

_structure_event: Callable[[Any, Any], Event] = converter.get_structure_hook(Event)
_structure_page: Callable[[Any, Any], EventPage] = converter.get_structure_hook(EventPage)


def structure_event(data: Any) -> Event:
    """Build an :class:`Event` from its wire JSON."""
    return _structure_event(data, Event)


def structure_page(data: Any) -> EventPage:
    """Build an :class:`EventPage` from a listing's wire JSON."""
    return _structure_page(data, EventPage)


def describe_structure_error(exc: BaseException) -> str:
    """One line saying what in the wire data did not fit the model."""
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes[:3])
    return f"{type(exc).__name__}: {exc}"


def structure_session(data: Mapping[str, Any], expires_at: datetime | None) -> Session:
    """Build the public :class:`Session` from a login answer, leaving the tokens out."""
    return Session(
        user_id=data.get("userId"),
        product_id=data.get("productId"),
        email=data.get("email"),
        expires_at=expires_at,
    )


def to_wire(obj: Any) -> Any:
    """Unstructure a model back to wire-shaped JSON (camelCase, extras merged back)."""
    return converter.unstructure(obj)
