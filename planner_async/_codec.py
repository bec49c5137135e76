"""Strict building blocks of the converter (``_converter.py``): one hook per wire type.

The rule everywhere: what the server sent is never silently changed into a different value.
A field of the wrong JSON type raises :class:`StructureError`; it is never coerced (no
``int(1001.9)``, no ``bool("false")``, no ``tuple("Politics")``):

- integers: JSON integers only. ``1001.0`` is refused too (a float on the wire is not an id,
  and accepting whole floats would make ``1e300`` an id); ``true``/``false`` are not integers;
- booleans: JSON ``true``/``false`` only;
- strings: JSON strings only; lists of strings: JSON arrays whose items are all strings;
- date-times: ISO 8601 strings (a ``datetime`` built in Python passes through).

Each hook takes ``(value, type)`` as cattrs calls it; the type check is inline and the slow
path runs only for unusual values. A hook's error has an empty path: the converter adds
the field's wire name. Messages name the JSON type found, never the value itself, so a huge,
deeply nested or secret-bearing value cannot blow up or leak through the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NoReturn

import attrs

__all__ = [
    "STRICT",
    "Hook",
    "StructureError",
    "date_or_datetime_out",
    "datetime_out",
    "kind",
    "opt_str",
    "parse_date_or_datetime",
    "parse_datetime",
    "refuse",
    "wire_names",
]

Hook = Callable[[Any, Any], Any]

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


def refuse(expected: str, value: object) -> NoReturn:
    raise StructureError((), f"expected {expected}, got {kind(value)}")


# --- strict hooks: the type check inline, the slow path only for unusual values ----------


def _int(value: Any, _: Any = None) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    refuse("an integer", value)


def _opt_int(value: Any, _: Any = None) -> int | None:
    if type(value) is int or value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    refuse("an integer or null", value)


def _str(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    refuse("a string", value)


def opt_str(value: Any, _: Any = None) -> str | None:
    if type(value) is str or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    refuse("a string or null", value)


def _bool(value: Any, _: Any = None) -> bool:
    if value is True or value is False:
        return value
    refuse("true or false", value)


def _opt_bool(value: Any, _: Any = None) -> bool | None:
    if value is True or value is False or value is None:
        return value
    refuse("true, false or null", value)


def _opt_str_tuple(value: Any, _: Any = None) -> tuple[str, ...] | None:
    if type(value) is list or type(value) is tuple:
        for item in value:
            if type(item) is not str:
                return _str_items(value)
        return tuple(value)
    if value is None:
        return None
    refuse("an array of strings or null", value)


def _str_items(value: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise StructureError((index,), f"expected a string, got {kind(item)}")
    return tuple(map(str, value))


def _str_tuple(value: Any, _: Any = None) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return _opt_str_tuple(value) or ()
    refuse("an array of strings", value)


_fromiso_datetime = datetime.fromisoformat
_fromiso_date = date.fromisoformat


def parse_datetime(value: Any) -> datetime:
    """Parse an ISO 8601 date-time (``Z`` or an offset); a ``datetime`` passes through.

    >>> parse_datetime("2026-11-26T12:30:00Z")
    datetime.datetime(2026, 11, 26, 12, 30, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    return _fromiso_datetime(value)


def parse_date_or_datetime(value: Any) -> date | datetime:
    """Parse a plain ISO date (``2026-12-25``) to ``date``, anything longer to ``datetime``."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) == 10:
        return _fromiso_date(value)
    return parse_datetime(value)


def _opt_datetime(value: Any, _: Any = None) -> datetime | None:
    if type(value) is str:
        try:
            return _fromiso_datetime(value)
        except ValueError:
            raise StructureError((), "not an ISO 8601 date-time") from None
    if value is None or isinstance(value, datetime):
        return value
    refuse("an ISO 8601 date-time string or null", value)


def _opt_date_or_datetime(value: Any, _: Any = None) -> date | datetime | None:
    if type(value) is str:
        try:
            return _fromiso_date(value) if len(value) == 10 else _fromiso_datetime(value)
        except ValueError:
            raise StructureError((), "not an ISO 8601 date or date-time") from None
    if value is None or isinstance(value, date):
        return value
    refuse("an ISO 8601 date or date-time string or null", value)


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


def _identity(value: Any) -> Any:
    return value


STRICT: dict[Any, tuple[Hook, Callable[[Any], Any]]] = {
    # each wire type: (its strict structure hook, its unstructure hook)
    int: (_int, _identity),
    int | None: (_opt_int, _identity),
    str: (_str, _identity),
    str | None: (opt_str, _identity),
    bool: (_bool, _identity),
    bool | None: (_opt_bool, _identity),
    tuple[str, ...]: (_str_tuple, list),
    tuple[str, ...] | None: (_opt_str_tuple, lambda value: None if value is None else list(value)),
    datetime | None: (_opt_datetime, datetime_out),
    datetime | date | None: (_opt_date_or_datetime, date_or_datetime_out),
}


def wire_names(model: type[Any]) -> dict[str, str]:
    """Each attribute of ``model`` (but ``extra``) with its wire name: camelCase or renamed."""
    renames: Mapping[str, str] = getattr(model, "__wire_renames__", {})
    return {
        field.name: renames.get(field.name) or _camel(field.name)
        for field in attrs.fields(model)
        if field.name != "extra"
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
