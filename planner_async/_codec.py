"""Strict building blocks for the models' wire codec (``_models.py``), free of model classes.

The rule everywhere: what the server sent is never silently changed into a different value.
A field of the wrong JSON type raises :class:`StructureError` naming the field's path; it is
never coerced (no ``int(1001.9)``, no ``bool("false")``, no ``tuple("Politics")``).

- integers: JSON integers only. ``1001.0`` is refused too (a float on the wire is not an id,
  and accepting whole floats would make ``1e300`` an id); ``true``/``false`` are not integers;
- booleans: JSON ``true``/``false`` only;
- strings: JSON strings only; lists of strings: JSON arrays whose items are all strings;
- ``null`` (or a missing key) for an optional field means "not given": the default applies.

Error messages name the path and the JSON type found, never the value itself, so a
huge, deeply nested or secret-bearing value cannot blow up or leak through the message.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

import attrs

__all__ = [
    "StructureError",
    "as_dict",
    "camel",
    "child",
    "date_or_datetime_out",
    "datetime_out",
    "extra_of",
    "kind",
    "need_bool",
    "need_int",
    "need_str",
    "opt_date_or_datetime",
    "opt_datetime",
    "opt_int",
    "opt_str",
    "parse_date_or_datetime",
    "parse_datetime",
    "pydantic_schema",
    "str_tuple",
    "wire_types",
]

T = TypeVar("T")

_datetime_fromiso = datetime.fromisoformat
_date_fromiso = date.fromisoformat

_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    tuple: "an array",
    dict: "an object",
}


class StructureError(ValueError):
    """Wire data that does not fit a model; ``path`` locates the field (``("items", 3, "id")``).

    >>> str(StructureError(("items", 3, "id"), "expected an integer, got a string"))
    'items[3].id: expected an integer, got a string'
    """

    def __init__(self, path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def under(self, key: str | int) -> StructureError:
        """The same error, one level further down: ``key`` is prepended to the path."""
        return StructureError((key, *self.path), self.reason)

    def __str__(self) -> str:
        where = ""
        for key in self.path:
            where += f"[{key}]" if isinstance(key, int) else (f".{key}" if where else key)
        return f"{where or '(top level)'}: {self.reason}"


def kind(value: object) -> str:
    """The JSON name of ``value``'s type, for messages (never the value itself)."""
    return _JSON_TYPES.get(type(value)) or f"a {type(value).__name__}"


def _wrong(key: str, expected: str, value: object) -> NoReturn:
    raise StructureError((key,), f"expected {expected}, got {kind(value)}")


def as_dict(value: object, model: str) -> dict[str, Any]:
    """``value`` as a dict when it is a JSON object (any Mapping), else StructureError."""
    if isinstance(value, Mapping):
        return dict(value)
    raise StructureError((), f"expected a JSON object for {model}, got {kind(value)}")


def need_int(data: Mapping[str, Any], key: str) -> int:
    """The required integer ``data[key]`` (slow path: called when the fast check failed)."""
    if key not in data:
        raise StructureError((key,), "required field is missing")
    value = opt_int(data[key], key, required=True)
    assert value is not None
    return value


def opt_int(value: object, key: str, *, required: bool = False) -> int | None:
    """``value`` when it is an integer (not a bool, not a float) or null, else StructureError."""
    if type(value) is int:
        return value
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    _wrong(key, "an integer" if required else "an integer or null", value)


def need_str(data: Mapping[str, Any], key: str) -> str:
    """The required string ``data[key]`` (slow path: called when the fast check failed)."""
    if key not in data:
        raise StructureError((key,), "required field is missing")
    value = data[key]
    if isinstance(value, str):
        return str(value)
    _wrong(key, "a string", value)


def opt_str(value: object, key: str) -> str | None:
    """``value`` when it is a string or null, else StructureError."""
    if value is None or isinstance(value, str):
        return value
    _wrong(key, "a string or null", value)


def need_bool(value: object, key: str, default: bool) -> bool:
    """``value`` when it is ``true``/``false``; ``default`` for null; else StructureError."""
    if value is None:
        return default
    if value is True or value is False:
        return value
    _wrong(key, "true, false or null", value)


def str_tuple(value: object, key: str) -> tuple[str, ...]:
    """A JSON array of strings as a tuple; null as ``()``; anything else is StructureError."""
    if type(value) is list:
        for item in value:
            if type(item) is not str:
                return _str_tuple(value, key)
        return tuple(value)
    return () if value is None else _str_tuple(value, key)


def _str_tuple(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        _wrong(key, "an array of strings or null", value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise StructureError((key, index), f"expected a string, got {kind(item)}")
    return tuple(value)


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 date-time (``Z`` or an offset); a ``datetime`` passes through.

    >>> parse_datetime("2026-11-26T12:30:00Z")
    datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc)
    """
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


def _parsed(parse: Callable[[Any], T], value: object, key: str, what: str) -> T:
    if not isinstance(value, str | date):
        _wrong(key, f"{what} string or null", value)
    try:
        return parse(value)
    except ValueError:
        raise StructureError((key,), f"not {what}") from None


def opt_datetime(value: object, key: str) -> datetime | None:
    """An ISO 8601 date-time string (or null) as a ``datetime``, else StructureError."""
    if type(value) is str:
        try:
            return _datetime_fromiso(value)
        except ValueError:
            raise StructureError((key,), "not an ISO 8601 date-time") from None
    if value is None:
        return None
    return _parsed(parse_datetime, value, key, "an ISO 8601 date-time")


def opt_date_or_datetime(value: object, key: str) -> date | datetime | None:
    """An ISO 8601 date or date-time string (or null) parsed, else StructureError."""
    if type(value) is str:
        try:
            return _date_fromiso(value) if len(value) == 10 else _datetime_fromiso(value)
        except ValueError:
            raise StructureError((key,), "not an ISO 8601 date or date-time") from None
    if value is None:
        return None
    return _parsed(parse_date_or_datetime, value, key, "an ISO 8601 date or date-time")


def child(build: Callable[[Any], T], value: object, key: str | int) -> T:
    """``build(value)``, with ``key`` prepended to the path of any StructureError."""
    try:
        return build(value)
    except StructureError as exc:
        raise exc.under(key) from None


def extra_of(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The wire keys a model does not know, with their values, in wire order."""
    return {key: value for key, value in data.items() if key not in known}


def datetime_out(value: datetime | None) -> str | None:
    """A datetime as the wire writes it: ISO 8601, UTC spelled ``Z``."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def date_or_datetime_out(value: date | datetime | None) -> str | None:
    """A plain date as ``YYYY-MM-DD``, a datetime as :func:`datetime_out` writes it."""
    if isinstance(value, datetime):
        return datetime_out(value)
    return None if value is None else value.isoformat()


def pydantic_schema(
    model: type[Any],
    wire_types: Mapping[str, tuple[Any, bool]],
    handler: Callable[[Any], Any],
) -> Any:
    """A pydantic-core schema for an attrs model with ``from_dict``/``to_dict``.

    Validation calls ``model.from_dict`` (instances pass through; its ``StructureError`` is
    a ``ValueError``, which pydantic reports as a ``ValidationError``), serialisation calls
    ``to_dict``; the JSON schema, in both modes, is the wire's object shape (``wire_types``
    maps each wire name to its type and whether it is required). pydantic is imported here,
    only when pydantic asks for the schema, so ``import planner_async`` never imports it.
    """
    from pydantic_core import core_schema

    fields = {
        name: core_schema.typed_dict_field(handler(tp), required=required)
        for name, (tp, required) in wire_types.items()
    }
    wire = core_schema.typed_dict_schema(fields, cls_name=model.__name__, extra_behavior="allow")

    def validate(value: Any) -> Any:
        return value if isinstance(value, model) else model.from_dict(value)

    def json_schema(_schema: Any, json_handler: Callable[[Any], Any]) -> Any:
        return json_handler(wire)

    return core_schema.no_info_plain_validator_function(
        validate,
        serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.to_dict()),
        metadata={"pydantic_js_functions": [json_schema]},
    )


def wire_types(
    model: type[Any], renames: Mapping[str, str], *, skip: frozenset[str] = frozenset({"extra"})
) -> dict[str, tuple[Any, bool]]:
    """Each wire name of ``model`` with its attribute's type and whether it is required."""
    hints = typing.get_type_hints(model)
    out: dict[str, tuple[Any, bool]] = {}
    for field in attrs.fields(model):
        if field.name not in skip:
            wire = renames.get(field.name) or camel(field.name)
            out[wire] = (hints[field.name], field.default is attrs.NOTHING)
    return out


def camel(name: str) -> str:
    """``created_at`` → ``createdAt``."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
