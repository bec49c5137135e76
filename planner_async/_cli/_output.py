"""Where a run's text goes: stderr (log lines above the progress display, one-line
messages on their own line), the ``-v`` log handler and its filter, and the output file.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .._logging import LOG_FILTER
from ._progress import Reporter, Tally, open_reporter
from ._text import printable

__all__ = ["Console", "log_filter", "output_file", "verbose"]

log = logging.getLogger("planner_async")


class Console:
    """stderr for one run; holds the run's progress display, if one is drawn.

    Written to as a stream (by the ``-v`` log handler), it puts lines above the display;
    :meth:`message` ends the display's line first, so a message never lands on it.
    """

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.reporter: Reporter | None = None

    def open_reporter(self, tally: Tally, *, quiet: bool) -> Reporter | None:
        """Start this run's progress display on stderr (None when quiet or not a terminal)."""
        self.reporter = open_reporter(self.err, quiet=quiet, tally=tally)
        return self.reporter

    def write(self, text: str) -> None:
        """Write ``text`` (log lines, control characters removed) above the display."""
        text = printable(text, lines=True)
        reporter = self.reporter
        if reporter is not None and not reporter.closed:
            reporter.print_above(text)
        else:
            self.err.write(text)

    def flush(self) -> None:
        """Flush stderr."""
        self.err.flush()

    def end_progress(self) -> None:
        """Draw the display's last state and end its line (nothing when none is drawn)."""
        if self.reporter is not None:
            self.reporter.close()

    def message(self, text: str) -> None:
        """``planner-async: text`` on a line of its own, control characters removed."""
        self.end_progress()
        self.err.write(f"planner-async: {printable(text)}\n")
        self.err.flush()


def log_filter() -> logging.Filter:
    """The filter on the ``-v`` handler: the package's own, which masks the live secrets
    of every open client (API key and tokens), so none reaches the terminal."""
    return LOG_FILTER


@contextmanager
def verbose(console: Console, enabled: bool) -> Iterator[None]:
    """With ``-v``: the ``planner_async`` logger at DEBUG on stderr for the command's run."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(console)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(log_filter())
    previous = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            found = [line.split()[1] for line in status if line.startswith("Umask:")]
        return int(found[0], 8)
    except (OSError, ValueError, IndexError):
        mask = os.umask(0o022)  # elsewhere: set and restore it at once
        os.umask(mask)
        return mask


def _mode_for(path: Path) -> int:
    """The mode FILE gets: the one of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextmanager
def output_file(path: Path | None, out: TextIO) -> Iterator[TextIO]:
    """``out``, or FILE: a regular file is written to a temporary next to it and renamed
    over it once the command succeeds (keeping the replaced file's mode, or following the
    umask); anything else (``/dev/null``, a FIFO) is written in place, never replaced."""
    if path is None:
        yield out
        return
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        return
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.chmod(temp, _mode_for(path))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
