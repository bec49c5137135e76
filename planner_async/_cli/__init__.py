"""The ``planner-async`` command: ``demo``, ``doctor``, ``events`` and ``quota``.

Modules, one job each: ``_parser`` (the grammar, help, argument checks raising
:class:`UsageError`), ``_commands`` (demo, events, quota), ``_doctor``, ``_quota_view``
(the snapshot and ``--watch``), ``_listing`` (walking pages), ``_output`` (stderr, the
``-v`` log, the output file), ``_progress`` (the live display), ``_formats`` (JSON lines,
CSV, table, iCalendar), ``_demo`` (the embedded fake), ``_text`` (terminal-safe text) and
``_main`` (exit codes).

Exit codes: 0 success, 1 unexpected failure (``-v`` prints the traceback), 2 bad
arguments or settings (:class:`UsageError` only), 3 login rejected, 4 rate limited,
5 other API error, 6 network failure, 130 interrupted. Every failure prints one line.
"""

from __future__ import annotations

from ._main import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_RATE_LIMIT,
    EXIT_USAGE,
    main,
)
from ._parser import build_parser
from ._usage import UsageError

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_RATE_LIMIT",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
]
