"""The fake's events: seeded, some restricted, and changeable while listings go on.

Every change stamps the event's ``updatedAt`` with the fake clock's now, at millisecond
precision and always later than the event's previous ``updatedAt``, so that
``(id, updatedAt)`` names one version of an event.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .._serialization import to_wire
from ._data import parse_instant
from ._query import SORTS, EventIndex, EventQuery

__all__ = ["EventStore", "wire_event"]


def wire_event(event: Any, *, need_id: bool = True) -> dict[str, Any]:
    """A wire-shaped ``dict`` copy of ``event``: a mapping, or a model such as ``Event``.

    With ``need_id`` (the default), an event without an integer ``id`` is a ValueError.

    >>> wire_event({"id": 1, "title": "Budget"})
    {'id': 1, 'title': 'Budget'}
    """
    if isinstance(event, Mapping):
        data = dict(event)
    elif callable(getattr(event, "to_dict", None)):
        data = dict(event.to_dict())
    else:
        try:
            data = to_wire(event)
        except Exception as exc:
            raise TypeError(f"not an event mapping or model: {type(event).__name__}") from exc
        if not isinstance(data, dict):
            raise TypeError(f"not an event mapping or model: {type(event).__name__}")
    if not need_id and "id" not in data:
        return data
    if not isinstance(data.get("id"), int) or isinstance(data["id"], bool):
        raise ValueError(f"an event needs an integer 'id', not {data.get('id')!r}")
    return data


def _millis(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        return round(parse_instant(text) * 1000)
    except ValueError:
        return None


def _iso_millis(millis: int) -> str:
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"


class EventStore:
    """The events one fake serves, by id, with the listing index kept up to date."""

    __slots__ = ("_by_id", "_clock", "_index", "events", "restricted_ids")

    def __init__(
        self,
        events: Iterable[Any],
        *,
        clock: Any,
        seed: int,
        restricted_ids: Iterable[int],
        restricted_share: float,
    ) -> None:
        self._clock = clock
        self.events: list[dict[str, Any]] = [wire_event(e) for e in events]
        self._by_id = {int(e["id"]): e for e in self.events}
        pick = random.Random(f"restricted-{seed}")
        self.restricted_ids: frozenset[int] = frozenset(restricted_ids) | {
            event_id for event_id in sorted(self._by_id) if pick.random() < restricted_share
        }
        self._index = EventIndex(e for e in self.events if e["id"] not in self.restricted_ids)

    def get(self, event_id: int) -> dict[str, Any] | None:
        """The stored event ``event_id`` (not a copy), or None."""
        return self._by_id.get(event_id)

    def page(self, query: EventQuery) -> dict[str, Any]:
        """The listing body for ``query`` (restricted events left out)."""
        return self._index.page(query)

    def visible_ids(self, sort: str = "startDate") -> list[int]:
        """The ids a listing shows, in its order for ``sort``."""
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")
        return self._index.ids(sort)

    def stamp(self, event: Mapping[str, Any], given: Any = None) -> str:
        """The ``updatedAt`` of the next version of ``event`` (``given``, when later)."""
        previous = _millis(event.get("updatedAt"))
        if given is not None:
            wanted = _millis(given)
            if wanted is None:
                raise ValueError(f"updatedAt must be an ISO 8601 date-time, not {given!r}")
            if previous is not None and wanted <= previous:
                raise ValueError("updatedAt must be later than the event's current updatedAt")
            return str(given)
        # The clock's now, unless that is not later than the last version.
        now = math.floor(self._clock() * 1000)
        return _iso_millis(now if previous is None else max(now, previous + 1))

    def add(self, event: Any, *, restricted: bool = False) -> dict[str, Any]:
        """Store a new event; missing ``id``/``createdAt``/``updatedAt`` are filled in."""
        data = wire_event(event, need_id=False)
        data.setdefault("id", max(self._by_id, default=100_000) + 1)
        data = wire_event(data)
        if data["id"] in self._by_id:
            raise ValueError(f"event {data['id']} exists already; use update_event()")
        data.setdefault("title", f"Event {data['id']}")
        data["updatedAt"] = self.stamp({}, data.get("updatedAt"))
        data.setdefault("createdAt", data["updatedAt"])
        self.events.append(data)
        self._by_id[data["id"]] = data
        if restricted:
            self.restricted_ids = self.restricted_ids | {data["id"]}
        else:
            self._index.put(data)
        return dict(data)

    def update(self, event_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Change ``fields`` of event ``event_id``; its ``updatedAt`` moves forward."""
        event = self._existing(event_id)
        if "id" in fields:
            raise ValueError("an event's id cannot change")
        stamp = self.stamp(event, fields.get("updatedAt"))
        event.update(fields)
        event["updatedAt"] = stamp
        if event_id not in self.restricted_ids:
            self._index.put(event)
        return dict(event)

    def delete(self, event_id: int) -> dict[str, Any]:
        """Remove event ``event_id``; return what it was."""
        event = self._existing(event_id)
        del self._by_id[event_id]
        self._index.remove(event_id)
        self.events[:] = [e for e in self.events if e is not event]
        return event

    def _existing(self, event_id: int) -> dict[str, Any]:
        event = self._by_id.get(event_id)
        if event is None:
            raise KeyError(f"no event {event_id}")
        return event
