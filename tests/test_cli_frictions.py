"""Newcomer frictions of the command line (issue 15, item 8): the table's title, the demo's
one count, Ctrl-C on its own line, help wrapped at word boundaries."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest

from planner_async import Event, Location
from planner_async._cli import EXIT_INTERRUPTED, main
from planner_async._cli._formats import make_writer
from planner_async._cli._progress import Tally

from support import run_cli

TITLE = "The annual budget statement and the spending review, read in full"


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def table(width: int | None) -> list[str]:
    """The table of one event with a long title, at ``width`` columns."""
    event = Event(
        id=1234567,
        title=TITLE,
        start=datetime.fromisoformat("2026-03-04T09:30:00+00:00"),
        end=datetime.fromisoformat("2026-03-04T11:00:00+00:00"),
        location=Location(city="Edinburgh", country="GB"),
        status="confirmed",
    )
    out = io.StringIO()
    writer = make_writer("table", out, width=width)
    writer.write(event)
    writer.close()
    return out.getvalue().splitlines()


def test_table_keeps_30_characters_of_title_at_80_columns():
    """At 80 columns the WHERE column goes and at least 30 characters of title stay."""
    header, row = table(80)
    assert header.split() == ["ID", "WHEN", "STATUS", "TITLE"]
    assert TITLE[:30] in row
    assert len(row) <= 80


def test_table_shows_a_title_at_60_columns():
    """At 60 columns STATUS goes too, and the title still shows."""
    header, row = table(60)
    assert header.split() == ["ID", "WHEN", "TITLE"]
    assert TITLE[:20] in row
    assert len(row) <= 60


def test_table_keeps_every_column_when_wide_or_in_a_file():
    """At 120 columns, or in a file, every column is there."""
    for width in (120, None):
        header, row = table(width)
        assert ["ID", "WHEN", "STATUS", "WHERE", "TITLE"] == header.split(), width
        assert "Edinburgh, GB" in row


def test_demo_bar_and_summary_show_one_count():
    """The progress display ends on the same event count as the summary's "events listed"."""
    err = FakeTerminal()
    code, out, _ = run_cli(["demo", "--events", "600", "--gets", "5"], err=err)
    assert 0 == code
    listed = re.search(r"events listed\s+(\d+)", out)
    assert listed is not None
    *_, (done, total) = re.findall(r"(\d+)/(\d+) events", err.getvalue())
    assert (listed[1], listed[1]) == (done, total)


def test_ctrl_c_message_starts_its_own_line(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Ctrl-C while the progress line is drawn: the message starts on a fresh line, exit 130."""

    async def interrupted(client: object, args: object, writer: object, tally: Tally) -> None:
        tally.events = 17
        raise KeyboardInterrupt

    monkeypatch.setattr("planner_async._cli._commands.copy_events", interrupted)
    err = FakeTerminal()
    argv = ["events", "--demo", "-o", str(tmp_path / "out.jsonl")]
    assert EXIT_INTERRUPTED == main(argv, out=io.StringIO(), err=err)
    text = err.getvalue()
    assert "17 events" in text
    assert re.search(r"\n(\x1b\[[0-9;?]*[A-Za-z])*planner-async: interrupted\n$", text), text


def help_text(argv: list[str], columns: int, monkeypatch, capsys) -> str:
    """The help ``argv`` prints at ``columns`` columns."""
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["demo"], ["doctor"], ["events"], ["quota"]])
def test_help_wraps_at_word_boundaries_at_80_columns(command, monkeypatch, capsys):
    """Every help line fits 80 columns, and no word, option or path is broken: the words are
    those of the unwrapped help, and every example keeps its line."""
    narrow = help_text([*command, "--help"], 80, monkeypatch, capsys)
    wide = help_text([*command, "--help"], 1000, monkeypatch, capsys)
    assert [] == [line for line in narrow.splitlines() if len(line) > 80]
    assert sorted(wide.split()) == sorted(narrow.split())
    examples = [line for line in wide.splitlines() if line.startswith("  planner-async ")]
    assert [] == [line for line in examples if line not in narrow.splitlines()]
