"""The ``planner-async`` command: ``demo``, ``events`` and ``quota``.

Exit codes: 0 success, 2 bad arguments, 3 login rejected, 4 rate limited, 5 other API
error, 6 network failure, 130 interrupted. Expected failures print one line, no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import anyio

from ._client import DEFAULT_BASE_URL, PlannerClient
from ._exceptions import APIConnectionError, AuthenticationError, PlannerError, RateLimitError
from ._file_store import FileTokenStore
from ._formats import FORMATS, EventWriter, check_format, make_writer
from ._models import EventPage
from ._params import MAX_PAGE_SIZE, SORTS
from ._progress import Reporter, Tally, is_terminal, open_reporter, run_with, terminal_width
from ._quota import RateLimitStatus
from ._serialization import parse_date_or_datetime
from ._version import __version__

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_INTERRUPTED",
    "EXIT_NETWORK",
    "EXIT_RATE_LIMIT",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_RATE_LIMIT = 4
EXIT_API = 5
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

log = logging.getLogger("planner_async")

_EVENTS_EXAMPLES = """\
examples:
  planner-async events --demo --limit 20 --format table
  planner-async events --from 2026-12-01 --to 2026-12-31 --country GB --format csv -o dec.csv
  planner-async events --query budget --category Politics --category Economy
  planner-async events --updated-since 2026-11-01T00:00:00Z --sort -updatedAt
  planner-async events --from 2026-12-01 --format ics --output planner.ics

Credentials come from PLANNER_USERNAME and PLANNER_API_KEY (and PLANNER_BASE_URL),
unless --demo is given. A progress line is drawn on stderr when it is a terminal and
the events go to a file or a pipe.
"""

_DEMO_EXAMPLES = """\
examples:
  planner-async demo                      # 3000 events, 100 single fetches, live progress
  planner-async demo --events 500 --gets 0 --quiet
  planner-async demo -v 2> demo.log       # the client's DEBUG log: waits, pauses, tokens
"""

_QUOTA_EXAMPLES = """\
examples:
  planner-async quota                     # with PLANNER_USERNAME / PLANNER_API_KEY set
  planner-async quota --demo --format json
"""


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
        help="log the client's retries, quota waits, pauses and logins to stderr "
        "(DEBUG; secrets are never logged), e.g. -v 2> run.log",
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
            help="write to FILE instead of stdout; FILE appears only when complete, "
            "e.g. --output events.csv",
        )


def _add_events(sub: Any) -> None:
    events = sub.add_parser(
        "events",
        help="list events as JSON lines, CSV, a table or an iCalendar file",
        description="List events, following every page.",
        epilog=_EVENTS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    add(
        "--demo",
        action="store_true",
        help="use the embedded fake server instead of the real API, e.g. events --demo",
    )
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
    demo = sub.add_parser(
        "demo",
        help="run the client against an embedded fake server (no credentials needed)",
        description="Page through a year of events on an embedded fake server with short "
        "tokens, tight quotas and injected faults, then fetch some events one by one.",
        epilog=_DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--events",
        type=int,
        default=3000,
        metavar="N",
        help="events the fake holds (default: %(default)s), e.g. --events 500",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=7,
        metavar="N",
        help="seed of the fake's data and faults (default: %(default)s), e.g. --seed 1",
    )
    demo.add_argument(
        "--gets",
        type=int,
        default=100,
        metavar="N",
        help="single-event fetches after the listing (default: %(default)s), e.g. --gets 0",
    )
    _common(demo)


def _add_quota(sub: Any) -> None:
    quota = sub.add_parser(
        "quota",
        help="print the rate-limit snapshot: per window its limit, use and what is left",
        description="Send one small request (a page of one event), so the numbers include "
        "the server's own count, then print the client's rate-limit snapshot.",
        epilog=_QUOTA_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    quota.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json, e.g. --format json",
    )
    quota.add_argument(
        "--demo", action="store_true", help="ask the embedded fake server, e.g. quota --demo"
    )
    _common(quota)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = _Parser(
        prog="planner-async",
        description="Forward Planner API v2 client: list events, check the quota, run a demo.",
        epilog="Run 'planner-async COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_demo(sub)
    _add_events(sub)
    _add_quota(sub)
    return parser


# -- commands ------------------------------------------------------------------------------


@asynccontextmanager
async def _client(
    args: argparse.Namespace, tally: Tally
) -> AsyncIterator[tuple[PlannerClient, str]]:
    """The client the command talks through, and the API's host name (for iCalendar UIDs)."""
    if args.demo:
        from ._demo import demo_client

        async with demo_client(faults=False, **tally.hooks()) as (client, fake):
            yield client, urlsplit(fake.base_url).hostname or "localhost"
        return
    base_url = os.environ.get("PLANNER_BASE_URL") or DEFAULT_BASE_URL
    session_file = getattr(args, "session_file", None)
    store = None if session_file is None else FileTokenStore(session_file)
    async with PlannerClient.from_env(token_store=store, **tally.hooks()) as client:
        yield client, urlsplit(base_url).hostname or "localhost"


async def _copy_events(
    client: PlannerClient, args: argparse.Namespace, writer: EventWriter, tally: Tally
) -> None:
    """Page through the listing, writing each event and counting pages for the display."""
    listing = client.events.list(
        start=args.start,
        end=args.end,
        query=args.query,
        categories=args.categories,
        country=args.country,
        updated_since=args.updated_since,
        sort=args.sort,
        page_size=args.page_size,
    )
    pages = listing.pages()
    previous: frozenset[int] = frozenset()
    try:
        async for page in pages:
            tally.pages += 1
            if tally.pages == 1 and page.total_items is not None:
                tally.total = min(page.total_items, args.limit or page.total_items)
            if _write_page(page, previous, writer, tally, args.limit):
                return
            previous = frozenset(event.id for event in page.items)
    finally:
        aclose = getattr(pages, "aclose", None)  # an async generator: close it now
        if aclose is not None:
            await aclose()


def _write_page(
    page: EventPage,
    previous: frozenset[int],
    writer: EventWriter,
    tally: Tally,
    limit: int | None,
) -> bool:
    """Write the page's events; True once ``limit`` events are written."""
    for event in page.items:
        # As iterating the listing does: skip an event seen on the previous page (it
        # moved across the page boundary between two requests).
        if event.id not in previous:
            writer.write(event)
            tally.events += 1
        if limit is not None and tally.events >= limit:
            return True
    return False


async def _events_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    width = terminal_width(out) if is_terminal(out) else None
    tally = Tally()
    async with _client(args, tally) as (client, host):
        writer = make_writer(args.format, out, width=width, uid_domain=host)
        # Events printed on the terminal are progress enough: no display over them.
        reporter = _reporter(err, tally, quiet=args.quiet or width is not None)
        if reporter is not None:
            reporter.watch(lambda: client.rate_limit)
        await run_with(reporter, lambda: _copy_events(client, args, writer, tally))
        note = writer.close()
    if note is not None:
        err.write(f"planner-async: {note}\n")
    return 0


async def _demo_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._demo import run_demo

    reporter = _reporter(err, Tally(), quiet=args.quiet)
    summary = await run_demo(events=args.events, seed=args.seed, gets=args.gets, reporter=reporter)
    out.write("\n".join(summary.lines()) + "\n")
    return 0


def quota_lines(status: RateLimitStatus) -> list[str]:
    """The rate-limit snapshot as aligned text lines."""
    lines = [f"{'window':>8}  {'limit':>6}  {'used':>6}  {'left':>6}  next free"]
    for w in status.windows:
        free = "now" if w.next_free_in == 0 else "when one completes"
        if w.next_free_in:
            free = f"in {w.next_free_in:.2f} s"
        lines.append(f"{w.period:>6g} s  {w.limit:>6}  {w.used:>6}  {w.remaining:>6}  {free}")
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


async def _quota_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    async with _client(args, Tally()) as (client, _host):
        async for _page in client.events.list(page_size=1).pages():
            break  # one request: the server's X-Rate-Limit headers update the count
        status = client.rate_limit
    if args.format == "json":
        out.write(json.dumps(quota_record(status)) + "\n")
    else:
        out.write("\n".join(quota_lines(status)) + "\n")
    return 0


def _reporter(err: TextIO, tally: Tally, *, quiet: bool) -> Reporter | None:
    reporter = open_reporter(err, quiet=quiet, tally=tally)
    _LogSink.active = reporter  # -v log lines go above it
    return reporter


# -- logging, output file, errors ----------------------------------------------------------


class _LogSink:
    """Where ``-v`` log lines go: above the progress display while one is drawn."""

    active: Reporter | None = None

    def __init__(self, err: TextIO) -> None:
        self._err = err

    def write(self, text: str) -> None:
        reporter = _LogSink.active
        if reporter is not None and not reporter.closed:
            reporter.print_above(text)
        else:
            self._err.write(text)

    def flush(self) -> None:
        self._err.flush()


class _Redact(logging.Filter):
    """Belt and braces: the API key never reaches the terminal, even in a hook's message."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


@contextmanager
def _verbose(err: TextIO, enabled: bool) -> Iterator[None]:
    """With ``-v``: the ``planner_async`` logger at DEBUG on stderr for the command's run."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(_LogSink(err))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_Redact([os.environ.get("PLANNER_API_KEY", "")]))
    previous = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


@contextmanager
def _output(path: Path | None, out: TextIO) -> Iterator[TextIO]:
    """``out``, or FILE: a regular file is written to a temporary next to it and renamed
    over it once the command succeeds; anything else (``/dev/null``, a FIFO, ``/dev/stdout``)
    is opened and written in place, never replaced."""
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
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _check(args: argparse.Namespace) -> None:
    if args.command == "demo" and (args.events < 1 or args.gets < 0):
        raise ValueError("--events must be at least 1 and --gets at least 0")
    if args.command == "events" and args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    if args.command == "events":
        check_format(args.format)  # e.g. ics without icalendar: fail before any request
    if getattr(args, "output", None) is not None and args.output.is_dir():
        raise ValueError(f"--output {args.output} is a directory")


_COMMANDS = {"demo": _demo_command, "events": _events_command, "quota": _quota_command}


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside (nested) exception groups of a single failure."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _failure(exc: BaseException, err: TextIO) -> int:
    """Print one line for an expected failure; return the exit code (re-raise others)."""
    if isinstance(exc, ValueError | TypeError):
        err.write(f"planner-async: error: {exc}\n")
        return EXIT_USAGE
    if isinstance(exc, AuthenticationError):
        err.write(f"planner-async: login failed: {exc}\n")
        return EXIT_AUTH
    if isinstance(exc, RateLimitError):
        wait = f" (retry after {exc.retry_after:.0f} s)" if exc.retry_after is not None else ""
        err.write(f"planner-async: rate limited{wait}: {exc}\n")
        return EXIT_RATE_LIMIT
    if isinstance(exc, APIConnectionError):
        err.write(f"planner-async: network failure: {exc}\n")
        return EXIT_NETWORK
    if isinstance(exc, PlannerError):
        err.write(f"planner-async: API error: {exc}\n")
        return EXIT_API
    if isinstance(exc, KeyboardInterrupt):
        err.write("planner-async: interrupted\n")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):  # e.g. `planner-async events | head`
        return 0
    raise exc


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    args = build_parser().parse_args(argv)
    try:
        _check(args)
        with _verbose(err, args.verbose), _output(getattr(args, "output", None), out) as stream:
            return anyio.run(_COMMANDS[args.command], args, stream, err)
    except BaseException as exc:  # sorted out by _failure
        return _failure(_leaf(exc), err)
    finally:
        _LogSink.active = None
