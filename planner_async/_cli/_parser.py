"""The command line's grammar: the parser and its help texts (wrapped at word boundaries).

argparse's own errors print one line and exit 2, as :class:`UsageError` does.
"""

from __future__ import annotations

import argparse
import textwrap
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .._params import MAX_PAGE_SIZE, SORTS
from .._serialization import parse_date_or_datetime
from .._version import __version__
from ._formats import FORMATS
from ._usage import EXIT_USAGE

__all__ = ["build_parser"]

_EVENTS_EXAMPLES = """\
examples:
  planner-async events --demo --limit 20 --format table
  planner-async events --from 2026-12-01 --country GB --format csv -o dec.csv
  planner-async events --query budget --category Politics --category Economy
  planner-async events --updated-since 2026-11-01T00:00:00Z --sort -updatedAt
  planner-async events --from 2026-12-01 --format ics --output planner.ics

Credentials come from PLANNER_USERNAME and PLANNER_API_KEY (and PLANNER_BASE_URL), unless \
--demo is given. A progress line is drawn on stderr when it is a terminal and the events go \
to a file or a pipe.
"""

_DEMO_EXAMPLES = """\
examples:
  planner-async demo                  # 3000 events, 100 gets, live progress
  planner-async demo --events 500 --gets 0 --quiet
  planner-async demo -v 2> demo.log   # the DEBUG log: waits, pauses, tokens
"""

_QUOTA_EXAMPLES = """\
examples:
  planner-async quota                 # credentials from the environment
  planner-async quota --demo --format json
  planner-async quota --watch         # live view of every window, to Ctrl-C
"""

_DOCTOR_EXAMPLES = """\
examples:
  planner-async doctor                # credentials from the environment
  planner-async doctor --demo         # against the embedded fake server

Checks, one line each: the settings found (never the key), the login, the clock against \
the server's Date header, Redis (when PLANNER_REDIS_URL is set) and the quota windows' \
use. Exit code 0 when every check passes, 3 when the login is refused, 1 otherwise.
"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help wrapped at word boundaries: never inside a word, an option or a path."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        for line in text.splitlines():
            lead = indent + line[: len(line) - len(line.lstrip())]
            more = "    " if line[:1].isspace() else ""  # a long example: indent the rest
            wrapped = textwrap.wrap(
                line.strip(),
                width,
                initial_indent=lead,
                subsequent_indent=lead + more,
                break_long_words=False,
                break_on_hyphens=False,
            )
            lines += wrapped or [""]
        return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"planner-async: error: {message}\n")


def _when(text: str) -> date | datetime:
    try:
        value = parse_date_or_datetime(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the date-time a timezone (Z or +hh:mm): {text!r}")
    return value


def _aware_datetime(text: str) -> datetime:
    value = _when(text)
    if not isinstance(value, datetime):
        raise argparse.ArgumentTypeError(f"need a date-time with a timezone, got a date: {text!r}")
    return value


def _common(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    """The options every subcommand takes."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log the client's retries, quota waits, pauses and logins to stderr (DEBUG; "
        "secrets are never logged), and print the traceback of an unexpected error, "
        "e.g. -v 2> run.log",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress display on stderr (it is also off when stderr is not a terminal), "
        "e.g. --quiet",
    )
    parser.add_argument(
        "--session-file",
        metavar="FILE",
        type=Path,
        help="keep the login in FILE (mode 0600) and reuse it in later runs instead of "
        "logging in each time, e.g. --session-file ~/.cache/planner-async/session.json",
    )
    if output:
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            type=Path,
            help="write to FILE instead of stdout; FILE appears only when complete, keeps "
            "the mode of the file it replaces, e.g. --output events.csv",
        )


def _demo_flag(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"use the embedded fake server instead of the real API, e.g. {command} --demo",
    )


def _subparser(sub: Any, name: str, help: str, description: str, epilog: str) -> Any:
    return sub.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=_Help
    )


def _add_events(sub: Any) -> None:
    events = _subparser(
        sub,
        "events",
        "list events as JSON lines, CSV, a table or an iCalendar file",
        "List events, following every page.",
        _EVENTS_EXAMPLES,
    )
    _add_filters(events)
    add = events.add_argument
    add(
        "--sort",
        default="startDate",
        choices=SORTS,
        help="order (default: %(default)s), e.g. --sort -updatedAt for newest changes first",
    )
    add(
        "--page-size",
        type=int,
        default=MAX_PAGE_SIZE,
        metavar="N",
        help=f"events per request, 1 to {MAX_PAGE_SIZE} (default: %(default)s), "
        "e.g. --page-size 50",
    )
    add(
        "--limit", type=int, default=None, metavar="N", help="stop after N events, e.g. --limit 100"
    )
    add(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help="jsonl (default) or csv, with the same camelCase field names; table for "
        "reading; ics for calendar apps (needs planner-async[ics]), e.g. --format csv",
    )
    _demo_flag(events, "events")
    _common(events)


def _add_filters(events: argparse.ArgumentParser) -> None:
    """The options that choose which events are listed."""
    add = events.add_argument
    add(
        "--from",
        dest="start",
        type=_when,
        metavar="WHEN",
        help="events ending on or after WHEN: a date or a date-time with a timezone, "
        "e.g. --from 2026-12-01 or --from 2026-12-01T09:00:00Z",
    )
    add(
        "--to",
        dest="end",
        type=_when,
        metavar="WHEN",
        help="events starting on or before WHEN, e.g. --to 2026-12-31",
    )
    add("--query", "-q", metavar="TEXT", help="full-text search, e.g. --query budget")
    add(
        "--category",
        action="append",
        dest="categories",
        metavar="NAME",
        help="only this category; repeat for any of several, e.g. --category Politics",
    )
    add("--country", metavar="CC", help="ISO 3166 country code, e.g. --country GB")
    add(
        "--updated-since",
        type=_aware_datetime,
        metavar="WHEN",
        help="only events changed since WHEN, e.g. --updated-since 2026-11-01T00:00:00Z",
    )


def _add_demo(sub: Any) -> None:
    demo = _subparser(
        sub,
        "demo",
        "run the client against an embedded fake server (no credentials needed)",
        "Page through a year of events on an embedded fake server with short tokens, tight "
        "quotas and injected faults, then fetch some events one by one.",
        _DEMO_EXAMPLES,
    )
    add = demo.add_argument
    add(
        "--events",
        type=int,
        default=3000,
        metavar="N",
        help="events the fake holds (default: %(default)s), e.g. --events 500",
    )
    add(
        "--seed",
        type=int,
        default=7,
        metavar="N",
        help="seed of the fake's data and faults (default: %(default)s), e.g. --seed 1",
    )
    add(
        "--gets",
        type=int,
        default=100,
        metavar="N",
        help="single-event fetches after the listing (default: %(default)s), e.g. --gets 0",
    )
    _common(demo)


def _add_quota(sub: Any) -> None:
    quota = _subparser(
        sub,
        "quota",
        "print the rate-limit snapshot: per window its limit, use and what is left",
        "Send one small request (a page of one event), so the numbers include the server's "
        "own count, then print the client's rate-limit snapshot; with --watch, keep "
        "drawing it.",
        _QUOTA_EXAMPLES,
    )
    add = quota.add_argument
    add(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json, e.g. --format json",
    )
    add(
        "--watch",
        action="store_true",
        help="a live view of every window (bars, used/limit, next free slot) until Ctrl-C, "
        "e.g. quota --watch",
    )
    add(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between two frames of --watch (default: %(default)s), e.g. --interval 0.5",
    )
    add(
        "--frames",
        type=int,
        default=None,
        metavar="N",
        help="stop --watch after N frames instead of at Ctrl-C, e.g. --frames 1",
    )
    _demo_flag(quota, "quota")
    _common(quota, output=False)


def _add_doctor(sub: Any) -> None:
    doctor = _subparser(
        sub,
        "doctor",
        "check the settings, the login, the clock, Redis and the quota, one line each",
        "Check what a run needs, one line per check; never prints the API key.",
        _DOCTOR_EXAMPLES,
    )
    _demo_flag(doctor, "doctor")
    _common(doctor, output=False)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = _Parser(
        prog="planner-async",
        description="Forward Planner API v2 client: list events, check the quota and the "
        "setup, run a demo.",
        epilog="Run 'planner-async COMMAND --help' for a command's options and examples.",
        formatter_class=_Help,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_demo(sub)
    _add_doctor(sub)
    _add_events(sub)
    _add_quota(sub)
    return parser
