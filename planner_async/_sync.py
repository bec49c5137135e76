"""Resumable incremental sync: ``client.events.sync(checkpoint)`` and :class:`SyncCheckpoint`.

The walk is keyset paging emulated with the contract's ``updatedSince`` filter: every
request asks for page 1 of ``sort=updatedAt&updatedSince=<high-water mark>``, and the
mark moves up with each event delivered. Offset paging over a list that changes while it
is read skips events (one that changes moves to the end and everything after it shifts
one place back); restarting from the mark cannot skip one, because whatever is not yet
delivered is always at or after the mark.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from ._models import Event, EventPage

__all__ = ["DEFAULT_LAG", "EventSync", "SyncCheckpoint", "check_lag"]

DEFAULT_LAG: Final = 10.0
"""Seconds behind now where a sync run stops (see :class:`EventSync`)."""

_FORMAT: Final = 1

FetchPage = Callable[[Mapping[str, Any]], Awaitable[EventPage]]


def check_lag(lag: object) -> float:
    """``lag`` must be a finite number of seconds, zero or more."""
    if isinstance(lag, bool) or not isinstance(lag, int | float):
        raise TypeError(f"lag must be a number of seconds, got {type(lag).__name__}")
    if not math.isfinite(lag) or lag < 0:
        raise ValueError(f"lag must be a finite number of seconds >= 0, got {lag!r}")
    return float(lag)


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime from the server is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _id_set(ids: Iterable[int]) -> frozenset[int]:
    return frozenset(ids)


def _wire(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


@attrs.frozen
class SyncCheckpoint:
    """Where a sync got to: every change up to ``updated_at`` was delivered, and of the
    events stamped exactly ``updated_at``, those in ``ids``.

    Store it (``to_json()``/``to_dict()``) after handling each event and pass it back
    to :meth:`Events.sync` to resume.

    >>> cp = SyncCheckpoint(datetime(2026, 11, 20, 16, 45, 12, tzinfo=UTC), frozenset({7}))
    >>> SyncCheckpoint.from_json(cp.to_json()) == cp
    True
    """

    updated_at: datetime = attrs.field(converter=_utc)
    ids: frozenset[int] = attrs.field(converter=_id_set)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: ``{"format": 1, "updatedAt": "...Z", "ids": [...]}``."""
        return {"format": _FORMAT, "updatedAt": _wire(self.updated_at), "ids": sorted(self.ids)}

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
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError("SyncCheckpoint updatedAt must carry a timezone")
        return cls(moment, frozenset(ids))

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncCheckpoint:
        """Read what :meth:`to_json` wrote; ValueError on anything else."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a SyncCheckpoint JSON string: {exc}") from None
        return cls.from_dict(data)

    def delivered(self, event_id: int, stamp: datetime) -> bool:
        """Whether the version ``(event_id, stamp)`` is at or behind this checkpoint."""
        return stamp < self.updated_at or (stamp == self.updated_at and event_id in self.ids)

    def after(self, event_id: int, stamp: datetime) -> SyncCheckpoint:
        """The checkpoint once ``(event_id, stamp)`` (not behind this one) is delivered."""
        if stamp == self.updated_at:
            return SyncCheckpoint(stamp, self.ids | {event_id})
        return SyncCheckpoint(stamp, frozenset({event_id}))


class EventSync:
    """What ``client.events.sync(checkpoint)`` returns: iterate it for the changed events.

    Events come oldest change first (``sort=updatedAt``); after each one,
    :attr:`checkpoint` covers it. The run stops at :attr:`until` (frozen when the run is
    made: now minus ``lag``); changes after it are left to the next run. ``lag`` allows
    for a server whose writes become visible in listings a little after the time they
    are stamped with, and for clock skew between it and this client.

    The guarantee, given the contract (each change stamps a new, later ``updatedAt``;
    ``updatedSince`` is inclusive; listings sorted by ``updatedAt``, ties by id):

    * Nothing missed: once a run finishes, every event whose current ``updatedAt`` is at
      or before its ``until`` has been delivered in that version, by it or an earlier
      run. A version superseded before a run reaches it is not delivered (only the newer
      one, now or in a later run). Deletions are not reported (the API has no
      tombstones), nor events without ``updatedAt``.
    * Nothing repeated: each version ``(id, updatedAt)`` is delivered once across runs
      chained by checkpoints, when the job saves :attr:`checkpoint` after handling each
      event. A crash between handling an event and saving the checkpoint delivers that
      event again on resume: at-least-once in that window, so make handling idempotent
      per ``(id, updatedAt)``.

    One edge is weaker: more than ``page_size`` events stamped with the very same
    ``updatedAt`` are paged by offset, where a change among them mid-run can delay one
    of the others to the next run.
    """

    __slots__ = ("_checkpoint", "_fetch", "_params", "_until")

    def __init__(
        self,
        fetch: FetchPage,
        params: Mapping[str, Any],
        checkpoint: SyncCheckpoint | None,
        *,
        until: datetime | None,
        now: float,
    ) -> None:
        if checkpoint is not None and not isinstance(checkpoint, SyncCheckpoint):
            raise TypeError(f"checkpoint must be a SyncCheckpoint, got {type(checkpoint).__name__}")
        if until is not None and not isinstance(until, datetime):
            raise TypeError(f"until must be a datetime, got {type(until).__name__}")
        if until is not None and until.tzinfo is None:
            raise ValueError("until is a naive datetime: give it a timezone")
        self._fetch = fetch
        self._params = dict(params)
        self._checkpoint = checkpoint
        self._until = _utc(until) if until is not None else datetime.fromtimestamp(now, UTC)

    @property
    def checkpoint(self) -> SyncCheckpoint | None:
        """What to store: it covers every event delivered so far (None before any)."""
        return self._checkpoint

    @property
    def until(self) -> datetime:
        """The upper bound of this run: later changes are left to the next run."""
        return self._until

    def __repr__(self) -> str:
        return f"EventSync(checkpoint={self._checkpoint!r}, until={self._until.isoformat()})"

    def _query(self, page: int) -> dict[str, Any]:
        params = {**self._params, "page": page}
        if self._checkpoint is not None:
            params["updatedSince"] = _wire(self._checkpoint.updated_at)
        return params

    def _fresh(self, event: Event) -> datetime | None:
        """The version stamp of ``event`` if it is due in this run, else None."""
        if event.updated_at is None:
            return None
        stamp = _utc(event.updated_at)
        checkpoint = self._checkpoint
        if checkpoint is not None and checkpoint.delivered(event.id, stamp):
            return None
        return stamp

    async def _events(self) -> AsyncIterator[Event]:
        size: int = self._params["pageSize"]
        number = 1
        while True:
            page = await self._fetch(self._query(number))
            delivered = False
            for event in page.items:
                stamp = self._fresh(event)
                if stamp is None:
                    continue
                if stamp > self._until:
                    return  # sorted by updatedAt: the rest of the listing is later still
                cp = self._checkpoint
                self._checkpoint = (
                    cp.after(event.id, stamp) if cp else SyncCheckpoint(stamp, {event.id})
                )
                delivered = True
                yield event
            if len(page.items) < size:
                return
            # Restart from the new mark (nothing can be skipped); only a page wholly
            # behind the mark (ties at it) moves on by offset.
            number = 1 if delivered else number + 1

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()
