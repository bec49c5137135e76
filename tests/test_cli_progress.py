"""The progress display: one line that fits, the quota and waits, and off when not asked."""

from __future__ import annotations

import io
import re
from datetime import datetime

import anyio
import pytest

from planner_async import PauseDetails, RateLimitStatus, WindowStatus
from planner_async._cli._progress import (
    PlainDisplay,
    Reporter,
    RichDisplay,
    Snapshot,
    Tally,
    open_reporter,
    render_line,
    run_with,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def snapshot(**changes: object) -> Snapshot:
    """A busy moment of a listing, with ``changes`` applied."""
    fields: dict[str, object] = {
        "pages": 40,
        "events": 1950,
        "total": 2998,
        "gets": 12,
        "gets_total": 100,
        "retries": 3,
        "elapsed": 2.5,
        "quota_left": 0,
        "waiting_until": datetime(2026, 1, 1, 14, 3, 22),
    }
    fields.update(changes)
    return Snapshot(**fields)  # type: ignore[arg-type]


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("width", [10, 25, 40, 60, 80, 120, 200])
def test_render_line_always_fits(width: int):
    """The line is never longer than the width, and the event count always comes first."""
    line = render_line(snapshot(), width)
    assert len(line) <= width
    assert line.startswith("1950/2998"[: width - 1])


def test_waiting_for_quota_comes_right_after_the_counts():
    """When requests wait, 'waiting for quota until …' is the second thing shown, in a
    short form on a narrow terminal."""
    assert "1950/2998 events · waiting for quota until 14:03:22" == render_line(snapshot(), 60)
    assert "1950/2998 events · waiting until 14:03:22" == render_line(snapshot(), 45)


def test_plain_display_rewrites_one_line_within_the_width():
    """The plain display redraws with carriage returns, never writes past width - 1, and
    ends with a newline."""
    stream = io.StringIO()
    display = PlainDisplay(stream, lambda: 60)
    display.show(snapshot())
    display.show(snapshot(events=2998, waiting_until=None))
    display.close(snapshot(events=2998, waiting_until=None))
    text = stream.getvalue()
    assert text.endswith("\n")
    assert "\n" not in text[:-1]
    drawn = [part for part in text[:-1].split("\r") if part.strip()]
    assert all(len(part) <= 59 for part in drawn)
    assert drawn[-1].startswith("[#######] 100% 2998/2998 events")


def test_rich_display_fits_the_terminal_width(monkeypatch: pytest.MonkeyPatch):
    """With rich, every drawn line fits a 60-column terminal (no wrapping into fragments)."""
    monkeypatch.setenv("COLUMNS", "60")
    stream = FakeTerminal()
    display = RichDisplay(stream)
    display.show(snapshot())
    display.close(snapshot(events=2998))
    lines = ANSI.sub("", stream.getvalue()).replace("\r", "\n").splitlines()
    assert any("1950/2998 events" in line for line in lines)
    assert all(len(line) <= 60 for line in lines)


def test_open_reporter_is_off_without_a_terminal_or_with_quiet():
    """No display when the stream is not a terminal, or when quiet; one on a terminal."""
    assert open_reporter(io.StringIO(), quiet=False) is None
    assert open_reporter(FakeTerminal(), quiet=True) is None
    reporter = open_reporter(FakeTerminal(), quiet=False, plain=True)
    assert reporter is not None
    reporter.close()


def status(remaining: int, next_free_in: float | None, *, waiting: int) -> RateLimitStatus:
    """A one-window rate-limit snapshot."""
    window = WindowStatus(
        limit=40, period=1.0, used=40 - remaining, remaining=remaining, next_free_in=next_free_in
    )
    return RateLimitStatus(windows=(window,), paused_for=0.0, waiting=waiting)


def test_snapshot_reads_quota_left_and_when_waiting_ends():
    """The reporter shows the quota left and, when requests wait on a full window, the time
    the next slot frees."""
    reporter = Reporter(PlainDisplay(io.StringIO(), lambda: 80))
    reporter.watch(lambda: status(12, 0.0, waiting=0))
    assert 12 == reporter.snapshot().quota_left
    assert reporter.snapshot().waiting_until is None
    reporter.watch(lambda: status(0, 30.0, waiting=3))
    snap = reporter.snapshot()
    assert 0 == snap.quota_left
    assert snap.waiting_until is not None
    assert 29 < (snap.waiting_until - datetime.now().astimezone()).total_seconds() <= 30


def test_a_server_pause_shows_as_waiting_for_the_server():
    """After an ``on_pause`` hook, the display says it waits for the server, until when."""
    tally = Tally()
    tally.on_pause(PauseDetails(seconds=20.0, retry_after=20.0, status_code=429))
    snap = Reporter(PlainDisplay(io.StringIO(), lambda: 80), tally).snapshot()
    assert "the server (429)" == snap.waiting_for
    assert snap.waiting_until is not None
    assert "waiting for the server (429) until" in render_line(snap, 120)


@pytest.mark.anyio
@pytest.mark.backends("trio-virtual")  # the redraw timer and the work's 0.25 s, in virtual time
async def test_run_with_draws_and_reraises_the_work_error_unwrapped(anyio_backend: object):
    """``run_with`` redraws while the work runs, closes the display, and lets the work's
    exception out as itself (not in an exception group)."""
    stream = io.StringIO()
    reporter = Reporter(PlainDisplay(stream, lambda: 80))

    async def work() -> None:
        reporter.tally.events = 5
        await anyio.sleep(0.25)
        raise LookupError("boom")

    started = anyio.current_time()
    with pytest.raises(LookupError, match="boom"):
        await run_with(reporter, work)
    assert 0.25 == anyio.current_time() - started  # no later than the work's end
    assert reporter.closed
    # drawn at 0, 0.1 and 0.2 s (every REFRESH), then once on closing; two "\r" a drawing
    assert 2 * (3 + 1) == stream.getvalue().count("\r")
    assert stream.getvalue().endswith("\n")
