"""Where a sync got to: :class:`SyncCheckpoint`, and the UTC stamps it compares.

What the fields mean for the walk is explained in :mod:`planner_async._sync`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from . import _json
from ._checks import check_int
from ._models import Event

__all__ = ["SyncCheckpoint", "stamp_of", "to_utc", "wire_instant"]

_FORMAT: Final = 1
_FIRST: Final = datetime.min.replace(tzinfo=UTC)
_LAST: Final = datetime.max.replace(tzinfo=UTC)


def to_utc(moment: datetime) -> datetime:
    """Aware UTC (a naive datetime is read as UTC); ValueError when UTC cannot hold it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} is outside the datetimes UTC can express (years 1 to 9999)"
        ) from None


def _id_set(ids: Iterable[int]) -> frozenset[int]:
    return frozenset(ids)


def _places(value: int | None) -> int | None:
    return None if value is None else check_int("a number of places", value, low=0)


def wire_instant(moment: datetime) -> str:
    """``moment`` in UTC as the wire writes it (``...Z``)."""
    return to_utc(moment).isoformat().replace("+00:00", "Z")


def stamp_of(event: Event) -> datetime | None:
    """``event``'s version stamp in UTC (None without ``updatedAt``); a stamp UTC cannot
    hold counts as the first or last instant, where the server sorts it."""
    moment = event.updated_at
    if moment is None:
        return None
    try:
        return to_utc(moment)
    except ValueError:
        offset = moment.utcoffset()
        return _FIRST if offset is not None and offset > timedelta(0) else _LAST


@attrs.frozen
class SyncCheckpoint:
    """Where a sync got to: every change up to ``updated_at`` was delivered, and of the
    events stamped exactly ``updated_at``, those in ``ids``.

    Inside a large tie (None elsewhere): ``pending`` says that the events stamped
    ``updated_at`` not yet delivered are all among the first ``pending`` places of the
    listing, and ``zone`` that the events stamped at or before ``updated_at`` fill at
    most its first ``zone`` places (both only ever shrink).
    Store it (``to_json()``/``to_dict()``) after handling each event and pass it back
    to :meth:`Events.sync` to resume.

    >>> cp = SyncCheckpoint(datetime(2026, 11, 20, 16, 45, 12, tzinfo=UTC), frozenset({7}))
    >>> SyncCheckpoint.from_json(cp.to_json()) == cp
    True
    """

    updated_at: datetime = attrs.field(converter=to_utc)
    ids: frozenset[int] = attrs.field(converter=_id_set)
    pending: int | None = attrs.field(default=None, converter=_places)
    zone: int | None = attrs.field(default=None, converter=_places)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: ``{"format": 1, "updatedAt": "...Z", "ids": [...]}``, plus
        ``"pending"`` and ``"zone"`` inside a large tie."""
        out = {
            "format": _FORMAT,
            "updatedAt": wire_instant(self.updated_at),
            "ids": sorted(self.ids),
        }
        for name, places in (("pending", self.pending), ("zone", self.zone)):
            if places is not None:
                out[name] = places
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncCheckpoint:
        """Read what :meth:`to_dict` wrote; ValueError on anything else."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ValueError("not a SyncCheckpoint mapping (format 1)")
        stamp, ids = data.get("updatedAt"), data.get("ids")
        if not isinstance(stamp, str) or not isinstance(ids, list):
            raise ValueError("a SyncCheckpoint needs updatedAt (str) and ids (list)")
        if not all(type(i) is int and i > 0 for i in ids):
            raise ValueError("SyncCheckpoint ids must be positive ints")
        pending, zone = data.get("pending"), data.get("zone")
        if not all(p is None or (type(p) is int and p >= 0) for p in (pending, zone)):
            raise ValueError("SyncCheckpoint pending and zone must be ints >= 0")
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"SyncCheckpoint updatedAt is not a date-time: {stamp[:40]!r}"
            ) from None
        if moment.tzinfo is None:
            raise ValueError("SyncCheckpoint updatedAt must carry a timezone")
        try:
            return cls(moment, frozenset(ids), pending, zone)
        except ValueError as exc:
            raise ValueError(f"SyncCheckpoint updatedAt: {exc}") from None

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncCheckpoint:
        """Read what :meth:`to_json` wrote; ValueError on anything else."""
        try:
            data = _json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a SyncCheckpoint JSON string: {exc}") from None
        return cls.from_dict(data)

    def delivered(self, event_id: int, stamp: datetime) -> bool:
        """Whether the version ``(event_id, stamp)`` is at or behind this checkpoint."""
        return stamp < self.updated_at or (stamp == self.updated_at and event_id in self.ids)

    def after(self, event_id: int, stamp: datetime) -> SyncCheckpoint:
        """The checkpoint once ``(event_id, stamp)`` (not behind this one) is delivered."""
        if stamp == self.updated_at:
            return attrs.evolve(self, ids=self.ids | {event_id})
        return SyncCheckpoint(stamp, frozenset({event_id}))
