"""Between the wire's camelCase JSON and the models: the entry points the client calls.

All of them go through the one cattrs converter (``_converter.py``, imported on the first
structuring). Structuring errors are
:class:`StructureError` (a ``ValueError``) naming the field path;
:func:`describe_structure_error` turns any structuring failure into one bounded line.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ._codec import StructureError, parse_date_or_datetime, parse_datetime
from ._exceptions import APIResponseValidationError
from ._models import Event, EventPage, Session, converter

__all__ = [
    "StructureError",
    "describe_structure_error",
    "parse_date_or_datetime",
    "parse_datetime",
    "structure_event",
    "structure_page",
    "structure_session",
    "to_wire",
]

_MAX_DESCRIPTION = 300
_SESSION_KEYS = ("userId", "productId", "email")


def structure_event(data: Any) -> Event:
    """Build an :class:`Event` from its wire JSON (strict: see ``Event.from_dict``)."""
    return converter().structure(data, Event)


def structure_page(data: Any) -> EventPage:
    """Build an :class:`EventPage` from a listing's wire JSON (strict)."""
    return converter().structure(data, EventPage)


def describe_structure_error(exc: BaseException) -> str:
    """One bounded line saying what in the wire data did not fit the model.

    >>> describe_structure_error(StructureError(("items", 0, "id"), "required field is missing"))
    'items[0].id: required field is missing'
    """
    cattrs = sys.modules.get("cattrs")  # if cattrs is not loaded, exc is not one of its errors
    if isinstance(exc, StructureError):
        text = str(exc)
    elif cattrs is not None and isinstance(exc, cattrs.BaseValidationError):
        text = "; ".join(cattrs.transform_error(exc)[:3])
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def structure_session(data: Mapping[str, Any], expires_at: datetime | None) -> Session:
    """Build the public :class:`Session` from a login answer, leaving the tokens out.

    The same strict codec as ``Session.from_dict`` reads ``userId``, ``productId`` and
    ``email``; the expiry comes from the access token. An answer whose fields do not fit
    raises :class:`~planner_async.APIResponseValidationError`.
    """
    try:
        session = converter().structure({key: data.get(key) for key in _SESSION_KEYS}, Session)
    except StructureError as exc:
        raise APIResponseValidationError(
            f"the authentication answer does not fit the session: {describe_structure_error(exc)}"
        ) from None
    return attrs.evolve(session, expires_at=expires_at)


def to_wire(obj: Any) -> Any:
    """A model (or a list/tuple of models) as wire-shaped JSON: ``obj.to_dict()``."""
    if isinstance(obj, list | tuple):
        return [to_wire(item) for item in obj]
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"to_wire() expects a planner_async model, got {type(obj).__name__}")
    return to_dict()
