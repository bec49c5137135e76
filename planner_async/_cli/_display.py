"""What the progress display draws: a :class:`Snapshot` of the work, one line of text
(:func:`render_line`), and the two displays that put it on a terminal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TextIO

import attrs

from ._text import printable

__all__ = ["Display", "PlainDisplay", "RichDisplay", "Snapshot", "render_line"]


@attrs.frozen
class Snapshot:
    """One sample of the progress, the input of :func:`render_line`."""

    pages: int
    events: int
    total: int | None
    gets: int
    gets_total: int | None
    retries: int
    elapsed: float
    quota_left: int | None
    waiting_until: datetime | None
    waiting_for: str = "quota"
    quota_eta: float | None = None  # seconds until the quota admits the pages left

    @property
    def eta(self) -> float | None:
        """Seconds left: the rate's estimate, or the quota's forecast when that is later."""
        if not self.total or self.events >= self.total:
            return None
        by_rate = (self.total - self.events) / self.rate if self.rate > 0 else None
        if by_rate is None or self.quota_eta is None:
            return by_rate if by_rate is not None else self.quota_eta
        return max(by_rate, self.quota_eta)

    @property
    def rate(self) -> float:
        """Events per second so far."""
        return self.events / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """Share of the events done, when the total is known."""
        if not self.total:
            return None
        return min(1.0, self.events / self.total)


def render_line(snap: Snapshot, width: int) -> str:
    """The progress as one line of at most ``width`` characters.

    Parts are dropped from the least useful end until the line fits; a line that still
    does not fit is cut with an ellipsis.

    >>> snap = Snapshot(12, 600, 3000, 0, None, 0, 2.0, 38, None)
    >>> render_line(snap, 200)
    '600/3000 events · 300/s · quota 38 left · ETA 8s · 12 pages · 2.0s'
    >>> render_line(snap, 40)
    '600/3000 events · 300/s · quota 38 left'
    """
    events = f"{snap.events}/{snap.total}" if snap.total else f"{snap.events}"
    parts = [f"{events} events"]  # most useful first: the end is dropped to fit
    if snap.waiting_until is not None:
        until = f"{snap.waiting_until:%H:%M:%S}"
        wait = f"waiting for {snap.waiting_for} until {until}"
        if len(parts[0]) + 3 + len(wait) > width:  # a narrow terminal: the short form
            wait = f"waiting until {until}"
        parts.append(wait)
    if snap.gets_total:
        parts.append(f"{snap.gets}/{snap.gets_total} gets")
    parts.append(f"{snap.rate:.0f}/s")
    if snap.quota_left is not None:
        parts.append(f"quota {snap.quota_left} left")
    eta = snap.eta
    if eta is not None:
        parts.append(f"ETA {eta:.0f}s")
    parts.append(f"{snap.pages} pages")
    if snap.retries:
        parts.append(f"{snap.retries} retries")
    parts.append(f"{snap.elapsed:.1f}s")
    while len(parts) > 1 and len(" · ".join(parts)) > width:
        parts.pop()
    line = printable(" · ".join(parts))
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


class Display(Protocol):
    """Where the line goes: :class:`PlainDisplay` or :class:`RichDisplay`."""

    def show(self, snap: Snapshot) -> None:
        """Draw the progress (replacing the previous drawing)."""

    def print_above(self, text: str) -> None:
        """Write ``text`` (e.g. a log line) above the progress, which stays drawn."""

    def close(self, snap: Snapshot) -> None:
        """Draw the final state and leave the cursor on a fresh line."""


class PlainDisplay:
    """A line rewritten in place with ``\\r``, for terminals when rich is not installed."""

    def __init__(self, stream: TextIO, width: Callable[[], int]) -> None:
        self._stream = stream
        self._width = width
        self._drawn = 0

    def show(self, snap: Snapshot) -> None:
        """Draw the line, cut to one column less than the terminal (no auto-wrap)."""
        width = max(10, self._width() - 1)
        prefix = ""
        if snap.fraction is not None and width >= 50:
            size = min(20, width // 8)
            done = round(snap.fraction * size)
            prefix = f"[{'#' * done}{'-' * (size - done)}] {snap.fraction:4.0%} "
        line = prefix + render_line(snap, width - len(prefix))
        self._stream.write("\r" + line.ljust(self._drawn) + "\r" + line)
        self._drawn = len(line)
        self._stream.flush()

    def print_above(self, text: str) -> None:
        """Clear the line, write ``text``; the next ``show`` redraws the progress."""
        text = printable(text, lines=True)
        self._stream.write("\r" + " " * self._drawn + "\r" + text)
        self._drawn = 0
        self._stream.flush()

    def close(self, snap: Snapshot) -> None:
        """Draw the final line and end it."""
        self.show(snap)
        self._stream.write("\n")
        self._stream.flush()


class RichDisplay:
    """A rich ``Live`` line: a bar when the total is known, then the same text."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=stream, highlight=False)
        self._live = Live(
            console=self._console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _renderable(self, snap: Snapshot) -> object:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        width = self._console.width
        fraction = snap.fraction
        bar = 0 if fraction is None or width < 50 else min(30, width // 8)
        text_width = width - (bar + 7 if bar else 0) - 1
        grid = Table.grid(padding=(0, 1))
        cells: list[object] = []
        if bar:
            cells += [
                ProgressBar(total=1.0, completed=fraction or 0.0, width=bar),
                Text(f"{(fraction or 0.0):4.0%}", style="bold"),
            ]
        style = "yellow" if snap.waiting_until is not None else ""
        line = render_line(snap, text_width)
        cells.append(Text(line, style=style, no_wrap=True, overflow="ellipsis"))
        grid.add_row(*cells)  # type: ignore[arg-type]
        return grid

    def show(self, snap: Snapshot) -> None:
        """Redraw the live line."""
        self._live.update(self._renderable(snap), refresh=True)  # type: ignore[arg-type]

    def print_above(self, text: str) -> None:
        """Print ``text`` above the live line."""
        text = printable(text.rstrip("\n"), lines=True)
        self._live.console.print(text, markup=False, highlight=False)

    def close(self, snap: Snapshot) -> None:
        """Draw the final state and stop the live display."""
        self.show(snap)
        self._live.stop()
