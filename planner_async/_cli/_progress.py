"""The CLI's live progress display on stderr: pages, events, rate, quota left, waits.

A :class:`Tally` counts what happened (fed by the CLI and by the client's hooks); a
:class:`Reporter` samples it with the client's rate-limit snapshot ten times a second and
hands one line of text to a display. With ``rich`` installed the display is a rich
``Live`` line with a bar; without it, a plain line rewritten with ``\\r``. Either way the
line is cut to the terminal width, so it never wraps. :func:`open_reporter` returns None
(no display at all) when stderr is not a terminal or the user asked for quiet.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any, TextIO, TypeVar

import anyio
import attrs

from .._hooks import PauseDetails, QuotaWaitDetails
from .._quota import RateLimitStatus
from .._retry import RetryDetails
from ._display import Display, PlainDisplay, RichDisplay, Snapshot, render_line

__all__ = ["Reporter", "Snapshot", "Tally", "open_reporter", "render_line", "run_with"]

T = TypeVar("T")

REFRESH = 0.1
"""Seconds between two redraws."""


@attrs.define
class Tally:
    """What the command has done so far; the CLI and the hooks add to it."""

    pages: int = 0
    events: int = 0
    total: int | None = None
    gets: int = 0
    gets_total: int | None = None
    retries: int = 0
    pauses: int = 0
    paused_until: float | None = None  # time.monotonic() at the end of a server pause

    def on_retry(self, details: RetryDetails) -> None:
        """``on_retry`` hook: count it."""
        self.retries += 1

    def on_pause(self, details: PauseDetails) -> None:
        """``on_pause`` hook: remember until when every request waits."""
        self.pauses += 1
        until = time.monotonic() + details.seconds
        self.paused_until = max(until, self.paused_until or 0.0)

    def on_quota_wait(self, details: QuotaWaitDetails) -> None:
        """``on_quota_wait`` hook: nothing to count; the snapshot shows the waits live."""

    def hooks(self) -> dict[str, Any]:
        """The :class:`~planner_async.PlannerClient` hook keywords that feed this tally."""
        return {
            "on_retry": self.on_retry,
            "on_quota_wait": self.on_quota_wait,
            "on_pause": self.on_pause,
        }


def _quota_left(status: RateLimitStatus) -> int | None:
    return min((w.remaining for w in status.windows), default=None)


def _quota_free_in(status: RateLimitStatus) -> float | None:
    """Seconds until a request may go, when requests are waiting for quota now."""
    if status.paused_for > 0:
        return status.paused_for
    full = [w for w in status.windows if w.remaining == 0]
    if status.waiting == 0 or not full:
        return None
    # A request needs a slot in every window: it goes when the last full one frees.
    frees = [w.next_free_in for w in full if w.next_free_in is not None]
    return max(frees) if frees else None


class Reporter:
    """Samples a :class:`Tally` and the client's quota and redraws a display.

    ``status`` returns the client's rate-limit snapshot (``lambda: client.rate_limit``).
    Run :meth:`run` in a task group; cancel it when the work is done, then :meth:`close`.
    """

    def __init__(self, display: Display, tally: Tally | None = None) -> None:
        self.tally = tally if tally is not None else Tally()
        self._display = display
        self._status: Callable[[], RateLimitStatus] | None = None
        self._forecast: Callable[[int], Awaitable[float]] | None = None
        self._quota_eta: float | None = None
        self._started = time.monotonic()
        self._closed = False

    def watch(
        self,
        status: Callable[[], RateLimitStatus],
        forecast: Callable[[int], Awaitable[float]] | None = None,
    ) -> None:
        """Read the quota from ``status()`` from now on; with ``forecast``
        (``client.forecast``), the ETA also waits for the quota the pages left need."""
        self._status = status
        self._forecast = forecast

    async def _refresh_forecast(self) -> None:
        tally, forecast = self.tally, self._forecast
        if forecast is None or not tally.total or not tally.pages or tally.events <= 0:
            return
        per_page = tally.events / tally.pages
        pages_left = math.ceil(max(0, tally.total - tally.events) / per_page)
        if pages_left == 0:
            self._quota_eta = None
            return
        seconds = await forecast(pages_left)
        self._quota_eta = seconds if math.isfinite(seconds) else None

    def snapshot(self) -> Snapshot:
        """The progress now."""
        tally = self.tally
        now = time.monotonic()
        quota_left: int | None = None
        free_in: float | None = None
        waiting_for = "quota"
        if self._status is not None:
            status = self._status()
            quota_left, free_in = _quota_left(status), _quota_free_in(status)
        if tally.paused_until is not None and tally.paused_until > now:
            free_in, waiting_for = tally.paused_until - now, "the server (429)"
        waiting = (
            None if free_in is None else datetime.now().astimezone() + timedelta(seconds=free_in)
        )
        return Snapshot(
            pages=tally.pages,
            events=tally.events,
            total=tally.total,
            gets=tally.gets,
            gets_total=tally.gets_total,
            retries=tally.retries,
            elapsed=now - self._started,
            quota_left=quota_left,
            waiting_until=waiting,
            waiting_for=waiting_for,
            quota_eta=self._quota_eta,
        )

    async def run(self) -> None:
        """Redraw every :data:`REFRESH` seconds until cancelled."""
        while True:
            await self._refresh_forecast()
            self._display.show(self.snapshot())
            await anyio.sleep(REFRESH)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def print_above(self, text: str) -> None:
        """Write a line (a log record) above the display."""
        if not self._closed:
            self._display.print_above(text)

    def close(self) -> None:
        """Draw the final state; later calls do nothing."""
        if not self._closed:
            self._closed = True
            self._display.close(self.snapshot())


async def run_with(reporter: Reporter | None, work: Callable[[], Awaitable[T]]) -> T:
    """Await ``work()`` while ``reporter`` (if any) redraws; close the display after.

    An exception from ``work`` comes out as itself, not wrapped in an exception group.
    """
    if reporter is None:
        return await work()
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(reporter.run)
        try:
            result = await work()
        except Exception as exc:  # re-raised below, outside the task group
            failure = exc
        finally:
            tg.cancel_scope.cancel()
    reporter.close()
    if failure is not None:
        raise failure
    return result


def terminal_width(stream: TextIO) -> int:
    """The width of the terminal ``stream`` is on (80 when unknown)."""
    with suppress(AttributeError, OSError, ValueError):
        return os.get_terminal_size(stream.fileno()).columns
    return shutil.get_terminal_size((80, 24)).columns


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def open_reporter(
    stream: TextIO, *, quiet: bool, tally: Tally | None = None, plain: bool = False
) -> Reporter | None:
    """A reporter of ``tally`` drawing on ``stream``; None when not a terminal or ``quiet``.

    Uses rich when it is installed, unless ``plain``.
    """
    if quiet or not is_terminal(stream):
        return None
    display: Display
    if plain:
        display = PlainDisplay(stream, lambda: terminal_width(stream))
    else:
        try:
            display = RichDisplay(stream)
        except ImportError:
            display = PlainDisplay(stream, lambda: terminal_width(stream))
    return Reporter(display, tally)
