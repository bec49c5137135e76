"""The ``planner-async`` command: ``demo`` and ``events``.

Exit codes: 0 success, 2 bad arguments, 3 login rejected, 4 rate limited, 5 other API
error, 6 network failure, 130 interrupted. Expected failures print one line, no traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TextIO

import anyio

from ._client import PlannerClient
from ._exceptions import (
    APIConnectionError,
    AuthenticationError,
    PlannerError,
    RateLimitError,
)
from ._models import Event
from ._serialization import to_wire

__all__ = ["EXIT_API", "EXIT_AUTH", "EXIT_NETWORK", "EXIT_RATE_LIMIT", "EXIT_USAGE", "main"]

EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_RATE_LIMIT = 4
EXIT_API = 5
EXIT_NETWORK = 6
EXIT_INTERRUPTED = 130

CSV_COLUMNS = (
    "id",
    "title",
    "start",
    "end",
    "all_day",
    "timezone",
    "status",
    "categories",
    "tags",
    "venue",
    "city",
    "country",
    "organiser",
    "url",
    "updated_at",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, no usage dump
        self.exit(EXIT_USAGE, f"planner-async: error: {message}\n")


def _date_or_datetime(text: str) -> date | datetime:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the date-time a timezone (Z or +hh:mm): {text!r}")
    return value


def _aware_datetime(text: str) -> datetime:
    value = _date_or_datetime(text)
    if not isinstance(value, datetime):
        raise argparse.ArgumentTypeError(f"need a date-time with a timezone, got a date: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = _Parser(prog="planner-async", description="Forward Planner API v2 client.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="run the client against an embedded fake server")
    demo.add_argument("--events", type=int, default=3000, help="events the fake holds")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--gets", type=int, default=100, help="single-event fetches")
    demo.add_argument("--quiet", action="store_true", help="no progress line")

    events = sub.add_parser(
        "events",
        help="list events as JSON lines or CSV",
        description="Credentials come from PLANNER_USERNAME, PLANNER_API_KEY "
        "(and PLANNER_BASE_URL), unless --demo is given.",
    )
    events.add_argument("--from", dest="start", type=_date_or_datetime, metavar="WHEN")
    events.add_argument("--to", dest="end", type=_date_or_datetime, metavar="WHEN")
    events.add_argument("--query", "-q")
    events.add_argument("--category", action="append", dest="categories", metavar="NAME")
    events.add_argument("--country", metavar="CC")
    events.add_argument("--updated-since", type=_aware_datetime, metavar="WHEN")
    events.add_argument(
        "--sort",
        default="startDate",
        choices=["startDate", "-startDate", "updatedAt", "-updatedAt"],
    )
    events.add_argument("--page-size", type=int, default=200)
    events.add_argument("--limit", type=int, default=None, help="stop after this many events")
    events.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    events.add_argument("--demo", action="store_true", help="use the embedded fake server")
    events.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def _csv_row(event: Event) -> list[Any]:
    location = event.location
    return [
        event.id,
        event.title,
        _iso(event.start),
        _iso(event.end),
        event.all_day,
        event.timezone or "",
        event.status or "",
        ";".join(event.categories),
        ";".join(event.tags),
        location.venue if location else "",
        location.city if location else "",
        location.country if location else "",
        event.organiser.name if event.organiser else "",
        event.url or "",
        _iso(event.updated_at),
    ]


def _iso(value: date | datetime | None) -> str:
    return "" if value is None else value.isoformat()


async def _write_events(
    client: PlannerClient, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
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
    writer = csv.writer(out) if args.format == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    count = 0
    async for event in listing:
        if writer is not None:
            writer.writerow(_csv_row(event))
        else:
            out.write(json.dumps(to_wire(event), ensure_ascii=False) + "\n")
        count += 1
        if not args.quiet and count % 200 == 0:
            err.write(f"\r{count} events")
            err.flush()
        if args.limit is not None and count >= args.limit:
            break
    if not args.quiet:
        err.write(f"\r{count} events\n")
    return 0


async def _events_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.demo:
        from ._demo import demo_client

        async with demo_client(faults=False) as (client, _fake):
            return await _write_events(client, args, out, err)
    async with PlannerClient.from_env() as client:
        return await _write_events(client, args, out, err)


async def _demo_command(args: argparse.Namespace, err: TextIO, out: TextIO) -> int:
    from ._demo import run_demo

    summary = await run_demo(
        events=args.events,
        seed=args.seed,
        gets=args.gets,
        progress=None if args.quiet else err,
    )
    out.write("\n".join(summary.lines()) + "\n")
    return 0


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; return the exit code."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.events < 1 or args.gets < 0:
                raise ValueError("--events must be at least 1 and --gets at least 0")
            return anyio.run(_demo_command, args, err, out)
        if args.page_size is not None and args.limit is not None and args.limit < 1:
            raise ValueError("--limit must be at least 1")
        return anyio.run(_events_command, args, out, err)
    except (ValueError, TypeError) as exc:
        err.write(f"planner-async: error: {exc}\n")
        return EXIT_USAGE
    except AuthenticationError as exc:
        err.write(f"planner-async: login failed: {exc}\n")
        return EXIT_AUTH
    except RateLimitError as exc:
        wait = f" (retry after {exc.retry_after:.0f} s)" if exc.retry_after is not None else ""
        err.write(f"planner-async: rate limited{wait}: {exc}\n")
        return EXIT_RATE_LIMIT
    except APIConnectionError as exc:
        err.write(f"planner-async: network failure: {exc}\n")
        return EXIT_NETWORK
    except PlannerError as exc:
        err.write(f"planner-async: API error: {exc}\n")
        return EXIT_API
    except KeyboardInterrupt:
        err.write("planner-async: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `planner-async events | head`
        return 0
