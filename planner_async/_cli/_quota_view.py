"""The quota as text: the ``quota`` snapshot (lines or JSON) and the ``--watch`` view."""

from __future__ import annotations

import time
from typing import Any, Protocol, TextIO

import anyio

from .._client import PlannerClient
from .._quota import RateLimitStatus, WindowStatus
from ._progress import is_terminal, terminal_width

__all__ = ["frame_lines", "period_text", "quota_lines", "quota_record", "watch_quota"]


def _next_free(window: WindowStatus) -> str:
    if window.next_free_in is None:
        return "when one completes"
    return "now" if window.next_free_in == 0 else f"in {window.next_free_in:.2f} s"


def quota_lines(status: RateLimitStatus) -> list[str]:
    """The rate-limit snapshot as aligned text lines."""
    lines = [f"{'window':>8}  {'limit':>6}  {'used':>6}  {'left':>6}  next free"]
    for w in status.windows:
        lines.append(
            f"{w.period:>6g} s  {w.limit:>6}  {w.used:>6}  {w.remaining:>6}  {_next_free(w)}"
        )
    lines.append(f"paused for {status.paused_for:.2f} s; {status.waiting} requests waiting")
    return lines


def quota_record(status: RateLimitStatus) -> dict[str, Any]:
    """The rate-limit snapshot as JSON-ready data (camelCase keys, like the wire)."""
    windows = [
        {
            "limit": w.limit,
            "period": w.period,
            "used": w.used,
            "remaining": w.remaining,
            "nextFreeIn": w.next_free_in,
        }
        for w in status.windows
    ]
    return {"windows": windows, "pausedFor": status.paused_for, "waiting": status.waiting}


def lanes_text(status: RateLimitStatus) -> str:
    """The lanes in a few words: ``waiting: 0 interactive, 3 batch (4 kept)``."""
    counts = {lane.name: lane for lane in status.lanes}
    interactive, batch = counts.get("interactive"), counts.get("batch")
    if interactive is None or batch is None:
        return ""
    kept = f" ({interactive.reserved} kept)" if interactive.reserved else ""
    return f"waiting: {interactive.waiting} interactive, {batch.waiting} batch{kept}"


def period_text(seconds: float) -> str:
    """A window's period the short way: ``1 s``, ``5 min``, ``1 h``, ``1 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _bar(fraction: float, size: int) -> str:
    done = round(max(0.0, min(1.0, fraction)) * size)
    return "[" + "#" * done + "-" * (size - done) + "]"


def frame_lines(status: RateLimitStatus, width: int) -> list[str]:
    """One frame of ``quota --watch`` as plain lines of at most ``width`` characters."""
    head = f"quota at {time.strftime('%H:%M:%S')}"
    head += f" · paused {status.paused_for:.1f} s · {status.waiting} waiting"
    size = max(5, min(40, width - 64))  # the rest of a row takes at most 62 columns
    lines = [head[:width]]
    for w in status.windows:
        share = w.used / w.limit if w.limit else 1.0
        used = f"{w.used}/{w.limit}"
        row = f"{period_text(w.period):>7} {_bar(share, size)} {used:>9} {w.remaining:>5} left"
        lines.append(f"{row} · next free {_next_free(w)}"[:width])
    lanes = lanes_text(status)
    return lines + ([f"  {lanes}"[:width]] if lanes else [])


class _View(Protocol):
    def show(self, status: RateLimitStatus) -> None: ...

    def close(self) -> None: ...


class _PlainView:
    """Each frame printed as a block of lines, a blank line between two."""

    def __init__(self, out: TextIO, width: int) -> None:
        self._out, self._width, self._shown = out, width, False

    def show(self, status: RateLimitStatus) -> None:
        lines = frame_lines(status, self._width)
        self._out.write(("\n" if self._shown else "") + "\n".join(lines) + "\n")
        self._out.flush()
        self._shown = True

    def close(self) -> None:
        self._out.flush()


class _RichView:
    """A rich ``Live`` table redrawn in place: a bar, used/limit, left and next free."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=out, highlight=False)
        self._live = Live(console=self._console, auto_refresh=False, transient=False)
        self._live.start()

    def _table(self, status: RateLimitStatus) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        bar = max(5, min(40, self._console.width - 64))  # the other columns take ~64
        table = Table(
            title=f"quota at {time.strftime('%H:%M:%S')}",
            caption=" · ".join(
                part
                for part in (f"paused {status.paused_for:.1f} s", lanes_text(status), "Ctrl-C ends")
                if part
            ),
        )
        for name in ("window", "use", "used/limit", "left", "next free"):
            table.add_column(name, justify="left" if name == "use" else "right", no_wrap=True)
        for w in status.windows:
            table.add_row(
                period_text(w.period),
                ProgressBar(total=float(w.limit or 1), completed=float(w.used), width=bar),
                f"{w.used}/{w.limit}",
                str(w.remaining),
                _next_free(w),
            )
        return table

    def show(self, status: RateLimitStatus) -> None:
        self._live.update(self._table(status), refresh=True)

    def close(self) -> None:
        self._live.stop()


def _open_view(out: TextIO) -> _View:
    if is_terminal(out):
        try:
            return _RichView(out)
        except ImportError:
            pass
    return _PlainView(out, terminal_width(out))


async def watch_quota(
    client: PlannerClient, out: TextIO, *, interval: float, frames: int | None
) -> None:
    """Draw the client's quota every ``interval`` seconds, ``frames`` times or until
    cancelled (Ctrl-C); with rich on a terminal, else as plain lines."""
    view = _open_view(out)
    try:
        shown = 0
        while frames is None or shown < frames:
            if shown:
                await anyio.sleep(interval)
            view.show(await client.fetch_rate_limit())
            shown += 1
    finally:
        view.close()
