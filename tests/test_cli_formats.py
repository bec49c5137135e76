"""The CLI's output formats: JSON lines and CSV agree, iCalendar imports, the table fits."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime, timedelta
from typing import Any

import icalendar
import pytest

from planner_async import Event, Location
from planner_async._cli import main
from planner_async._cli._formats import CSV_FIELDS, check_format, make_writer


def run(argv: list[str]) -> str:
    """Run the command in-process; return stdout (failing on a non-zero exit)."""
    out, err = io.StringIO(), io.StringIO()
    assert 0 == main(argv, out=out, err=err), err.getvalue()
    return out.getvalue()


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"location": {"city": "x"}}`` -> ``{"location.city": "x"}``."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.fixture(scope="module")
def jsonl_rows() -> list[dict[str, Any]]:
    """Sixty events of the embedded fake as JSON lines."""
    return [json.loads(line) for line in run(["events", "--demo", "--limit", "60"]).splitlines()]


@pytest.fixture(scope="module")
def csv_rows() -> list[dict[str, str]]:
    """The same sixty events as CSV."""
    out = run(["events", "--demo", "--limit", "60", "--format", "csv"])
    return list(csv.DictReader(io.StringIO(out)))


def test_csv_and_jsonl_use_the_same_field_names(jsonl_rows, csv_rows):
    """Every CSV column is a JSON key (dotted for nested objects), camelCase as on the wire."""
    assert list(CSV_FIELDS) == list(csv_rows[0].keys())
    json_keys = set().union(*(flatten(row).keys() for row in jsonl_rows))
    assert set(CSV_FIELDS) <= json_keys
    assert {"startDate", "allDay", "updatedAt", "description"} <= set(CSV_FIELDS)


def test_csv_values_match_jsonl_with_proper_booleans(jsonl_rows, csv_rows):
    """CSV cells hold the JSON values: true/false booleans, lists as JSON arrays, '' for null."""
    assert [str(row["id"]) for row in jsonl_rows] == [row["id"] for row in csv_rows]
    for record, row in zip(jsonl_rows, csv_rows, strict=True):
        flat = flatten(record)
        assert ("true" if flat["allDay"] else "false") == row["allDay"]
        assert (flat.get("description") or "") == row["description"]
        assert flat["categories"] == json.loads(row["categories"])
        assert (flat.get("location.city") or "") == row["location.city"]
    assert {"true", "false"} == {row["allDay"] for row in csv_rows}
    assert all(isinstance(record["allDay"], bool) for record in jsonl_rows)


def test_ics_parses_back_with_every_event(jsonl_rows):
    """``--format ics`` is a calendar icalendar reads back: one VEVENT per event, with the
    event's UID, summary and times; all-day events as DATE values ending the day after."""
    calendar = icalendar.Calendar.from_ical(
        run(["events", "--demo", "--limit", "60", "--format", "ics"])
    )
    vevents = list(calendar.walk("VEVENT"))
    assert len(jsonl_rows) == len(vevents)
    by_uid = {str(v["UID"]).split("@")[0]: v for v in vevents}
    assert {str(row["id"]) for row in jsonl_rows} == by_uid.keys()
    kinds = set()
    for row in jsonl_rows:
        vevent = by_uid[str(row["id"])]
        assert row["title"] == str(vevent["SUMMARY"])
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND", None)
        assert (row.get("endDate") is None) == (end is None)
        if row["allDay"]:
            assert not isinstance(start, datetime)
            assert date.fromisoformat(row["startDate"][:10]) == start
            if end is not None:
                assert date.fromisoformat(row["endDate"][:10]) + timedelta(days=1) == end
        else:
            assert datetime.fromisoformat(row["startDate"]) == start
            if end is not None:
                assert datetime.fromisoformat(row["endDate"]) == end
        kinds.add((row["allDay"], end is not None))
    assert {(True, True), (False, True)} <= kinds  # both kinds, with an end, were checked


def test_ics_skips_events_without_a_start_and_says_so():
    """An event with no start cannot be placed in a calendar: it is left out, with a note."""
    out = io.StringIO()
    writer = make_writer("ics", out, uid_domain="example.org")
    writer.write(Event(id=1, title="Undated"))
    writer.write(Event(id=2, title="Dated", start=date(2026, 5, 1), all_day=True))
    note = writer.close()
    assert "1 events without a start date left out of the calendar" == note
    [vevent] = icalendar.Calendar.from_ical(out.getvalue()).walk("VEVENT")
    assert "2@example.org" == str(vevent["UID"])


def test_ics_needs_icalendar(monkeypatch: pytest.MonkeyPatch):
    """Without the icalendar package ``--format ics`` is refused before any request."""
    monkeypatch.setitem(sys.modules, "icalendar", None)
    with pytest.raises(ValueError, match=r"planner-async\[ics\]"):
        check_format("ics")
    err = io.StringIO()
    assert 2 == main(["events", "--demo", "--format", "ics"], out=io.StringIO(), err=err)
    assert "pip install" in err.getvalue()


def test_table_lines_are_cut_to_the_width_only_when_asked():
    """The table cuts long lines to the terminal width with an ellipsis; a file gets them whole."""
    long = Event(
        id=7,
        title="A very long title " * 5,
        start=datetime.fromisoformat("2026-01-01T12:00:00+00:00"),
        end=datetime.fromisoformat("2026-01-01T15:00:00+00:00"),
        timezone="Europe/Paris",
        location=Location(city="Paris", country="FR"),
        status="confirmed",
    )
    cut, whole = io.StringIO(), io.StringIO()
    for out, width in ((cut, 60), (whole, None)):
        writer = make_writer("table", out, width=width)
        writer.write(long)
        writer.close()
    header, row = cut.getvalue().splitlines()
    assert header.startswith("ID")
    assert 60 == len(row)
    assert row.endswith("…")
    assert "2026-01-01 13:00–16:00" in row  # in the event's own time zone
    assert whole.getvalue().splitlines()[1].endswith(long.title.rstrip())
