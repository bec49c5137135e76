"""The CLI's output formats for events: JSON lines, CSV, a table for people, iCalendar.

JSON lines and CSV use the same field names, the wire's camelCase ones: a JSON line is the
event's JSON form; a CSV column is a top-level field, or ``location.city``-style for the
fields of the nested objects. Booleans are ``true``/``false`` in both. iCalendar needs the
optional ``icalendar`` package (``pip install 'planner-async[ics]'``).

CSV is safe to open in a spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a leading ``'`` (OWASP's rule against formula injection),
and a list cell (``categories``, ``tags``) is a JSON array (``["Politics","A;B"]``, ``[]``
for none), which splits back without ambiguity. The table strips control characters.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._models import Event
from ._text import printable

__all__ = [
    "CSV_FIELDS",
    "FORMATS",
    "FORMULA_START",
    "MIN_TITLE",
    "EventWriter",
    "check_format",
    "event_record",
    "make_writer",
    "table_columns",
]

FORMATS = ("jsonl", "csv", "table", "ics")
"""The names ``--format`` accepts."""

CSV_FIELDS = (
    "id",
    "title",
    "description",
    "startDate",
    "endDate",
    "allDay",
    "timezone",
    "status",
    "categories",
    "tags",
    "location.venue",
    "location.city",
    "location.region",
    "location.country",
    "organiser.name",
    "organiser.url",
    "url",
    "createdAt",
    "updatedAt",
)
"""CSV columns: the JSON form's keys, ``parent.child`` for nested ones."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A CSV text cell starting with one of these gets a leading ``'`` (OWASP)."""


class EventWriter(Protocol):
    """Writes events one at a time; ``close()`` finishes the document (flushes)."""

    def write(self, event: Event) -> None:
        """Write one event."""

    def close(self) -> str | None:
        """Finish the output; return a note for the user (e.g. events skipped) or None."""


def event_record(event: Event) -> dict[str, Any]:
    """The event's JSON form: the wire's camelCase shape, unknown wire fields included."""
    return event.to_dict()


def _csv_value(value: Any) -> str:
    """A CSV cell: ``true``/``false``, a JSON array for a list, text safe from formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def _field(record: Mapping[str, Any], name: str) -> Any:
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class _JsonLines:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, event: Event) -> None:
        self._out.write(json.dumps(event_record(event), ensure_ascii=False) + "\n")

    def close(self) -> str | None:
        self._out.flush()
        return None


class _Csv:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._writer = csv.writer(out)
        self._writer.writerow(CSV_FIELDS)

    def write(self, event: Event) -> None:
        record = event_record(event)
        self._writer.writerow([_csv_value(_field(record, name)) for name in CSV_FIELDS])

    def close(self) -> str | None:
        self._out.flush()
        return None


def _local(value: date | datetime | None, timezone: str | None) -> date | datetime | None:
    """A date-time in the event's own time zone, when the zone is known here."""
    if not isinstance(value, datetime) or value.tzinfo is None or not timezone:
        return value
    try:
        return value.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return value


def _when(event: Event) -> str:
    """``2026-01-01`` / ``2026-01-01 → 01-03`` (all day) or ``2026-01-01 12:00–15:00``.

    Times are in the event's own time zone (``timezone``), as people there read them.
    """
    start, end = _local(event.start, event.timezone), _local(event.end, event.timezone)
    if start is None:
        return "(no date)"
    if not isinstance(start, datetime):
        if end is None or end == start or isinstance(end, datetime):
            return start.isoformat()
        tail = end.isoformat()[5:] if end.year == start.year else end.isoformat()
        return f"{start.isoformat()} → {tail}"
    text = start.strftime("%Y-%m-%d %H:%M")
    if isinstance(end, datetime):
        text += "–" + end.strftime("%H:%M" if end.date() == start.date() else "%m-%d %H:%M")
    return text


def _where(event: Event) -> str:
    location = event.location
    if location is None:
        return ""
    return ", ".join(part for part in (location.city or location.venue, location.country) if part)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


MIN_TITLE = 30
"""Characters of title the table keeps on a terminal, dropping other columns first."""

_COLUMNS = (("ID", 7), ("WHEN", 23), ("STATUS", 11), ("WHERE", 20))
_DROPPED_FIRST = ("WHERE", "STATUS")


def table_columns(width: int | None) -> list[tuple[str, int]]:
    """The table's columns before the title: all of them, unless the terminal is too
    narrow to leave :data:`MIN_TITLE` characters of title (WHERE goes first, then STATUS).

    >>> [name for name, _ in table_columns(80)]
    ['ID', 'WHEN', 'STATUS']
    """
    columns = list(_COLUMNS)
    for name in _DROPPED_FIRST:
        room = (width or 0) - sum(size + 2 for _, size in columns)
        if width is None or room >= MIN_TITLE:
            break
        columns = [column for column in columns if column[0] != name]
    return columns


class _Table:
    """Aligned columns for reading; the title goes last and is cut to the terminal width.

    Control characters in the data (escape sequences, bells, line breaks) are removed.
    """

    def __init__(self, out: TextIO, width: int | None) -> None:
        self._out = out
        self._width = width
        self._columns = table_columns(width)
        self._line({name: name for name, _ in _COLUMNS} | {"TITLE": "TITLE"})

    def _line(self, cells: Mapping[str, str]) -> None:
        text = "  ".join(
            _fit(printable(cells[name]), size).ljust(size) for name, size in self._columns
        )
        text += "  " + printable(cells["TITLE"])
        if self._width is not None:
            text = _fit(text, self._width)
        self._out.write(text.rstrip() + "\n")

    def write(self, event: Event) -> None:
        status = str(event.status) if event.status is not None else ""
        cells = {"ID": str(event.id), "WHEN": _when(event), "STATUS": status}
        self._line(cells | {"WHERE": _where(event), "TITLE": event.title})

    def close(self) -> str | None:
        self._out.flush()
        return None


_ICS_STATUS = {
    "confirmed": "CONFIRMED",
    "provisional": "TENTATIVE",
    "postponed": "TENTATIVE",
    "cancelled": "CANCELLED",
}


def _ics_time(value: date | datetime, *, all_day: bool) -> date | datetime:
    """A DATE for all-day events, else a UTC DATE-TIME (no VTIMEZONE needed)."""
    if all_day or not isinstance(value, datetime):
        return value.date() if isinstance(value, datetime) else value
    return value.astimezone(UTC) if value.tzinfo is not None else value


class _ICalendar:
    """One VCALENDAR with a VEVENT per event, written by ``close()``.

    All-day events get DATE values, and the wire's inclusive end date becomes the
    exclusive ``DTEND`` iCalendar wants (the day after). The UID is ``<id>@<domain>``, so
    importing a later export again updates events instead of duplicating them.
    """

    def __init__(self, out: TextIO, uid_domain: str) -> None:
        import icalendar  # optional extra; checked by make_writer

        self._out = out
        self._domain = uid_domain
        self._module = icalendar
        self._calendar = icalendar.Calendar()
        self._calendar.add("prodid", "-//planner-async//Forward Planner export//EN")
        self._calendar.add("version", "2.0")
        self._stamp = datetime.now(UTC).replace(microsecond=0)
        self._skipped = 0
        self._bad = 0  # values left out: a URL with control characters, say

    def write(self, event: Event) -> None:
        if event.start is None:  # DTSTART is required; nothing to place in a calendar
            self._skipped += 1
            return
        self._calendar.add_component(self._vevent(event, event.start))

    def _vevent(self, event: Event, start: date | datetime) -> Any:
        all_day = event.all_day or not isinstance(start, datetime)
        vevent = self._module.Event()
        vevent.add("uid", f"{event.id}@{self._domain}")
        vevent.add("dtstamp", self._stamp)
        vevent.add("summary", event.title)
        vevent.add("dtstart", _ics_time(start, all_day=all_day))
        if event.end is not None:
            end = _ics_time(event.end, all_day=all_day)
            vevent.add("dtend", end + timedelta(days=1) if all_day else end)
        optional: dict[str, Any] = {
            "description": event.description,
            "location": ", ".join(_location_parts(event)) or None,
            "url": self._url(event.url),
            "status": _ICS_STATUS.get(str(event.status)) if event.status else None,
            "categories": list(event.categories) or None,
            "created": event.created_at,
            "last-modified": event.updated_at,
        }
        for name, value in optional.items():
            if value is not None:
                vevent.add(name, value)
        return vevent

    def _url(self, url: str | None) -> str | None:
        """``url``, or None when it holds characters a URI may not (CR, LF, controls)."""
        if url is None or (url.isprintable() and " " not in url):
            return url
        self._bad += 1
        return None

    def close(self) -> str | None:
        self._out.write(self._calendar.to_ical().decode("utf-8"))
        self._out.flush()
        notes = []
        if self._skipped:
            notes.append(f"{self._skipped} events without a start date left out of the calendar")
        if self._bad:
            notes.append(f"{self._bad} URLs with control characters or spaces left out")
        return "; ".join(notes) or None


def _location_parts(event: Event) -> list[str]:
    location = event.location
    if location is None:
        return []
    parts = (location.venue, location.city, location.country)
    return [part for part in parts if part]


def check_format(fmt: str) -> None:
    """Raise ValueError now, before any request, when ``fmt`` cannot be written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    if fmt == "ics":
        try:
            import icalendar  # noqa: F401
        except ImportError:
            raise ValueError(_NO_ICALENDAR) from None


_NO_ICALENDAR = "--format ics needs the icalendar package: pip install 'planner-async[ics]'"


def make_writer(
    fmt: str, out: TextIO, *, width: int | None = None, uid_domain: str = "planner-async"
) -> EventWriter:
    """The writer for ``fmt`` (one of :data:`FORMATS`), writing to ``out``.

    ``width`` cuts table lines (None: never cut); ``uid_domain`` is the right-hand side of
    iCalendar UIDs. Raises ValueError for an unknown format, or for ``ics`` when the
    ``icalendar`` package is not installed.
    """
    if fmt == "jsonl":
        return _JsonLines(out)
    if fmt == "csv":
        return _Csv(out)
    if fmt == "table":
        return _Table(out, width)
    check_format(fmt)
    return _ICalendar(out, uid_domain)
